//! Training checkpoints: the learner (networks, optimiser states, replay,
//! normaliser) and the loop's counters, so that a run killed at any moment
//! and resumed ends with the same weights as one never interrupted.
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

use super::her::HerBuffer;
use super::nets::{Actor, Temperature, TwinCritic};
use super::sac::{RunState, SacHer, SacHerConfig};
use crate::env::ACTION_DIM;
use crate::error::{Error, Result};
use crate::policy::{sha256_hex, write_atomic};
use crate::task::TaskConfig;

const STATE: &str = "state.json";

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
    /// File name → SHA-256 of every other file.
    files: Vec<(String, String)>,
}

fn err(path: &Path, message: impl std::fmt::Display) -> Error {
    Error::Invalid(format!("{}: {message}", path.display()))
}

/// Saves `learner` and `run` under `dir/checkpoint/`, atomically.
pub fn save(dir: &Path, learner: &SacHer, run: &RunState, task: &TaskConfig) -> Result<()> {
    let io = |p: &Path, e| Error::io(p, e);
    let tmp = dir.join("checkpoint.tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| io(&tmp, e))?;
    let module = |m: ModuleRecord| -> Vec<u8> { m.into_bytes().expect("in-memory record").to_vec() };
    let parts: Vec<(&str, Vec<u8>)> = vec![
        ("actor.bpk", module(learner.actor.clone().into_record())),
        ("critic.bpk", module(learner.critic.clone().into_record())),
        ("critic_target.bpk", module(learner.critic_target.clone().into_record())),
        ("temperature.bpk", module(learner.temperature.clone().into_record())),
        ("actor_opt.bin", learner.actor_opt.into_bytes().expect("optimiser state").to_vec()),
        ("critic_opt.bin", learner.critic_opt.into_bytes().expect("optimiser state").to_vec()),
        ("alpha_opt.bin", learner.alpha_opt.into_bytes().expect("optimiser state").to_vec()),
        ("buffer.bin", learner.buffer.to_bytes()),
    ];
    let mut files = Vec::new();
    for (name, bytes) in &parts {
        let p = tmp.join(name);
        write_atomic(&p, bytes).map_err(|e| io(&p, e))?;
        files.push((name.to_string(), sha256_hex(bytes)));
    }
    let state = CheckpointState {
        format: "gesture-lab-checkpoint-1".into(),
        config: learner.config.clone(),
        task: task.clone(),
        run: run.clone(),
        normalizer: learner.normalizer.clone(),
        obs_dim: learner.obs_dim,
        goal_dim: learner.goal_dim,
        updates: learner.updates,
        files,
    };
    let p = tmp.join(STATE);
    write_atomic(&p, serde_json::to_string(&state).expect("state serialises").as_bytes()).map_err(|e| io(&p, e))?;

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

/// The checkpoint to resume from: `checkpoint/`, or `checkpoint.old/` if a
/// crash came between the two renames of a save.
fn latest(dir: &Path) -> Option<PathBuf> {
    ["checkpoint", "checkpoint.old"].iter().map(|n| dir.join(n)).find(|p| p.join(STATE).exists())
}

/// Loads the checkpoint under `dir`, if any, checking that it belongs to
/// this task, config and seed.
pub fn load(dir: &Path, task: &TaskConfig, config: &SacHerConfig, seed: u64) -> Result<Option<(SacHer, RunState)>> {
    let Some(cp) = latest(dir) else { return Ok(None) };
    let sp = cp.join(STATE);
    let text = std::fs::read_to_string(&sp).map_err(|e| Error::io(&sp, e))?;
    let state: CheckpointState = serde_json::from_str(&text).map_err(|e| err(&sp, format!("not a checkpoint: {e}")))?;
    if state.format != "gesture-lab-checkpoint-1" {
        return Err(err(&sp, format!("unknown checkpoint format `{}`", state.format)));
    }
    if &state.task != task {
        return Err(err(&sp, "the checkpoint was made for another task config"));
    }
    if &state.config != config {
        return Err(err(&sp, "the checkpoint was made with other hyper-parameters"));
    }
    if state.run.seed != seed {
        return Err(err(&sp, format!("the checkpoint was made with seed {}, not {seed}", state.run.seed)));
    }
    let read = |name: &str| -> Result<Vec<u8>> {
        let p = cp.join(name);
        let bytes = std::fs::read(&p).map_err(|e| Error::io(&p, e))?;
        let want = state.files.iter().find(|(n, _)| n == name).map(|(_, h)| h.as_str());
        if want != Some(sha256_hex(&bytes).as_str()) {
            return Err(err(&p, "checksum mismatch: the checkpoint is damaged"));
        }
        Ok(bytes)
    };
    let record = |name: &str| -> Result<ModuleRecord> {
        ModuleRecord::from_bytes(Bytes::from_bytes_vec(read(name)?)).map_err(|e| err(&cp.join(name), e))
    };
    let mut learner = SacHer::new(config.clone(), task, state.obs_dim, state.goal_dim, seed);
    let (input, hidden, dev) = (state.obs_dim + state.goal_dim, config.hidden, learner.device.clone());
    learner.actor = Actor::new(input, ACTION_DIM, hidden, &dev).try_load_record(record("actor.bpk")?).map_err(|e| err(&cp, e))?;
    learner.critic = TwinCritic::new(input, ACTION_DIM, hidden, &dev).try_load_record(record("critic.bpk")?).map_err(|e| err(&cp, e))?;
    learner.critic_target = TwinCritic::new(input, ACTION_DIM, hidden, &dev)
        .try_load_record(record("critic_target.bpk")?)
        .map_err(|e| err(&cp, e))?
        .no_grad();
    learner.temperature = Temperature::new(1.0, &dev).try_load_record(record("temperature.bpk")?).map_err(|e| err(&cp, e))?;
    let adam = AdamConfig::new();
    let opt = |name: &str| -> Result<burn::optim::ModuleOptimizer> {
        adam.init().from_bytes(Bytes::from_bytes_vec(read(name)?)).map_err(|e| err(&cp.join(name), e))
    };
    learner.actor_opt = opt("actor_opt.bin")?;
    learner.critic_opt = opt("critic_opt.bin")?;
    learner.alpha_opt = opt("alpha_opt.bin")?;
    learner.buffer = HerBuffer::from_bytes(&read("buffer.bin")?).ok_or_else(|| err(&cp.join("buffer.bin"), "not a replay buffer"))?;
    learner.normalizer = state.normalizer;
    learner.updates = state.updates;
    Ok(Some((learner, state.run)))
}
