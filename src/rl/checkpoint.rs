//! Training checkpoints: the learner (networks, optimiser states, replay,
//! normaliser) and the loop's counters, so that a run killed at any moment
//! and resumed ends with the same weights as one never interrupted.
//!
//! (PPO keeps its own state; both use the directory format here.)
//!
//! A checkpoint is a directory `checkpoint/` written whole as
//! `checkpoint.tmp/` and then renamed into place; the previous one is kept
//! as `checkpoint.old/` until the new one is complete, so a crash at any
//! point leaves a loadable checkpoint.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::AdamConfig;
use burn::store::ModuleRecord;
use burn::tensor::Bytes;
use serde::{Deserialize, Serialize};

use super::her::{DemoBuffer, HerBuffer};
use super::nets::{Actor, Temperature, TwinCritic};
use super::sac::{RunState, SacHer, SacHerConfig};
use crate::error::{Error, Result};
use crate::files::{sha256_hex, write_atomic};
use crate::task::TaskConfig;

const STATE: &str = "state.json";

/// Where and how often a run saves its full state, and whether it resumes.
#[derive(Clone, Debug)]
pub struct Checkpointing {
    pub dir: PathBuf,
    /// Env steps between checkpoints (taken at the next episode boundary).
    pub every: u64,
    /// Continue from the checkpoint in `dir` if there is one.
    pub resume: bool,
}
const SAC_FORMAT: &str = "gesture-lab-sac-her-checkpoint-1";

#[derive(Serialize, Deserialize)]
struct CheckpointState {
    format: String,
    config: SacHerConfig,
    task: TaskConfig,
    run: RunState,
    normalizer: super::normalizer::RunningNormalizer,
    obs_dim: usize,
    goal_dim: usize,
    updates: u64,
    /// SHA-256 of the demonstrations learned from (none: no demonstrations).
    #[serde(default)]
    demos_sha256: Option<String>,
}

fn err(path: &Path, message: impl std::fmt::Display) -> Error {
    Error::Invalid(format!("{}: {message}", path.display()))
}

/// Writes `parts` and `state.json` (holding `state` and the parts' SHA-256)
/// as `dir/checkpoint/`, atomically.
pub fn write_dir(dir: &Path, parts: &[(&str, Vec<u8>)], state: serde_json::Value) -> Result<()> {
    let io = |p: &Path, e| Error::io(p, e);
    let tmp = dir.join("checkpoint.tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| io(&tmp, e))?;
    let mut files = Vec::new();
    for (name, bytes) in parts {
        let p = tmp.join(name);
        write_atomic(&p, bytes).map_err(|e| io(&p, e))?;
        files.push((name.to_string(), sha256_hex(bytes)));
    }
    let envelope = serde_json::json!({ "files": files, "state": state });
    let p = tmp.join(STATE);
    write_atomic(&p, envelope.to_string().as_bytes()).map_err(|e| io(&p, e))?;
    let current = dir.join("checkpoint");
    let old = dir.join("checkpoint.old");
    let _ = std::fs::remove_dir_all(&old);
    if current.exists() {
        std::fs::rename(&current, &old).map_err(|e| io(&current, e))?;
    }
    std::fs::rename(&tmp, &current).map_err(|e| io(&tmp, e))?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}

/// A checkpoint directory read back: its state and its checked files.
pub struct CheckpointDir {
    pub path: PathBuf,
    pub state: serde_json::Value,
    files: Vec<(String, String)>,
}

impl CheckpointDir {
    /// A part's bytes, refused if its checksum does not match.
    pub fn read(&self, name: &str) -> Result<Vec<u8>> {
        let p = self.path.join(name);
        let bytes = std::fs::read(&p).map_err(|e| Error::io(&p, e))?;
        let want = self.files.iter().find(|(n, _)| n == name).map(|(_, h)| h.as_str());
        if want != Some(sha256_hex(&bytes).as_str()) {
            return Err(err(&p, "checksum mismatch: the checkpoint is damaged"));
        }
        Ok(bytes)
    }

    /// A part holding a burn module record.
    pub fn record(&self, name: &str) -> Result<ModuleRecord> {
        let (bytes, p) = (self.read(name)?, self.path.join(name));
        crate::files::decode_guarded(|| ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes))).map_err(|e| err(&p, e))
    }

    /// A part holding an optimiser's state.
    pub fn optimizer(&self, name: &str, config: &AdamConfig) -> Result<burn::optim::ModuleOptimizer> {
        let (bytes, p) = (self.read(name)?, self.path.join(name));
        crate::files::decode_guarded(|| config.init().from_bytes(Bytes::from_bytes_vec(bytes))).map_err(|e| err(&p, e))
    }

    pub fn error(&self, message: impl std::fmt::Display) -> Error {
        err(&self.path.join(STATE), message)
    }
}

/// The newest complete checkpoint under `dir`, if any.
pub fn read_dir(dir: &Path) -> Result<Option<CheckpointDir>> {
    let Some(path) = latest(dir) else { return Ok(None) };
    let sp = path.join(STATE);
    let text = std::fs::read_to_string(&sp).map_err(|e| Error::io(&sp, e))?;
    let mut envelope: serde_json::Value = serde_json::from_str(&text).map_err(|e| err(&sp, format!("not a checkpoint: {e}")))?;
    let files: Vec<(String, String)> = serde_json::from_value(envelope["files"].take()).map_err(|e| err(&sp, format!("not a checkpoint: {e}")))?;
    Ok(Some(CheckpointDir { path, state: envelope["state"].take(), files }))
}

/// A module's record as bytes.
pub fn record_bytes(record: ModuleRecord) -> Vec<u8> {
    record.into_bytes().expect("in-memory record").to_vec()
}

/// Saves `learner` and `run` under `dir/checkpoint/`, atomically.
pub fn save(dir: &Path, learner: &SacHer, run: &RunState, task: &TaskConfig) -> Result<()> {
    let mut parts: Vec<(&str, Vec<u8>)> = vec![
        ("actor.bpk", record_bytes(learner.actor.clone().into_record())),
        ("critic.bpk", record_bytes(learner.critic.clone().into_record())),
        ("critic_target.bpk", record_bytes(learner.critic_target.clone().into_record())),
        ("temperature.bpk", record_bytes(learner.temperature.clone().into_record())),
        ("actor_opt.bin", learner.actor_opt.into_bytes().expect("optimiser state").to_vec()),
        ("critic_opt.bin", learner.critic_opt.into_bytes().expect("optimiser state").to_vec()),
        ("alpha_opt.bin", learner.alpha_opt.into_bytes().expect("optimiser state").to_vec()),
        ("buffer.bin", learner.buffer.to_bytes()),
    ];
    if let Some(average) = &learner.actor_average {
        parts.push(("actor_average.bpk", record_bytes(average.clone().into_record())));
    }
    let state = CheckpointState {
        format: SAC_FORMAT.into(),
        config: learner.config.clone(),
        task: task.clone(),
        run: run.clone(),
        normalizer: learner.normalizer.clone(),
        obs_dim: learner.obs_dim,
        goal_dim: learner.goal_dim,
        updates: learner.updates,
        demos_sha256: learner.demonstrations().map(|d| d.sha256()),
    };
    write_dir(dir, &parts, serde_json::to_value(&state).expect("state serialises"))
}

/// The checkpoint to resume from: `checkpoint/`, or `checkpoint.old/` if a
/// crash came between the two renames of a save.
fn latest(dir: &Path) -> Option<PathBuf> {
    ["checkpoint", "checkpoint.old"].iter().map(|n| dir.join(n)).find(|p| p.join(STATE).exists())
}

/// Loads the SAC+HER checkpoint under `dir`, if any, checking that it
/// belongs to this task, config and seed.
pub fn load(dir: &Path, task: &TaskConfig, config: &SacHerConfig, seed: u64, demos: Option<&DemoBuffer>) -> Result<Option<(SacHer, RunState)>> {
    let Some(cp) = read_dir(dir)? else { return Ok(None) };
    let state: CheckpointState = serde_json::from_value(cp.state.clone()).map_err(|e| cp.error(format!("not a SAC+HER checkpoint: {e}")))?;
    if state.format != SAC_FORMAT {
        return Err(cp.error(format!("checkpoint format `{}`, expected `{SAC_FORMAT}`", state.format)));
    }
    check_same(&cp, &state.task, task, state.config == *config, state.run.seed, seed)?;
    if state.demos_sha256 != demos.map(|d| d.sha256()) {
        return Err(cp.error("the checkpoint was made from other demonstrations (or with/without them): give the same --demos files"));
    }
    // The networks are sized from these before any weights are read.
    let env = crate::env::Env::new(task.clone())?;
    if (state.obs_dim, state.goal_dim) != (env.observation_dim(), env.goal_dim()) {
        return Err(cp.error(format!(
            "obs_dim {} and goal_dim {} do not match task `{}` ({} and {})",
            state.obs_dim,
            state.goal_dim,
            task.task,
            env.observation_dim(),
            env.goal_dim()
        )));
    }
    state.normalizer.check().map_err(|e| cp.error(e))?;
    let mut learner = SacHer::new(config.clone(), task, state.obs_dim, state.goal_dim, seed);
    let (input, hidden, dev) = (learner.input_width(), config.hidden, learner.device.clone());
    if state.normalizer.dim() != input {
        return Err(cp.error(format!("normalizer has {} components, the networks' input {input}", state.normalizer.dim())));
    }
    let action_dim = learner.action_dim;
    let fit = |e| cp.error(e);
    learner.actor = Actor::new(input, action_dim, hidden, &dev).try_load_record(cp.record("actor.bpk")?).map_err(fit)?;
    if learner.actor_average.is_some() {
        learner.actor_average = Some(Actor::new(input, action_dim, hidden, &dev).try_load_record(cp.record("actor_average.bpk")?).map_err(fit)?.no_grad());
    }
    learner.critic = TwinCritic::new(input, action_dim, hidden, &dev).try_load_record(cp.record("critic.bpk")?).map_err(fit)?;
    learner.critic_target = TwinCritic::new(input, action_dim, hidden, &dev).try_load_record(cp.record("critic_target.bpk")?).map_err(fit)?.no_grad();
    learner.temperature = Temperature::new(1.0, &dev).try_load_record(cp.record("temperature.bpk")?).map_err(fit)?;
    let adam = AdamConfig::new();
    learner.actor_opt = cp.optimizer("actor_opt.bin", &adam)?;
    learner.critic_opt = cp.optimizer("critic_opt.bin", &adam)?;
    learner.alpha_opt = cp.optimizer("alpha_opt.bin", &adam)?;
    let buffer = HerBuffer::from_bytes(&cp.read("buffer.bin")?).ok_or_else(|| err(&cp.path.join("buffer.bin"), "not a replay buffer"))?;
    if !buffer.same_shape(&learner.buffer) {
        return Err(err(&cp.path.join("buffer.bin"), "a replay buffer of other sizes than the task and config give"));
    }
    learner.buffer = buffer;
    learner.normalizer = state.normalizer;
    learner.updates = state.updates;
    // The statistics already include the demonstrations: only the buffer returns.
    learner.demos = demos.cloned();
    Ok(Some((learner, state.run)))
}

/// Refuses a checkpoint made for another task, config or seed.
pub fn check_same(cp: &CheckpointDir, saved_task: &TaskConfig, task: &TaskConfig, same_config: bool, saved_seed: u64, seed: u64) -> Result<()> {
    if saved_task != task {
        return Err(cp.error("the checkpoint was made for another task config"));
    }
    if !same_config {
        return Err(cp.error("the checkpoint was made with other hyper-parameters"));
    }
    if saved_seed != seed {
        return Err(cp.error(format!("the checkpoint was made with seed {saved_seed}, not {seed}")));
    }
    Ok(())
}
