//! Layer 5: policy bundles — everything needed to replay a trained policy.
//!
//! A bundle is a directory:
//! - `policy.json`: the manifest (format version, crate version, task id and
//!   full task config, shapes, the input normaliser, algorithm and
//!   hyper-parameters, seed, env steps, wall time, evaluation, and the
//!   SHA-256 and size of the weights);
//! - `actor-<first 16 hex digits of their SHA-256>.bpk`: the actor's weights
//!   (burn's burnpack format; bundles from before are `actor.bpk`, and the
//!   manifest names the file either way);
//! - `curve.csv` and `curve.png`: the learning curve (evaluation success
//!   rate and final tip error against env steps).
//!
//! Every file is written atomically (a temp file, then a rename), and the
//! manifest last: it is the commit. New weights go to a new file name, so
//! until the new manifest replaces the old one the old bundle is whole; a
//! crash or a full disk at any point leaves the old bundle or the new one,
//! never new weights under an old manifest. Loading checks all of it and
//! names the file and the problem when it refuses.

pub mod demos;
pub mod training;

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::prelude::*;
use burn::store::ModuleRecord;
use burn::tensor::Bytes;
use serde::{Deserialize, Serialize};

pub use crate::files::{check_output_file, sha256_hex, write_atomic};

use crate::env::Env;
use crate::rl::nets::Actor;
use crate::rl::normalizer::RunningNormalizer;
use crate::rl::ppo::GaussianActor;
use crate::rl::sac::Evaluation;
use crate::rl::{GoalPolicy, PolicyNet};
use crate::task::TaskConfig;

pub const FORMAT: &str = "gesture-lab-policy";
pub const FORMAT_VERSION: u32 = 1;
pub const MANIFEST_FILE: &str = "policy.json";
/// The weights file of bundles written before weights were named by their checksum.
pub const WEIGHTS_FILE: &str = "actor.bpk";
pub const CURVE_FILE: &str = "curve.csv";
pub const CURVE_PLOT: &str = "curve.png";

/// The actor network's shape, enough to rebuild it before loading weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetworkSpec {
    /// "tanh-gaussian-mlp" (SAC: two ReLU hidden layers, mean and log-std
    /// heads, tanh squashing) or "gaussian-mlp" (PPO: mean network and a
    /// state-independent log-std).
    pub kind: String,
    pub hidden: usize,
    /// The input holds the desired minus the achieved goal after the goal
    /// (SAC+HER's `goal_offset_input`); absent: false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub goal_offset: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    pub crate_version: String,
    pub task: String,
    pub task_config: TaskConfig,
    pub observation_dim: usize,
    pub goal_dim: usize,
    pub action_dim: usize,
    pub network: NetworkSpec,
    pub normalizer: RunningNormalizer,
    pub algorithm: String,
    pub hyperparameters: serde_json::Value,
    pub seed: u64,
    pub env_steps: u64,
    pub wall_time_s: f64,
    /// The evaluation of the weights in the bundle: the last one, or with
    /// `train --keep best` the best one (its `env_steps` says when it was taken).
    pub evaluation: Evaluation,
    /// Which weights the bundle keeps: "last" (the end of training) or "best".
    #[serde(default = "last_weights")]
    pub kept: String,
    pub weights_file: String,
    pub weights_bytes: u64,
    pub weights_sha256: String,
}

/// What a training run adds to a manifest.
#[derive(Clone, Debug)]
pub struct RunInfo {
    pub seed: u64,
    pub env_steps: u64,
    pub wall_time_s: f64,
    pub evaluation: Evaluation,
    pub kept: String,
}

fn last_weights() -> String {
    "last".into()
}

impl Manifest {
    /// A manifest with the format fields filled in (`save` fills the weights fields).
    pub fn new(
        task: &TaskConfig,
        algorithm: &str,
        (observation_dim, goal_dim): (usize, usize),
        hidden: usize,
        normalizer: RunningNormalizer,
        hyperparameters: serde_json::Value,
        run: RunInfo,
    ) -> Self {
        Self {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            crate_version: env!("CARGO_PKG_VERSION").into(),
            task: task.task.clone(),
            task_config: task.clone(),
            observation_dim,
            goal_dim,
            action_dim: task.robot.action_dim(),
            // `save` writes the kind of the actor it is given.
            network: NetworkSpec { kind: String::new(), hidden, goal_offset: false },
            normalizer,
            algorithm: algorithm.into(),
            hyperparameters,
            seed: run.seed,
            env_steps: run.env_steps,
            wall_time_s: run.wall_time_s,
            evaluation: run.evaluation,
            kept: run.kept,
            weights_file: String::new(),
            weights_bytes: 0,
            weights_sha256: String::new(),
        }
    }
}

/// Why a bundle could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
}

fn file_error(path: &Path, message: impl Into<String>) -> PolicyError {
    PolicyError::File { path: path.to_path_buf(), message: message.into() }
}

/// The actor's weights as burnpack bytes: the same weights give the same
/// bytes (and checksum), run after run.
pub fn actor_bytes(actor: &PolicyNet) -> Vec<u8> {
    let record = match actor {
        PolicyNet::TanhGaussian(a) => a.clone().map(&mut SequentialIds(0)).into_record(),
        PolicyNet::Gaussian(a) => a.clone().map(&mut SequentialIds(0)).into_record(),
    };
    record.into_bytes().expect("an in-memory record serialises").to_vec()
}

/// Numbers the parameters 1, 2, 3, ... in visiting order. burn gives each
/// parameter a random id, which the weights file stores: without this the
/// same weights would be written as different bytes in every process.
struct SequentialIds(u64);

impl burn::module::ModuleMapper for SequentialIds {
    fn map_float<const D: usize>(&mut self, param: burn::module::Param<burn::tensor::Tensor<D>>) -> burn::module::Param<burn::tensor::Tensor<D>> {
        let (_, tensor, mapper) = param.consume();
        self.0 += 1;
        burn::module::Param::from_mapped_value(burn::module::ParamId::from(self.0), tensor, mapper)
    }
}

/// The first line of `curve.csv`: its columns.
pub const CURVE_CSV_HEADER: &str = "env_steps,wall_s,success_rate,mean_final_error_mm,mean_steps_to_success";

/// The learning curve as CSV.
pub fn curve_csv(curve: &[Evaluation]) -> String {
    let mut out = format!("{CURVE_CSV_HEADER}\n");
    for e in curve {
        out.push_str(&format!("{},{:.3},{:.4},{:.4},{:.3}\n", e.env_steps, e.wall_s, e.success_rate, e.mean_final_error_mm, e.mean_steps_to_success));
    }
    out
}

/// Draws the learning curve to `path` (PNG), atomically.
pub fn curve_png(path: &Path, title: &str, curve: &[Evaluation]) -> crate::Result<()> {
    use crate::plot::{Series, learning_curve};
    let tmp = path.with_extension("tmp.png");
    let success = [Series { name: "", points: curve.iter().map(|e| (e.env_steps as f64, 100.0 * e.success_rate)).collect() }];
    let error = [Series { name: "", points: curve.iter().map(|e| (e.env_steps as f64, e.mean_final_error_mm)).collect() }];
    learning_curve(&tmp, title, &success, &error).map_err(crate::Error::Invalid)?;
    std::fs::rename(&tmp, path).map_err(|e| crate::Error::io(path, e))
}

/// The weights file of `weights` in a bundle: named by their checksum.
pub fn weights_file_name(weights: &[u8]) -> String {
    format!("actor-{}.bpk", &sha256_hex(weights)[..16])
}

/// The weights file the bundle in `dir` names (its manifest's `weights_file`).
pub fn weights_path(dir: &Path) -> crate::Result<PathBuf> {
    let m = dir.join(MANIFEST_FILE);
    let text = std::fs::read_to_string(&m).map_err(|e| crate::Error::io(&m, e))?;
    let manifest: serde_json::Value = serde_json::from_str(&text).map_err(|e| crate::Error::Invalid(format!("{}: {e}", m.display())))?;
    let name = manifest["weights_file"].as_str().ok_or_else(|| crate::Error::Invalid(format!("{}: no weights_file", m.display())))?;
    Ok(dir.join(name))
}

/// Writes a bundle: weights under a new name, the curve, then the manifest
/// that vouches for them (the commit), then the previous weights go.
pub fn save(dir: &Path, mut manifest: Manifest, actor: &PolicyNet, curve: &[Evaluation]) -> crate::Result<()> {
    let io = |p: &Path, e| crate::Error::io(p, e);
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let previous_weights = weights_path(dir).ok();
    manifest.network.kind = actor.kind().into();
    let weights = actor_bytes(actor);
    manifest.weights_file = weights_file_name(&weights);
    manifest.weights_bytes = weights.len() as u64;
    manifest.weights_sha256 = sha256_hex(&weights);
    let w = dir.join(&manifest.weights_file);
    write_atomic(&w, &weights).map_err(|e| io(&w, e))?;
    let c = dir.join(CURVE_FILE);
    write_atomic(&c, curve_csv(curve).as_bytes()).map_err(|e| io(&c, e))?;
    let title = format!("{} on {}: evaluation ({} episodes, deterministic)", manifest.algorithm, manifest.task, manifest.evaluation.episodes);
    curve_png(&dir.join(CURVE_PLOT), &title, curve)?;
    let m = dir.join(MANIFEST_FILE);
    let json = serde_json::to_string_pretty(&manifest).expect("manifest serialises");
    write_atomic(&m, json.as_bytes()).map_err(|e| io(&m, e))?;
    // Only a plain file name in this directory, and never the one just written.
    if let Some(old) = previous_weights.filter(|p| *p != w && p.parent() == Some(dir) && p.is_file()) {
        let _ = std::fs::remove_file(old);
    }
    Ok(())
}

/// Writes a finished training run (of `config`'s algorithm) as a bundle in `dir`.
pub fn save_trained(dir: &Path, trained: &crate::rl::TrainOutcome, config: &crate::rl::AlgoConfig, seed: u64) -> crate::Result<()> {
    let evaluation = trained.curve.last().cloned().expect("training ends with an evaluation");
    save_trained_weights(dir, trained, config, seed, &trained.policy(), (evaluation, "last"))
}

/// [`save_trained`] with other weights of the same run (`train --keep best`):
/// `policy`, whose evaluation was `evaluation`.
pub fn save_trained_weights(
    dir: &Path,
    trained: &crate::rl::TrainOutcome,
    config: &crate::rl::AlgoConfig,
    seed: u64,
    policy: &GoalPolicy,
    (evaluation, kept): (Evaluation, &str),
) -> crate::Result<()> {
    let run = RunInfo { seed, env_steps: trained.env_steps, wall_time_s: trained.wall_s, evaluation, kept: kept.into() };
    let mut manifest = Manifest::new(
        &trained.task,
        trained.algo.name(),
        (trained.obs_dim, trained.goal_dim),
        config.hidden(),
        policy.normalizer.clone(),
        config.to_json(),
        run,
    );
    manifest.network.goal_offset = policy.goal_offset;
    save(dir, manifest, policy.actor(), &trained.curve)
}

/// A bundle checked and loaded.
pub struct LoadedPolicy {
    pub manifest: Manifest,
    pub policy: GoalPolicy,
}

/// Loads a bundle, refusing anything that does not check out. With
/// `expected_task`, a policy trained for another task is refused too.
pub fn load(dir: &Path, expected_task: Option<&str>) -> Result<LoadedPolicy, PolicyError> {
    let m = dir.join(MANIFEST_FILE);
    let text = std::fs::read_to_string(&m).map_err(|e| file_error(&m, format!("cannot read the policy manifest: {e}")))?;
    let header: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| file_error(&m, format!("not a gesture-lab policy manifest (invalid JSON: {e})")))?;
    if header.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
        return Err(file_error(&m, format!("not a gesture-lab policy manifest (no \"format\": \"{FORMAT}\")")));
    }
    let version = header.get("format_version").and_then(|v| v.as_u64());
    if version != Some(FORMAT_VERSION as u64) {
        return Err(file_error(
            &m,
            format!("format version {}, but this gesture-lab reads version {FORMAT_VERSION}", version.map_or("missing".into(), |v| v.to_string())),
        ));
    }
    let manifest: Manifest = serde_json::from_value(header).map_err(|e| file_error(&m, format!("malformed manifest: {e}")))?;
    if let Some(task) = expected_task.filter(|t| *t != manifest.task) {
        return Err(file_error(&m, format!("policy trained for task `{}`, not `{task}`", manifest.task)));
    }
    manifest.task_config.validate(&m.display().to_string()).map_err(|e| file_error(&m, e.to_string()))?;
    let env = Env::new(manifest.task_config.clone()).map_err(|e| file_error(&m, e.to_string()))?;
    let (obs_dim, goal_dim, action_dim) = (env.observation_dim(), env.goal_dim(), env.action_dim());
    if (manifest.observation_dim, manifest.goal_dim, manifest.action_dim) != (obs_dim, goal_dim, action_dim) {
        return Err(file_error(
            &m,
            format!(
                "shapes observation {} + goal {} → action {} do not match task `{}` ({obs_dim} + {goal_dim} → {action_dim})",
                manifest.observation_dim, manifest.goal_dim, manifest.action_dim, manifest.task
            ),
        ));
    }
    let input = crate::rl::input_width(obs_dim, goal_dim, manifest.network.goal_offset);
    if manifest.normalizer.dim() != input {
        return Err(file_error(&m, format!("normaliser has {} components, the policy input has {input}", manifest.normalizer.dim())));
    }
    manifest.normalizer.check().map_err(|e| file_error(&m, e))?;
    if !matches!(manifest.network.kind.as_str(), "tanh-gaussian-mlp" | "gaussian-mlp") || manifest.network.hidden == 0 {
        return Err(file_error(&m, format!("unknown network {:?}", manifest.network)));
    }
    // The network is allocated before its weights are read: its hidden x
    // hidden layer alone takes 4 hidden² bytes, so a width the weights cannot
    // hold is refused here, not by running out of memory.
    let hidden = manifest.network.hidden as u128;
    if 4 * hidden * hidden > manifest.weights_bytes as u128 {
        return Err(file_error(&m, format!("network.hidden = {hidden} does not fit weights of {} bytes", manifest.weights_bytes)));
    }

    // A plain file name inside the bundle: an absolute path or `..` would read outside it.
    let mut parts = Path::new(&manifest.weights_file).components();
    if !matches!((parts.next(), parts.next()), (Some(std::path::Component::Normal(_)), None)) {
        return Err(file_error(&m, format!("weights_file {:?} must be a file name inside the bundle directory", manifest.weights_file)));
    }
    let w = dir.join(&manifest.weights_file);
    let bytes = std::fs::read(&w).map_err(|e| file_error(&w, format!("cannot read the weights: {e}")))?;
    if bytes.len() as u64 != manifest.weights_bytes {
        return Err(file_error(&w, format!("truncated or padded: {} bytes, the manifest says {}", bytes.len(), manifest.weights_bytes)));
    }
    let digest = sha256_hex(&bytes);
    if digest != manifest.weights_sha256 {
        return Err(file_error(&w, format!("checksum mismatch (sha256 {digest}, manifest {}): the file is corrupt or was changed", manifest.weights_sha256)));
    }
    let device = Device::flex();
    let record = crate::files::decode_guarded(|| ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes)))
        .map_err(|e| file_error(&w, format!("not burnpack weights: {e}")))?;
    let hidden = manifest.network.hidden;
    let misfit = |e: String| file_error(&w, format!("weights do not fit the network: {e}"));
    let actor = if manifest.network.kind == "gaussian-mlp" {
        PolicyNet::Gaussian(
            crate::files::decode_guarded(|| GaussianActor::new(input, action_dim, hidden, 0.0, &device).try_load_record(record)).map_err(misfit)?,
        )
    } else {
        PolicyNet::TanhGaussian(crate::files::decode_guarded(|| Actor::new(input, action_dim, hidden, &device).try_load_record(record)).map_err(misfit)?)
    };
    if actor.parameters().iter().any(|v| !v.is_finite()) {
        return Err(file_error(&w, "the weights hold a non-finite value (NaN or infinity)"));
    }
    let policy = GoalPolicy::new(actor, manifest.normalizer.clone(), obs_dim, goal_dim).with_goal_offset(manifest.network.goal_offset);
    Ok(LoadedPolicy { manifest, policy })
}
