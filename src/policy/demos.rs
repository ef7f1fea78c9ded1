//! Demonstration files: episodes driven by a person (the viewer's teleop
//! mode) or a script, stored as JSON for imitation learning.
//!
//! A file holds everything needed to replay its episodes: the full task
//! config, and per episode the env seed and every step's observation and
//! action. `Env::reset(seed)` followed by the recorded actions reproduces the
//! recorded observations exactly (on the same machine).
//!
//! The same format serves the viewer's teleop recordings and
//! `gesture-lab demos record` (the scripted oracle, successful episodes
//! only); learning reads either through [`Demonstrations::load`] and
//! [`Demonstrations::check_for`].

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::write_atomic;
use crate::env::Env;
use crate::rl::her::Episode;
use crate::rng::episode_seed;
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
    /// Episodes run to obtain these (a recorder that keeps only successes
    /// tried more); absent in teleop recordings, which keep every episode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub episodes_tried: Option<u64>,
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
            action_dim: task_config.robot.action_dim(),
            episodes_tried: None,
            episodes: Vec::new(),
        }
    }

    /// The grasp mode the episodes were recorded in.
    pub fn grasp_mode(&self) -> crate::sim::physics::GraspMode {
        self.task_config.physics.grasp
    }

    /// Refuses, naming `path` and the field, a file recorded for another
    /// task, grasp mode, observation, goal or action shape than `task`
    /// (whose env has `obs_dim` and `goal_dim`).
    pub fn check_for(&self, path: &Path, task: &TaskConfig, obs_dim: usize, goal_dim: usize) -> crate::Result<()> {
        let bad = |field: &str, file: String, want: String| {
            Err(crate::Error::Invalid(format!(
                "{}: field `{field}` is {file} but training needs {want}: these demonstrations were recorded for something else",
                path.display()
            )))
        };
        if self.task != task.task {
            return bad("task", format!("\"{}\"", self.task), format!("\"{}\"", task.task));
        }
        if self.grasp_mode() != task.physics.grasp {
            return bad("task_config.physics.grasp", format!("\"{}\"", self.grasp_mode()), format!("\"{}\" (--grasp)", task.physics.grasp));
        }
        for (field, file, want) in [
            ("observation_dim", self.observation_dim, obs_dim),
            ("goal_dim", self.goal_dim, goal_dim),
            ("action_dim", self.action_dim, task.robot.action_dim()),
        ] {
            if file != want {
                return bad(field, file.to_string(), want.to_string());
            }
        }
        Ok(())
    }

    /// The successful episodes as replay episodes (T + 1 observations and
    /// achieved goals, T desired goals and actions). Failed ones (a teleop
    /// recording keeps them) are left out: imitating them would teach the
    /// failure.
    pub fn successful_episodes(&self) -> Vec<Episode> {
        self.episodes
            .iter()
            .filter(|e| e.success && !e.steps.is_empty())
            .map(|e| {
                let mut ep = Episode::default();
                for s in &e.steps {
                    ep.observations.extend_from_slice(&s.observation);
                    ep.achieved_goals.extend_from_slice(&s.achieved_goal);
                    ep.desired_goals.extend_from_slice(&s.desired_goal);
                    ep.actions.extend_from_slice(&s.action);
                }
                ep.observations.extend_from_slice(&e.final_observation.observation);
                ep.achieved_goals.extend_from_slice(&e.final_observation.achieved_goal);
                ep
            })
            .collect()
    }

    /// Counts and means for `demos info`.
    pub fn summary(&self) -> DemoSummary {
        let n = self.episodes.len();
        let successes = self.episodes.iter().filter(|e| e.success).count();
        let steps: usize = self.episodes.iter().map(|e| e.steps.len()).sum();
        // Steps until the first success, read from the recorded rewards
        // (0 once the goal is reached, in the sparse reward).
        let to_success: Vec<usize> =
            self.episodes.iter().filter(|e| e.success).filter_map(|e| e.steps.iter().position(|s| s.reward == 0.0).map(|t| t + 1)).collect();
        DemoSummary {
            task: self.task.clone(),
            // The camera tasks hold nothing.
            grasp: if !self.task_config.robot.has_psm() { "none".into() } else { self.task_config.physics.grasp.to_string() },
            source: self.source.clone(),
            episodes: n,
            episodes_tried: self.episodes_tried,
            successful_episodes: successes,
            success_rate: successes as f64 / n.max(1) as f64,
            transitions: steps,
            mean_episode_steps: steps as f64 / n.max(1) as f64,
            mean_steps_to_success: (!to_success.is_empty()).then(|| to_success.iter().sum::<usize>() as f64 / to_success.len() as f64),
            observation_dim: self.observation_dim,
            goal_dim: self.goal_dim,
            action_dim: self.action_dim,
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
        let robot = &demos.task_config.robot;
        if demos.action_dim != robot.action_dim() {
            return Err(bad(format!("field `action_dim` is {}, the instruments ({}) take {}", demos.action_dim, robot.action_names(), robot.action_dim())));
        }
        for (i, ep) in demos.episodes.iter().enumerate() {
            for (t, s) in ep.steps.iter().enumerate() {
                if s.action.len() != demos.action_dim
                    || s.observation.len() != demos.observation_dim
                    || s.desired_goal.len() != demos.goal_dim
                    || s.achieved_goal.len() != demos.goal_dim
                {
                    return Err(bad(format!("episode {i} step {t}: lengths do not match the file's dimensions")));
                }
                if let Some(v) = s.action.iter().find(|v| !(v.is_finite() && v.abs() <= 1.0)) {
                    return Err(bad(format!("episode {i} step {t}: field `action` holds {v}, outside [-1, 1]")));
                }
                if s.observation.iter().chain(&s.achieved_goal).chain(&s.desired_goal).any(|v| !v.is_finite()) {
                    return Err(bad(format!("episode {i} step {t}: a non-finite observation or goal")));
                }
            }
            let last = &ep.final_observation;
            if last.observation.len() != demos.observation_dim || last.achieved_goal.len() != demos.goal_dim || last.flat().iter().any(|v| !v.is_finite()) {
                return Err(bad(format!("episode {i}: field `final_observation` does not match the file's dimensions or is not finite")));
            }
        }
        Ok(demos)
    }
}

/// The demonstrations `train --demos` learns from: every successful episode
/// of every file, each file checked against `task` first.
pub fn load_for_training(paths: &[std::path::PathBuf], task: &TaskConfig) -> crate::Result<(crate::rl::her::DemoBuffer, String)> {
    let env = Env::new(task.clone())?;
    let (obs_dim, goal_dim) = (env.observation_dim(), env.goal_dim());
    let (mut episodes, mut failed, mut files) = (Vec::new(), 0usize, Vec::new());
    for path in paths {
        let demos = Demonstrations::load(path)?;
        demos.check_for(path, task, obs_dim, goal_dim)?;
        let kept = demos.successful_episodes();
        failed += demos.episodes.len() - kept.len();
        files.push(format!("{} ({} episodes)", path.display(), kept.len()));
        episodes.extend(kept);
    }
    if episodes.is_empty() {
        return Err(crate::Error::Invalid(format!("{}: no successful demonstration episode to learn from", files.join(", "))));
    }
    let buffer = crate::rl::her::DemoBuffer::new(obs_dim, goal_dim, task.robot.action_dim(), episodes)?;
    let mut report = format!("demonstrations: {} episodes, {} transitions, from {}", buffer.episodes().len(), buffer.len(), files.join(", "));
    if failed > 0 {
        report += &format!("; {failed} unsuccessful episode(s) left out");
    }
    Ok((buffer, report))
}

/// What `demos info` prints.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DemoSummary {
    pub task: String,
    /// "friction" or "assisted"; "none" for the camera tasks.
    pub grasp: String,
    pub source: String,
    pub episodes: usize,
    pub episodes_tried: Option<u64>,
    pub successful_episodes: usize,
    /// Successful episodes over those in the file.
    pub success_rate: f64,
    pub transitions: usize,
    pub mean_episode_steps: f64,
    /// Over successful episodes: steps until the reward first reached 0.
    pub mean_steps_to_success: Option<f64>,
    pub observation_dim: usize,
    pub goal_dim: usize,
    pub action_dim: usize,
}

/// Runs the task's scripted oracle on episodes `episode_seed(seed, 0, k)`,
/// k = 0, 1, ..., keeping only successful episodes (as SurRoL does) until
/// `wanted` are kept. Gives up, with an error, after `max_tries` episodes.
/// `on_episode(kept, tried)` is called after each episode.
pub fn record_oracle(config: &TaskConfig, wanted: usize, seed: u64, max_tries: u64, on_episode: &mut dyn FnMut(usize, u64)) -> crate::Result<Demonstrations> {
    record_oracle_with_recovery(config, wanted, seed, max_tries, RecoveryPerturbation::default(), on_episode)
}

/// Perturbations of the oracle, so that demonstrations also show it
/// recovering: a clone of a flawless oracle never sees a jaw shut beside the
/// needle, a blade wedged on it or a dropped object, and then sits there
/// (the point of DART and DAgger). A perturbed episode has Gaussian noise on
/// every action and/or one burst of uniformly random actions. Noise on a
/// position-target jaw opens it part-way and drops what it holds, so each
/// action component has its own noise (0 for the jaw). Actions are
/// recorded as executed: the noise is zero-mean, so behaviour cloning's
/// target keeps the oracle's mean (up to clipping at ±1), and SAC's
/// demonstration transitions stay true to the physics.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RecoveryPerturbation {
    /// Fraction of episodes perturbed (0: none, the plain oracle).
    pub rate: f64,
    /// Standard deviation of the noise added to each action component
    /// (clipped to [−1, 1] after), in action units: one value for every
    /// component, or one per component; empty: no noise.
    pub noise_std: Vec<f64>,
    /// Uniformly random actions in the one burst, which starts at a step
    /// drawn uniformly from the first half of the episode (0: no burst).
    pub burst_steps: usize,
}

impl RecoveryPerturbation {
    pub fn validate(&self) -> crate::Result<()> {
        let bad = |m: String| Err(crate::Error::Invalid(m));
        if !(0.0..=1.0).contains(&self.rate) {
            return bad(format!("recovery rate {} must lie in [0, 1]", self.rate));
        }
        if let Some(v) = self.noise_std.iter().find(|v| !(v.is_finite() && **v >= 0.0)) {
            return bad(format!("recovery noise {v} must be a finite standard deviation >= 0"));
        }
        if self.rate > 0.0 && self.noise_std.iter().all(|&v| v == 0.0) && self.burst_steps == 0 {
            return bad(format!("recovery rate {} with neither noise nor a burst perturbs nothing", self.rate));
        }
        Ok(())
    }

    fn describe(&self) -> String {
        let mut what = Vec::new();
        if self.noise_std.iter().any(|&v| v > 0.0) {
            what.push(format!("action noise σ = {:?}", self.noise_std));
        }
        if self.burst_steps > 0 {
            what.push(format!("a burst of {} random actions", self.burst_steps));
        }
        format!("scripted oracle, {:.0} % of episodes perturbed ({})", self.rate * 100.0, what.join(", "))
    }
}

/// One episode's perturbation, drawn from its own stream so that every
/// episode's is fixed by its seed.
struct EpisodePerturbation {
    burst: std::ops::Range<usize>,
    /// Per action component (empty: none).
    noise_std: Vec<f32>,
    rng: crate::rng::Rng,
}

impl EpisodePerturbation {
    fn plan(p: &RecoveryPerturbation, episode_seed: u64, episode_steps: usize, action_dim: usize) -> Self {
        use rand::RngExt;
        let mut rng = crate::rng::stream(episode_seed, RECOVERY_STREAM, 0);
        if p.rate == 0.0 || rng.random_range(0.0..1.0) >= p.rate {
            return Self { burst: 0..0, noise_std: Vec::new(), rng };
        }
        let start = rng.random_range(0..(episode_steps / 2).max(1));
        let noise_std = match p.noise_std.as_slice() {
            [] => Vec::new(),
            [one] => vec![*one as f32; action_dim],
            each => each.iter().map(|&v| v as f32).collect(),
        };
        Self { burst: start..start + p.burst_steps, noise_std, rng }
    }

    /// The action executed at step `t` in place of the oracle's.
    fn apply(&mut self, t: usize, oracle: Vec<f32>) -> Vec<f32> {
        use rand::RngExt;
        if self.burst.contains(&t) {
            return oracle.iter().map(|_| self.rng.random_range(-1.0f32..=1.0)).collect();
        }
        if self.noise_std.is_empty() {
            return oracle;
        }
        let noise = crate::rng::standard_normal(&mut self.rng, oracle.len());
        oracle.iter().zip(noise).zip(&self.noise_std).map(|((a, n), s)| (a + s * n).clamp(-1.0, 1.0)).collect()
    }
}

/// The random stream of recovery perturbations (see `rng::stream`).
const RECOVERY_STREAM: u64 = 0x5EC0_7E47;

/// [`record_oracle`] with the oracle perturbed by `recovery`.
pub fn record_oracle_with_recovery(
    config: &TaskConfig,
    wanted: usize,
    seed: u64,
    max_tries: u64,
    recovery: RecoveryPerturbation,
    on_episode: &mut dyn FnMut(usize, u64),
) -> crate::Result<Demonstrations> {
    recovery.validate()?;
    let mut env = Env::new(config.clone())?;
    if recovery.noise_std.len() > 1 && recovery.noise_std.len() != env.action_dim() {
        return Err(crate::Error::Invalid(format!(
            "recovery noise has {} values; {} takes actions of {} components (give one value, or one per component)",
            recovery.noise_std.len(),
            config.task,
            env.action_dim()
        )));
    }
    let source = if recovery.rate > 0.0 { recovery.describe() } else { "scripted oracle".to_string() };
    let mut demos = Demonstrations::new(config, env.observation_dim(), env.goal_dim(), &source);
    let mut tried = 0u64;
    while demos.episodes.len() < wanted {
        if tried == max_tries {
            return Err(crate::Error::Invalid(format!(
                "the {} oracle succeeded in only {} of {tried} episodes; {wanted} successful episodes were asked for",
                config.task,
                demos.episodes.len()
            )));
        }
        let episode_seed = episode_seed(seed, 0, tried);
        tried += 1;
        let mut obs = env.reset(episode_seed)?;
        let mut recorder = EpisodeRecorder::new(episode_seed);
        let mut perturbation = EpisodePerturbation::plan(&recovery, episode_seed, config.episode.steps, env.action_dim());
        let last = loop {
            let action = perturbation.apply(recorder.len(), env.oracle_action());
            let step = env.step(&action)?;
            recorder.record(&obs, &action, &step);
            if step.terminated || step.truncated {
                break step;
            }
            obs = step.observation;
        };
        if last.info.success {
            demos.episodes.push(recorder.finish(&last));
        }
        on_episode(demos.episodes.len(), tried);
    }
    demos.episodes_tried = Some(tried);
    Ok(demos)
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
