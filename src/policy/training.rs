//! A training run as the CLI's `train` and the Python package's
//! `gesture_lab.train` start it: the task adjusted for latency, the
//! hyper-parameters and demonstrations loaded, checkpoints, the weights
//! kept, and the bundle written. Callers only show progress.

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::files::check_output_dir;
use crate::rl::sac::{self, Evaluation, Progress};
use crate::rl::{Algo, AlgoConfig, GoalPolicy, TrainOutcome};
use crate::task::TaskConfig;

/// Which weights the bundle keeps.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KeepWeights {
    /// Those at the end of training.
    #[default]
    Last,
    /// Those of the best evaluation on the way (highest success, then lowest
    /// error; the evaluation episodes' seeds are never trained on).
    Best,
}

impl std::str::FromStr for KeepWeights {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "last" => Ok(Self::Last),
            "best" => Ok(Self::Best),
            other => Err(Error::Invalid(format!("keep = `{other}`: keep `last` or `best`"))),
        }
    }
}

/// Everything a training run needs.
#[derive(Clone, Debug)]
pub struct TrainRequest {
    pub task: TaskConfig,
    /// Observe the last K actions (`control.action_history`); None: the task
    /// config's, raised to the largest training latency.
    pub action_history: Option<usize>,
    pub algo: Algo,
    /// Env steps (bc: gradient updates).
    pub steps: u64,
    pub seed: u64,
    /// Parallel envs (overrides the algorithm config).
    pub envs: Option<usize>,
    /// Hyper-parameters as TOML text, and where the text came from (named in errors).
    pub config: Option<(String, String)>,
    /// Demonstration files.
    pub demos: Vec<PathBuf>,
    /// The bundle directory.
    pub out: PathBuf,
    /// Threads for the env pool (0 = one per core).
    pub threads: usize,
    /// Env steps between checkpoints (under `out/checkpoint`).
    pub checkpoint_every: u64,
    /// Continue from the checkpoint in `out`, if any.
    pub resume: bool,
    pub keep: KeepWeights,
}

/// What a finished run gives back (the bundle is written by then).
pub struct Trained {
    pub outcome: TrainOutcome,
    pub config: AlgoConfig,
    /// The evaluation whose weights the bundle holds.
    pub kept: Evaluation,
    pub out: PathBuf,
}

impl TrainRequest {
    /// A request with the CLI's defaults for everything but the task and algorithm.
    pub fn new(task: TaskConfig, algo: Algo) -> Self {
        Self {
            out: default_out(&task.task, algo, 0),
            task,
            action_history: None,
            algo,
            steps: 50_000,
            seed: 0,
            envs: None,
            config: None,
            demos: Vec::new(),
            threads: 0,
            checkpoint_every: 10_000,
            resume: false,
            keep: KeepWeights::Last,
        }
    }

    /// Trains and writes the bundle. `on_note` gets the remarks a user should
    /// see before training starts (latency, demonstrations loaded, ...).
    pub fn run(&self, on_note: &mut dyn FnMut(&str), on_progress: &mut dyn FnMut(&Progress)) -> Result<Trained> {
        let task = self.learning_task(on_note)?;
        if self.steps == 0 {
            return Err(Error::Invalid("steps = 0: train for at least one step".into()));
        }
        let config = AlgoConfig::new(self.algo, self.config.as_ref().map(|(t, o)| (t.as_str(), o.as_str())))?.with_envs(self.envs)?;
        if let AlgoConfig::Ppo(ppo) = &config
            && ppo.rollout_steps % task.episode.steps != 0
        {
            on_note(&format!(
                "note: rollout_steps = {} is not a multiple of the episode length {}: checkpoints are only written when a rollout ends on an episode boundary",
                ppo.rollout_steps, task.episode.steps
            ));
        }
        let demos = if self.demos.is_empty() {
            None
        } else {
            let (buffer, report) = super::demos::load_for_training(&self.demos, &self.algo.learning_task(&task))?;
            on_note(&report.to_string());
            Some(buffer)
        };
        // Before a long run, not after it: the bundle's directory must be writable.
        check_output_dir(&self.out)?;

        let mut best: Option<(Evaluation, GoalPolicy)> = None;
        let keep = self.keep;
        let mut track = |p: &Progress| {
            if let (Some(e), Some(policy)) = (&p.evaluation, &p.policy)
                && keep == KeepWeights::Best
                && best.as_ref().is_none_or(|(b, _)| (e.success_rate, -e.mean_final_error_mm) >= (b.success_rate, -b.mean_final_error_mm))
            {
                best = Some((e.clone(), policy.clone()));
            }
            on_progress(p);
        };
        let checkpointing = sac::Checkpointing { dir: self.out.clone(), every: self.checkpoint_every.max(1), resume: self.resume };
        let outcome = crate::rl::train(&task, &config, self.steps, self.seed, self.threads, Some(&checkpointing), demos.as_ref(), &mut track)?;
        let kept = match best {
            Some((e, policy)) => {
                super::save_trained_weights(&self.out, &outcome, &config, self.seed, &policy, (e.clone(), "best"))?;
                e
            }
            None => {
                super::save_trained(&self.out, &outcome, &config, self.seed)?;
                outcome.curve.last().cloned().expect("training ends with an evaluation")
            }
        };
        Ok(Trained { outcome, config, kept, out: self.out.clone() })
    }

    /// The task config trained on: under latency the policy must see the
    /// actions still on their way; the bundle's task config records this, so
    /// eval and replay observe the same.
    fn learning_task(&self, on_note: &mut dyn FnMut(&str)) -> Result<TaskConfig> {
        let mut task = self.task.clone();
        let latency = task.perturb.max_latency_steps();
        match self.action_history {
            Some(k) => {
                task.control.action_history = k;
                task.validate("action_history")?;
                if k < latency {
                    on_note(&format!("warning: action_history = {k} hides some of the up to {latency} pending action(s) from the policy"));
                }
            }
            None if latency > task.control.action_history => {
                task.control.action_history = latency;
                on_note(&format!(
                    "note: training with up to {latency} step(s) of latency: the observation carries the last {latency} action(s) (control.action_history)"
                ));
            }
            None => {}
        }
        Ok(task)
    }
}

/// Where a bundle goes by default: `policies/TASK-ALGO-seedS`.
pub fn default_out(task: &str, algo: Algo, seed: u64) -> PathBuf {
    PathBuf::from(format!("policies/{task}-{}-seed{seed}", algo.name()))
}

/// The config a bundle is evaluated on: its own, with `perturb` (or none)
/// and the grasp mode given.
pub fn evaluation_config(bundle_config: &TaskConfig, perturb: Option<&str>, grasp: Option<crate::sim::physics::GraspMode>) -> Result<TaskConfig> {
    let mut config = bundle_config.clone();
    config.perturb = crate::task::perturb::PerturbConfig::default().with_overrides(perturb.unwrap_or(""))?;
    if let Some(mode) = grasp {
        config.physics.grasp = mode;
    }
    Ok(config)
}
