//! Demonstration files: episodes driven by a person (the viewer's teleop
//! mode) or a script, stored as JSON for imitation learning.
//!
//! A file holds everything needed to replay its episodes: the full task
//! config, and per episode the env seed and every step's observation and
//! action. `Env::reset(seed)` followed by the recorded actions reproduces the
//! recorded observations exactly (on the same machine).

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::write_atomic;
use crate::env::{ACTION_DIM, Env};
use crate::task::{Observation, TaskConfig};

/// The `format` field of a demonstration file.
pub const DEMOS_FORMAT: &str = "gesture-lab-demonstrations";
pub const DEMOS_FORMAT_VERSION: u32 = 1;

/// One control step: what the policy would have seen, and what was done.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DemoStep {
    /// The observation before the action.
    pub observation: Vec<f32>,
    pub achieved_goal: Vec<f32>,
    pub desired_goal: Vec<f32>,
    /// The action applied (dx, dy, dz, yaw, jaw; each in [−1, 1]).
    pub action: Vec<f32>,
    /// Reward and tip error after the action.
    pub reward: f32,
    pub tip_error_mm: f64,
}

/// One episode from its seeded reset to its end.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DemoEpisode {
    /// The seed given to `Env::reset`.
    pub seed: u64,
    pub steps: Vec<DemoStep>,
    /// The observation after the last action.
    pub final_observation: Observation,
    pub success: bool,
    pub final_tip_error_mm: f64,
}

/// A demonstration file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Demonstrations {
    pub format: String,
    pub format_version: u32,
    pub crate_version: String,
    /// Who produced the actions: "teleop (keyboard)", "scripted oracle", ...
    pub source: String,
    pub task: String,
    pub task_config: TaskConfig,
    pub observation_dim: usize,
    pub goal_dim: usize,
    pub action_dim: usize,
    pub episodes: Vec<DemoEpisode>,
}

impl Demonstrations {
    pub fn new(task_config: &TaskConfig, observation_dim: usize, goal_dim: usize, source: &str) -> Self {
        Self {
            format: DEMOS_FORMAT.into(),
            format_version: DEMOS_FORMAT_VERSION,
            crate_version: env!("CARGO_PKG_VERSION").into(),
            source: source.into(),
            task: task_config.task.clone(),
            task_config: task_config.clone(),
            observation_dim,
            goal_dim,
            action_dim: ACTION_DIM,
            episodes: Vec::new(),
        }
    }

    /// Writes the file atomically (a crash never leaves half a file).
    pub fn save(&self, path: &Path) -> crate::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| crate::Error::io(dir, e))?;
        }
        let json = serde_json::to_vec(self).expect("demonstrations serialise");
        write_atomic(path, &json).map_err(|e| crate::Error::io(path, e))
    }

    /// Reads and checks a file; every refusal names the file and the reason.
    pub fn load(path: &Path) -> crate::Result<Self> {
        let bad = |m: String| crate::Error::Invalid(format!("{}: {m}", path.display()));
        let bytes = std::fs::read(path).map_err(|e| crate::Error::io(path, e))?;
        let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| bad(format!("not a JSON demonstration file ({e})")))?;
        if value.get("format").and_then(|f| f.as_str()) != Some(DEMOS_FORMAT) {
            return Err(bad(format!("not a gesture-lab demonstration file (field `format` is not \"{DEMOS_FORMAT}\")")));
        }
        let version = value.get("format_version").and_then(|v| v.as_u64());
        if version != Some(DEMOS_FORMAT_VERSION as u64) {
            return Err(bad(format!("format_version {version:?} is not {DEMOS_FORMAT_VERSION}")));
        }
        let demos: Self = serde_json::from_value(value).map_err(|e| bad(e.to_string()))?;
        for (i, ep) in demos.episodes.iter().enumerate() {
            for (t, s) in ep.steps.iter().enumerate() {
                if s.action.len() != demos.action_dim || s.observation.len() != demos.observation_dim || s.desired_goal.len() != demos.goal_dim {
                    return Err(bad(format!("episode {i} step {t}: lengths do not match the file's dimensions")));
                }
            }
        }
        Ok(demos)
    }
}

/// Records the episode being played in an [`Env`], step by step.
#[derive(Debug)]
pub struct EpisodeRecorder {
    seed: u64,
    steps: Vec<DemoStep>,
}

impl EpisodeRecorder {
    /// Starts recording after `env.reset(seed)`.
    pub fn new(seed: u64) -> Self {
        Self { seed, steps: Vec::new() }
    }

    pub fn len(&self) -> usize {
        self.steps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// One step: the observation the action was chosen from, the action and its result.
    pub fn record(&mut self, before: &Observation, action: &[f32], step: &crate::env::Step) {
        self.steps.push(DemoStep {
            observation: before.observation.clone(),
            achieved_goal: before.achieved_goal.clone(),
            desired_goal: before.desired_goal.clone(),
            action: action.to_vec(),
            reward: step.reward,
            tip_error_mm: step.info.tip_error_mm,
        });
    }

    /// The finished episode.
    pub fn finish(self, last: &crate::env::Step) -> DemoEpisode {
        DemoEpisode {
            seed: self.seed,
            steps: self.steps,
            final_observation: last.observation.clone(),
            success: last.info.success,
            final_tip_error_mm: last.info.tip_error_mm,
        }
    }
}

/// Replays an episode's actions in `env` and returns the observations it
/// produces (before each action, then the final one).
pub fn replay_episode(env: &mut Env, episode: &DemoEpisode) -> crate::Result<Vec<Observation>> {
    let mut observations = vec![env.reset(episode.seed)?];
    for s in &episode.steps {
        let step = env.step(&s.action)?;
        observations.push(step.observation);
    }
    Ok(observations)
}
