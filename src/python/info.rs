//! A vector env's step infos as Gymnasium's vector info: one dict whose
//! values are arrays over the envs, each key `k` with a boolean mask `_k`
//! saying which envs have it. Nested structs become nested dicts; absent
//! options (and NaN, which serde writes as null) are masked out.
//!
//! Gathering the columns needs no Python, so it runs with the GIL released
//! and in parallel; only making the numpy arrays holds the GIL.

use numpy::IntoPyArray;
use numpy::ndarray::Array2;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use rayon::prelude::*;
use serde_json::{Map, Value};

use crate::env::StepInfo;

/// One info key over the envs.
pub enum Column {
    Bool(Vec<bool>),
    Int(Vec<i64>),
    Float(Vec<f64>),
    Text(Vec<String>),
    /// Fixed-length arrays of numbers: (envs × width), row-major.
    Rows(Vec<f64>, usize),
    Dict(Columns),
}

/// Keys in order, each with its column and its mask.
pub struct Columns(Vec<(String, Column, Vec<bool>)>);

/// The columns of the infos of the envs with `include[i]`; the others have
/// every mask false. Call it from inside a rayon pool to share its threads.
pub fn gather(infos: &[StepInfo], include: &[bool]) -> Columns {
    let values: Vec<Option<Value>> = infos
        .par_iter()
        .zip(include)
        .map(|(info, &included)| {
            included.then(|| {
                let mut value = serde_json::to_value(info).expect("StepInfo serialises");
                value["is_success"] = Value::Bool(info.success);
                value
            })
        })
        .collect();
    let rows: Vec<Option<&Map<String, Value>>> = values.iter().map(|v| v.as_ref().and_then(Value::as_object)).collect();
    object_columns(&rows)
}

fn object_columns(rows: &[Option<&Map<String, Value>>]) -> Columns {
    let mut keys: Vec<&String> = rows.iter().flatten().flat_map(|m| m.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        let cells: Vec<Option<&Value>> = rows.iter().map(|row| row.and_then(|m| m.get(key)).filter(|v| !v.is_null())).collect();
        let Some(first) = cells.iter().flatten().next() else { continue };
        let column = match first {
            Value::Bool(_) => Column::Bool(cells.iter().map(|c| c.and_then(Value::as_bool).unwrap_or(false)).collect()),
            Value::Number(_) if cells.iter().flatten().all(|v| v.is_i64() || v.is_u64()) => {
                Column::Int(cells.iter().map(|c| c.and_then(Value::as_i64).unwrap_or(0)).collect())
            }
            Value::Number(_) => Column::Float(cells.iter().map(|c| c.and_then(Value::as_f64).unwrap_or(f64::NAN)).collect()),
            Value::String(_) => Column::Text(cells.iter().map(|c| c.and_then(Value::as_str).unwrap_or("").to_string()).collect()),
            Value::Array(first) => {
                let width = first.len();
                let mut flat = Vec::with_capacity(cells.len() * width);
                for c in &cells {
                    let numbers = c.and_then(Value::as_array).filter(|a| a.len() == width);
                    flat.extend((0..width).map(|k| numbers.and_then(|a| a[k].as_f64()).unwrap_or(f64::NAN)));
                }
                Column::Rows(flat, width)
            }
            Value::Object(_) => {
                let inner: Vec<Option<&Map<String, Value>>> = cells.iter().map(|c| c.and_then(Value::as_object)).collect();
                Column::Dict(object_columns(&inner))
            }
            Value::Null => unreachable!("nulls are filtered out"),
        };
        out.push((key.clone(), column, cells.iter().map(Option::is_some).collect()));
    }
    Columns(out)
}

impl Columns {
    /// Gymnasium's vector info dict.
    pub fn into_py(self, py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
        let dict = PyDict::new(py);
        for (key, column, mask) in self.0 {
            let envs = mask.len();
            let value = match column {
                Column::Bool(v) => v.into_pyarray(py).into_any(),
                Column::Int(v) => v.into_pyarray(py).into_any(),
                Column::Float(v) => v.into_pyarray(py).into_any(),
                Column::Text(v) => v.iter().map(|s| PyString::new(py, s).into_any().unbind()).collect::<Vec<Py<PyAny>>>().into_pyarray(py).into_any(),
                Column::Rows(flat, width) => Array2::from_shape_vec((envs, width), flat).expect("rows of one width").into_pyarray(py).into_any(),
                Column::Dict(inner) => inner.into_py(py)?.into_any(),
            };
            dict.set_item(&key, value)?;
            dict.set_item(format!("_{key}"), mask.into_pyarray(py))?;
        }
        Ok(dict)
    }
}
