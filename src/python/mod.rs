//! Python bindings (feature `python`): the `gesture_lab._core` extension
//! module, which the Python package `gesture_lab` (in `python/`) wraps into
//! Gymnasium envs.
//!
//! A front over [`Env`] and [`VecEnv`], never a second implementation: the
//! same seeds give the same trajectories as the CLI. Envs step with the GIL
//! released. Every crate error becomes a Python exception carrying the CLI's
//! message, and a panic becomes a `RuntimeError` instead of unwinding into
//! the interpreter.

mod info;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use clap::ValueEnum;

use crate::env::{AutoReset, Env, StepInfo, VecEnv};
use crate::error::Error;
use crate::policy::LoadedPolicy;
use crate::policy::training::{self, TrainRequest};
use crate::rl::{Algo, sac};
use crate::rng::episode_seed;
use crate::task::{Observation, TASKS, TaskConfig, TaskSpec};

/// A crate error as the Python exception a user expects: files → `OSError`,
/// everything else (bad values, names, shapes) → `ValueError`.
fn to_py_err(e: Error) -> PyErr {
    match e {
        Error::Io { .. } => PyOSError::new_err(e.to_string()),
        _ => PyValueError::new_err(e.to_string()),
    }
}

/// Runs `work`, turning its errors into Python exceptions and a panic into a
/// `RuntimeError` (a panic reaching pyo3 would be a `BaseException` that
/// `except Exception` misses).
fn guarded<T>(work: impl FnOnce() -> crate::Result<T>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(work)) {
        Ok(result) => result.map_err(to_py_err),
        Err(panic) => {
            let message = panic.downcast_ref::<String>().map(String::as_str).or_else(|| panic.downcast_ref::<&str>().copied()).unwrap_or("unknown panic");
            Err(PyRuntimeError::new_err(format!("gesture-lab internal error (a bug, please report it): {message}")))
        }
    }
}

/// A JSON object (a Python dict, serialised) as a TOML table; errors name `what`.
fn json_table(json: &str, what: &str) -> crate::Result<toml::Table> {
    let bad = |m: String| Error::Config { origin: what.into(), message: m };
    let value: serde_json::Value = serde_json::from_str(json).map_err(|e| bad(e.to_string()))?;
    toml::Table::try_from(value).map_err(|e| bad(format!("{e} (a value TOML cannot hold: None, say)")))
}

/// A JSON object (a Python dict, serialised) as TOML text.
fn json_to_toml(json: &str, what: &str) -> crate::Result<String> {
    toml::to_string(&json_table(json, what)?).map_err(|e| Error::Config { origin: what.into(), message: e.to_string() })
}

/// The task config a Python caller asked for. `overrides` is a JSON object
/// of tables (the Python side serialises its dict), merged over the config.
fn task_config(
    task: Option<String>,
    config_file: Option<PathBuf>,
    overrides: Option<&str>,
    perturb: Option<String>,
    grasp: Option<&str>,
) -> crate::Result<TaskConfig> {
    let overrides = overrides.map(|json| json_table(json, "config overrides")).transpose()?;
    let grasp = grasp.map(str::parse).transpose()?;
    TaskSpec { task, config_file, overrides, perturb, grasp }.load()
}

/// A numpy array of `v`: copied into numpy's own memory, which for vectors
/// this short is cheaper than handing numpy the `Vec` through a capsule.
fn vector<'py>(py: Python<'py>, v: Vec<f32>) -> Bound<'py, PyArray1<f32>> {
    PyArray1::from_slice(py, &v)
}

/// An observation as Python receives it: (observation, achieved_goal, desired_goal).
fn observation_tuple<'py>(py: Python<'py>, o: Observation) -> PyResult<Bound<'py, PyTuple>> {
    PyTuple::new(py, [vector(py, o.observation), vector(py, o.achieved_goal), vector(py, o.desired_goal)])
}

/// A step's info as a dict: every `StepInfo` field, plus Gymnasium's `is_success`.
fn info_dict<'py>(py: Python<'py>, info: &StepInfo) -> PyResult<Bound<'py, PyDict>> {
    let dict = pythonize::pythonize(py, info)?.cast_into::<PyDict>()?;
    dict.set_item("is_success", info.success)?;
    Ok(dict)
}

/// Checks a batch of goals: (B, goal_dim), or (goal_dim,) for one.
fn goal_rows<'a>(name: &str, goals: &'a PyReadonlyArray2<'_, f32>, goal_dim: usize) -> PyResult<&'a [f32]> {
    let shape = goals.shape();
    if shape[1] != goal_dim {
        return Err(PyValueError::new_err(format!("{name} has shape {shape:?}: each goal has {goal_dim} numbers")));
    }
    goals.as_slice().map_err(|e| PyValueError::new_err(format!("{name}: {e}")))
}

/// The rewards of reaching `achieved` when `desired` was asked, less each
/// transition's action penalty: a step's reward, recomputed bit for bit.
fn rewards(env: &Env, achieved: &PyReadonlyArray2<'_, f32>, desired: &PyReadonlyArray2<'_, f32>, penalties: &PyReadonlyArray1<'_, f32>) -> PyResult<Vec<f32>> {
    let g = env.goal_dim();
    let (a, d) = (goal_rows("achieved_goal", achieved, g)?, goal_rows("desired_goal", desired, g)?);
    let p = penalties.as_slice().map_err(|e| PyValueError::new_err(format!("action penalties: {e}")))?;
    let rows = a.len() / g;
    if d.len() != a.len() || p.len() != rows {
        return Err(PyValueError::new_err(format!(
            "{rows} achieved goals, {} desired goals and {} action penalties: the counts must match",
            d.len() / g,
            p.len()
        )));
    }
    let task = env.task();
    Ok(a.chunks(g).zip(d.chunks(g)).zip(p).map(|((a, d), p)| task.compute_reward(a, d) - p).collect())
}

/// One env (`gesture_lab._core.Env`); the Gymnasium class wraps it.
#[pyclass(name = "Env", module = "gesture_lab._core")]
struct PyEnv {
    env: Env,
}

#[pymethods]
impl PyEnv {
    #[new]
    #[pyo3(signature = (task=None, config_file=None, overrides=None, perturb=None, grasp=None))]
    fn new(task: Option<String>, config_file: Option<PathBuf>, overrides: Option<&str>, perturb: Option<String>, grasp: Option<&str>) -> PyResult<Self> {
        guarded(|| Ok(Self { env: Env::new(task_config(task, config_file, overrides, perturb, grasp)?)? }))
    }

    #[getter]
    fn task(&self) -> String {
        self.env.config().task.clone()
    }

    #[getter]
    fn observation_dim(&self) -> usize {
        self.env.observation_dim()
    }

    #[getter]
    fn goal_dim(&self) -> usize {
        self.env.goal_dim()
    }

    #[getter]
    fn action_dim(&self) -> usize {
        self.env.action_dim()
    }

    /// The episode length (control steps) after which an episode is truncated.
    #[getter]
    fn max_episode_steps(&self) -> usize {
        self.env.config().episode.steps
    }

    /// Seconds of simulated time per control step.
    #[getter]
    fn control_period(&self) -> f64 {
        self.env.config().physics.control_period()
    }

    /// The resolved task config, as TOML (what `--task-config` would take).
    fn config_toml(&self) -> PyResult<String> {
        toml::to_string(self.env.config()).map_err(|e| PyValueError::new_err(e.to_string()))
    }

    /// Starts the episode the CLI's `rollout --seed seed` starts with when
    /// `episode` is 0, and its `episode`-th one after.
    #[pyo3(signature = (seed, episode=0))]
    fn reset<'py>(&mut self, py: Python<'py>, seed: u64, episode: u64) -> PyResult<Bound<'py, PyTuple>> {
        let env = &mut self.env;
        let observation = py.detach(|| guarded(|| env.reset(episode_seed(seed, 0, episode))))?;
        observation_tuple(py, observation)
    }

    /// One control step: (observation, achieved, desired, reward, terminated, truncated, info).
    fn step<'py>(&mut self, py: Python<'py>, action: PyReadonlyArray1<'py, f32>) -> PyResult<Bound<'py, PyTuple>> {
        let action = action.as_slice().map_err(|e| PyValueError::new_err(format!("action: {e}")))?.to_vec();
        let env = &mut self.env;
        let step = py.detach(|| guarded(|| env.step(&action)))?;
        let (o, a, d) = (vector(py, step.observation.observation), vector(py, step.observation.achieved_goal), vector(py, step.observation.desired_goal));
        let info = info_dict(py, &step.info)?;
        PyTuple::new(
            py,
            [
                o.into_any(),
                a.into_any(),
                d.into_any(),
                step.reward.into_pyobject(py)?.into_any(),
                pybool(py, step.terminated),
                pybool(py, step.truncated),
                info.into_any(),
            ],
        )
    }

    /// Rewards for (B, goal_dim) goal pairs, less (B,) action penalties.
    fn compute_reward<'py>(
        &self,
        py: Python<'py>,
        achieved: PyReadonlyArray2<'py, f32>,
        desired: PyReadonlyArray2<'py, f32>,
        penalties: PyReadonlyArray1<'py, f32>,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        Ok(vector(py, rewards(&self.env, &achieved, &desired, &penalties)?))
    }

    /// The task's scripted oracle's action for the current state.
    fn oracle_action<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<f32>>> {
        if !self.env.is_reset() {
            return Err(PyValueError::new_err("oracle_action called before reset"));
        }
        let env = &self.env;
        Ok(vector(py, guarded(|| Ok(env.oracle_action()))?))
    }
}

fn pybool(py: Python<'_>, b: bool) -> Bound<'_, PyAny> {
    pyo3::types::PyBool::new(py, b).to_owned().into_any()
}

/// N envs stepped in parallel (`gesture_lab._core.VecEnv`): the rayon
/// [`VecEnv`] the trainers use, with the GIL released while it steps.
#[pyclass(name = "VecEnv", module = "gesture_lab._core")]
struct PyVecEnv {
    envs: VecEnv,
}

#[pymethods]
impl PyVecEnv {
    /// `threads = 0`: one per core. `autoreset`: "next-step" or "same-step".
    #[new]
    #[pyo3(signature = (num_envs, task=None, config_file=None, overrides=None, perturb=None, grasp=None, seed=0, threads=0, autoreset="next-step"))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        num_envs: usize,
        task: Option<String>,
        config_file: Option<PathBuf>,
        overrides: Option<&str>,
        perturb: Option<String>,
        grasp: Option<&str>,
        seed: u64,
        threads: usize,
        autoreset: &str,
    ) -> PyResult<Self> {
        let mode = match autoreset {
            "next-step" => AutoReset::NextStep,
            "same-step" => AutoReset::SameStep,
            other => return Err(PyValueError::new_err(format!("unknown autoreset mode `{other}` (known: next-step, same-step)"))),
        };
        guarded(|| {
            let mut envs = VecEnv::new(&task_config(task, config_file, overrides, perturb, grasp)?, num_envs, seed, threads)?;
            envs.set_autoreset(mode);
            Ok(Self { envs })
        })
    }

    #[getter]
    fn num_envs(&self) -> usize {
        self.envs.num_envs()
    }

    #[getter]
    fn threads(&self) -> usize {
        self.envs.threads()
    }

    #[getter]
    fn observation_dim(&self) -> usize {
        self.envs.envs()[0].observation_dim()
    }

    #[getter]
    fn goal_dim(&self) -> usize {
        self.envs.envs()[0].goal_dim()
    }

    #[getter]
    fn action_dim(&self) -> usize {
        self.envs.action_dim()
    }

    #[getter]
    fn max_episode_steps(&self) -> usize {
        self.envs.envs()[0].config().episode.steps
    }

    /// Resets every env; with a seed, env i then runs the episodes
    /// `episode_seed(seed, i, 0, 1, ...)`, as the Rust `VecEnv` does.
    #[pyo3(signature = (seed=None))]
    fn reset<'py>(&mut self, py: Python<'py>, seed: Option<u64>) -> PyResult<Bound<'py, PyTuple>> {
        let envs = &mut self.envs;
        let observations = py.detach(|| {
            guarded(|| match seed {
                Some(seed) => envs.reseed(seed),
                None => envs.reset(),
            })
        })?;
        observation_arrays(py, &observations)
    }

    /// Steps every env with its row of `actions` (num_envs × 5): (observation,
    /// achieved, desired, rewards, terminated, truncated, infos, final) where
    /// infos is Gymnasium's dict of arrays with `_key` masks and final is
    /// None, or (final observation arrays, mask, final infos) for envs reset
    /// in this step (same-step mode).
    fn step<'py>(&mut self, py: Python<'py>, actions: PyReadonlyArray2<'py, f32>) -> PyResult<Bound<'py, PyTuple>> {
        let shape = actions.shape();
        let dim = self.envs.action_dim();
        if shape[1] != dim || shape[0] != self.envs.num_envs() {
            return Err(PyValueError::new_err(format!("actions have shape {shape:?}: expected ({}, {dim})", self.envs.num_envs())));
        }
        let actions = actions.as_slice().map_err(|e| PyValueError::new_err(format!("actions: {e}")))?;
        let envs = &mut self.envs;
        // Step, then gather the infos' columns on the envs' threads, all without the GIL.
        let (step, infos, final_infos) = py.detach(|| {
            guarded(|| {
                let step = envs.step(actions)?;
                // As Gymnasium's SyncVectorEnv: an env reset in this step shows its
                // last step's info under `final_info` only.
                let reset_now: Vec<bool> = step.final_observations.iter().map(Option::is_some).collect();
                let kept: Vec<bool> = step.stepped.iter().zip(&reset_now).map(|(&stepped, &reset)| stepped && !reset).collect();
                let any_reset = reset_now.contains(&true);
                let (infos, final_infos) =
                    envs.install(|| (info::gather(&step.infos, &kept), any_reset.then(|| (info::gather(&step.infos, &reset_now), reset_now))));
                Ok((step, infos, final_infos))
            })
        })?;
        let (o, a, d) = observation_arrays(py, &step.observations)?.extract::<(Bound<PyAny>, Bound<PyAny>, Bound<PyAny>)>()?;
        let infos = infos.into_py(py)?;
        let finals = match final_infos {
            Some((final_info, reset_now)) => {
                let filled: Vec<Observation> = step.final_observations.iter().zip(&step.observations).map(|(f, o)| f.as_ref().unwrap_or(o).clone()).collect();
                PyTuple::new(py, [observation_arrays(py, &filled)?.into_any(), reset_now.into_pyarray(py).into_any(), final_info.into_py(py)?.into_any()])?
                    .into_any()
            }
            None => py.None().into_bound(py),
        };
        PyTuple::new(
            py,
            [
                o,
                a,
                d,
                step.rewards.into_pyarray(py).into_any(),
                step.terminated.into_pyarray(py).into_any(),
                step.truncated.into_pyarray(py).into_any(),
                infos.into_any(),
                finals,
            ],
        )
    }

    /// As `Env.compute_reward` (every env runs the same task).
    fn compute_reward<'py>(
        &self,
        py: Python<'py>,
        achieved: PyReadonlyArray2<'py, f32>,
        desired: PyReadonlyArray2<'py, f32>,
        penalties: PyReadonlyArray1<'py, f32>,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        Ok(vector(py, rewards(&self.envs.envs()[0], &achieved, &desired, &penalties)?))
    }
}

/// Observations of N envs as three (N, ·) arrays.
fn observation_arrays<'py>(py: Python<'py>, observations: &[Observation]) -> PyResult<Bound<'py, PyTuple>> {
    let column = |part: fn(&Observation) -> &[f32]| {
        let width = observations.first().map_or(0, |o| part(o).len());
        let mut flat = Vec::with_capacity(observations.len() * width);
        observations.iter().for_each(|o| flat.extend_from_slice(part(o)));
        Array2::from_shape_vec((observations.len(), width), flat).expect("observations of one shape").into_pyarray(py)
    };
    PyTuple::new(py, [column(|o| &o.observation), column(|o| &o.achieved_goal), column(|o| &o.desired_goal)])
}

/// Trains as `gesture-lab train` does, with the GIL released, and writes
/// the policy bundle to `out`. `config` is the algorithm's hyper-parameters
/// as a JSON object (the Python side serialises its dict); the task is built from
/// `task`, `task_config_file`, `task_overrides` (JSON), `perturb` and `grasp`
/// as `Env` builds it. Returns the run's figures as a dict.
#[pyfunction]
#[pyo3(signature = (task, algo, steps, seed, out, config=None, demos=Vec::new(), envs=None, threads=0, task_config_file=None, task_overrides=None, perturb=None, grasp=None, action_history=None, checkpoint_every=10_000, resume=false, keep="last", quiet=true))]
#[allow(clippy::too_many_arguments)]
fn train<'py>(
    py: Python<'py>,
    task: String,
    algo: &str,
    steps: u64,
    seed: u64,
    out: Option<PathBuf>,
    config: Option<&str>,
    demos: Vec<PathBuf>,
    envs: Option<usize>,
    threads: usize,
    task_config_file: Option<PathBuf>,
    task_overrides: Option<&str>,
    perturb: Option<String>,
    grasp: Option<&str>,
    action_history: Option<usize>,
    checkpoint_every: u64,
    resume: bool,
    keep: &str,
    quiet: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let request = guarded(|| {
        let algo = algo_by_name(algo)?;
        let task = task_config(Some(task), task_config_file, task_overrides, perturb, grasp)?;
        Ok(TrainRequest {
            out: out.unwrap_or_else(|| training::default_out(&task.task, algo, seed)),
            config: config.map(|json| Ok::<_, Error>((json_to_toml(json, "`config` argument")?, "`config` argument".to_string()))).transpose()?,
            action_history,
            steps,
            seed,
            envs,
            demos,
            threads,
            checkpoint_every,
            resume,
            keep: keep.parse()?,
            ..TrainRequest::new(task, algo)
        })
    })?;
    let trained = py.detach(|| {
        guarded(|| {
            let mut on_note = |note: &str| {
                if !quiet {
                    eprintln!("{note}")
                }
            };
            let mut on_progress = |p: &sac::Progress| {
                if let (false, Some(e)) = (quiet, &p.evaluation) {
                    eprintln!("{:>8} steps {:>7.1} s  eval success {:.0} % err {:.2} mm", p.env_steps, p.wall_s, e.success_rate * 100.0, e.mean_final_error_mm);
                }
            };
            request.run(&mut on_note, &mut on_progress)
        })
    })?;
    let o = &trained.outcome;
    let report = PyDict::new(py);
    report.set_item("task", &o.task.task)?;
    report.set_item("algo", o.algo.name())?;
    report.set_item("env_steps", o.env_steps)?;
    report.set_item("updates", o.updates)?;
    report.set_item("wall_s", o.wall_s)?;
    report.set_item("seed", seed)?;
    report.set_item("out", trained.out.clone())?;
    report.set_item("evaluation", pythonize::pythonize(py, o.curve.last().expect("training ends with an evaluation"))?)?;
    report.set_item("kept", pythonize::pythonize(py, &trained.kept)?)?;
    report.set_item("curve", pythonize::pythonize(py, &o.curve)?)?;
    Ok(report)
}

fn algo_by_name(name: &str) -> crate::Result<Algo> {
    Algo::value_variants().iter().copied().find(|a| a.name() == name).ok_or_else(|| {
        let known: Vec<&str> = Algo::value_variants().iter().map(|a| a.name()).collect();
        Error::Invalid(format!("unknown algorithm `{name}` (known: {})", known.join(", ")))
    })
}

/// A policy bundle, checked and loaded (`gesture_lab._core.Policy`).
#[pyclass(name = "Policy", module = "gesture_lab._core")]
struct PyPolicy {
    loaded: LoadedPolicy,
    path: PathBuf,
}

#[pymethods]
impl PyPolicy {
    /// Loads a bundle with every check `gesture-lab eval` makes; with
    /// `task`, a bundle trained for another task is refused too.
    #[new]
    #[pyo3(signature = (path, task=None))]
    fn new(path: PathBuf, task: Option<&str>) -> PyResult<Self> {
        let loaded = crate::policy::load(&path, task).map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(Self { loaded, path })
    }

    #[getter]
    fn task(&self) -> String {
        self.loaded.manifest.task.clone()
    }

    #[getter]
    fn algorithm(&self) -> String {
        self.loaded.manifest.algorithm.clone()
    }

    #[getter]
    fn observation_dim(&self) -> usize {
        self.loaded.manifest.observation_dim
    }

    #[getter]
    fn goal_dim(&self) -> usize {
        self.loaded.manifest.goal_dim
    }

    #[getter]
    fn action_dim(&self) -> usize {
        self.loaded.manifest.action_dim
    }

    /// The manifest as JSON text.
    fn manifest_json(&self) -> PyResult<String> {
        serde_json::to_string(&self.loaded.manifest).map_err(|e| PyValueError::new_err(e.to_string()))
    }

    /// Deterministic actions (B, 5) for (B, ·) observations and goals.
    fn act<'py>(
        &self,
        py: Python<'py>,
        observation: PyReadonlyArray2<'py, f32>,
        achieved_goal: PyReadonlyArray2<'py, f32>,
        desired_goal: PyReadonlyArray2<'py, f32>,
    ) -> PyResult<Bound<'py, numpy::PyArray2<f32>>> {
        let m = &self.loaded.manifest;
        let parts =
            [("observation", &observation, m.observation_dim), ("achieved_goal", &achieved_goal, m.goal_dim), ("desired_goal", &desired_goal, m.goal_dim)];
        let rows = observation.shape()[0];
        let mut slices = Vec::with_capacity(3);
        for (name, array, width) in parts {
            let shape = array.shape();
            if shape[0] != rows || shape[1] != width {
                return Err(PyValueError::new_err(format!("{name} has shape {shape:?}: this policy takes ({rows}, {width})")));
            }
            slices.push(array.as_slice().map_err(|e| PyValueError::new_err(format!("{name}: {e}")))?);
        }
        let observations: Vec<Observation> = (0..rows)
            .map(|r| {
                let row = |k: usize, w: usize| slices[k][r * w..(r + 1) * w].to_vec();
                Observation { observation: row(0, m.observation_dim), achieved_goal: row(1, m.goal_dim), desired_goal: row(2, m.goal_dim) }
            })
            .collect();
        let policy = &self.loaded.policy;
        let actions = py.detach(|| guarded(|| Ok(if rows == 0 { Vec::new() } else { policy.act(&observations) })))?;
        Ok(Array2::from_shape_vec((rows, m.action_dim), actions).expect("one action per row").into_pyarray(py))
    }

    /// `gesture-lab eval`: `episodes` seeded episodes on the bundle's task
    /// config (perturbations off unless `perturb` says otherwise; `grasp`
    /// switches the grasp mode). Returns `eval --json`'s figures as a dict.
    #[pyo3(signature = (episodes=100, seed=0, threads=0, perturb=None, grasp=None))]
    fn evaluate<'py>(
        &self,
        py: Python<'py>,
        episodes: usize,
        seed: u64,
        threads: usize,
        perturb: Option<&str>,
        grasp: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let loaded = &self.loaded;
        let evaluation = py.detach(|| {
            guarded(|| {
                if episodes == 0 {
                    return Err(Error::Invalid("episodes = 0: evaluate at least one episode".into()));
                }
                let grasp = grasp.map(str::parse).transpose()?;
                let config = training::evaluation_config(&loaded.manifest.task_config, perturb, grasp)?;
                sac::evaluate(&loaded.policy, &config, episodes, seed, threads)
            })
        })?;
        Ok(pythonize::pythonize(py, &evaluation)?)
    }

    fn __repr__(&self) -> String {
        format!("Policy({:?}: {} on {})", self.path, self.loaded.manifest.algorithm, self.loaded.manifest.task)
    }
}

/// The registered tasks: (id, one-line summary).
#[pyfunction]
fn tasks() -> Vec<(&'static str, &'static str)> {
    TASKS.iter().map(|t| (t.name, t.summary)).collect()
}

/// Panics inside the guard, as a bug would: the tests check that Python
/// gets a `RuntimeError` and goes on.
#[pyfunction]
fn _panic_for_tests() -> PyResult<()> {
    guarded(|| -> crate::Result<()> { panic!("a deliberate panic, to test the guard") })
}

/// The grasp modes, for tasks with objects.
#[pyfunction]
fn grasp_modes() -> Vec<&'static str> {
    vec!["friction", "assisted"]
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyEnv>()?;
    m.add_class::<PyVecEnv>()?;
    m.add_class::<PyPolicy>()?;
    m.add_function(wrap_pyfunction!(train, m)?)?;
    m.add_function(wrap_pyfunction!(tasks, m)?)?;
    m.add_function(wrap_pyfunction!(grasp_modes, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_for_tests, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
