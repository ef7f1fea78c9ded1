//! A vector env's step infos as Gymnasium's vector info: one dict whose
//! values are arrays over the envs, each key `k` with a boolean mask `_k`
//! saying which envs have it. Nested structs become nested dicts; absent
//! options (and NaN, which serde writes as null) are masked out.

use numpy::IntoPyArray;
use numpy::ndarray::Array2;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use serde_json::{Map, Value};

use crate::env::StepInfo;

/// Columns of the infos of the envs that stepped (`stepped[i]`); envs reset
/// instead (next-step autoreset) have every mask false.
pub fn columns<'py>(py: Python<'py>, infos: &[StepInfo], stepped: &[bool]) -> PyResult<Bound<'py, PyDict>> {
    let values: Vec<Option<Value>> = infos
        .iter()
        .zip(stepped)
        .map(|(info, &stepped)| {
            stepped.then(|| {
                let mut value = serde_json::to_value(info).expect("StepInfo serialises");
                value["is_success"] = Value::Bool(info.success);
                value
            })
        })
        .collect();
    let rows: Vec<Option<&Map<String, Value>>> = values.iter().map(|v| v.as_ref().and_then(Value::as_object)).collect();
    object_columns(py, &rows)
}

fn object_columns<'py>(py: Python<'py>, rows: &[Option<&Map<String, Value>>]) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    let mut keys: Vec<&String> = rows.iter().flatten().flat_map(|m| m.keys()).collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        let cells: Vec<Option<&Value>> = rows.iter().map(|row| row.and_then(|m| m.get(key)).filter(|v| !v.is_null())).collect();
        let Some(first) = cells.iter().flatten().next() else { continue };
        let column = match first {
            Value::Bool(_) => cells.iter().map(|c| c.and_then(Value::as_bool).unwrap_or(false)).collect::<Vec<_>>().into_pyarray(py).into_any(),
            Value::Number(_) if cells.iter().flatten().all(|v| v.is_i64() || v.is_u64()) => {
                cells.iter().map(|c| c.and_then(Value::as_i64).unwrap_or(0)).collect::<Vec<_>>().into_pyarray(py).into_any()
            }
            Value::Number(_) => cells.iter().map(|c| c.and_then(Value::as_f64).unwrap_or(f64::NAN)).collect::<Vec<_>>().into_pyarray(py).into_any(),
            Value::String(_) => {
                let strings: Vec<Py<PyAny>> = cells.iter().map(|c| PyString::new(py, c.and_then(Value::as_str).unwrap_or("")).into_any().unbind()).collect();
                strings.into_pyarray(py).into_any()
            }
            Value::Array(first) => {
                let width = first.len();
                let mut flat = Vec::with_capacity(cells.len() * width);
                for c in &cells {
                    let numbers = c.and_then(Value::as_array).filter(|a| a.len() == width);
                    flat.extend((0..width).map(|k| numbers.and_then(|a| a[k].as_f64()).unwrap_or(f64::NAN)));
                }
                Array2::from_shape_vec((cells.len(), width), flat).expect("rows of one width").into_pyarray(py).into_any()
            }
            Value::Object(_) => {
                let inner: Vec<Option<&Map<String, Value>>> = cells.iter().map(|c| c.and_then(Value::as_object)).collect();
                object_columns(py, &inner)?.into_any()
            }
            Value::Null => unreachable!("nulls are filtered out"),
        };
        dict.set_item(key, column)?;
        let mask: Vec<bool> = cells.iter().map(Option::is_some).collect();
        dict.set_item(format!("_{key}"), mask.into_pyarray(py))?;
    }
    Ok(dict)
}
