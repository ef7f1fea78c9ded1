//! One entry point for every algorithm: `train` picks SAC+HER or PPO, reads
//! its hyper-parameters (defaults, or a TOML file) and returns what a policy
//! bundle needs. The CLI's `train` and the viewer's live training share it.

use super::checkpoint::Checkpointing;
use super::normalizer::RunningNormalizer;
use super::ppo::{self, PpoConfig};
use super::sac::{self, Evaluation, Progress, SacHerConfig};
use super::{GoalPolicy, PolicyNet};
use burn::module::Module;
use crate::Result;
use crate::task::{RewardMode, TaskConfig};

/// The learning algorithms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// Soft Actor-Critic with Hindsight Experience Replay (sparse reward).
    SacHer,
    /// Proximal Policy Optimisation (dense reward).
    Ppo,
}

impl Algorithm {
    /// The name a manifest and the CLI use.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::SacHer => "sac-her",
            Algorithm::Ppo => "ppo",
        }
    }

    /// The task config an algorithm learns from: PPO needs the dense reward.
    pub fn task_config(self, task: &TaskConfig) -> TaskConfig {
        let mut task = task.clone();
        if self == Algorithm::Ppo {
            task.episode.reward = RewardMode::Dense;
        }
        task
    }
}

/// What to train: the task, the algorithm and the run's settings.
#[derive(Clone, Debug)]
pub struct TrainRequest {
    pub task: TaskConfig,
    pub algorithm: Algorithm,
    /// Hyper-parameters as TOML text and where it came from (for errors);
    /// `None` uses the algorithm's documented defaults.
    pub hyperparameters_toml: Option<(String, String)>,
    /// Overrides the number of parallel envs of the hyper-parameters.
    pub envs: Option<usize>,
    pub steps: u64,
    pub seed: u64,
    /// Worker threads (0 = one per core).
    pub threads: usize,
    pub checkpointing: Option<Checkpointing>,
}

/// A finished training run, ready to become a policy bundle.
pub struct TrainedPolicy {
    pub algorithm: Algorithm,
    /// The task config the policy learned (PPO's reward is dense).
    pub task: TaskConfig,
    pub actor: PolicyNet,
    pub normalizer: RunningNormalizer,
    pub curve: Vec<Evaluation>,
    pub env_steps: u64,
    pub wall_s: f64,
    pub updates: u64,
    pub obs_dim: usize,
    pub goal_dim: usize,
    pub hidden: usize,
    pub hyperparameters: serde_json::Value,
}

impl TrainedPolicy {
    /// The final evaluation (every run ends with one).
    pub fn final_evaluation(&self) -> &Evaluation {
        self.curve.last().expect("training ends with an evaluation")
    }

    pub fn policy(&self) -> GoalPolicy {
        GoalPolicy::new(self.actor.clone(), self.normalizer.clone(), self.obs_dim, self.goal_dim)
    }
}

/// Trains `request.algorithm` on `request.task`, reporting progress (and, with
/// every evaluation, a snapshot of the policy) through `on_progress`.
pub fn train(request: &TrainRequest, on_progress: &mut dyn FnMut(&Progress)) -> Result<TrainedPolicy> {
    let task = request.algorithm.task_config(&request.task);
    let toml = request.hyperparameters_toml.as_ref();
    match request.algorithm {
        Algorithm::SacHer => {
            let mut config = match toml {
                Some((text, origin)) => SacHerConfig::from_toml(text, origin)?,
                None => SacHerConfig::new(),
            };
            if let Some(envs) = request.envs {
                config.envs = envs;
            }
            config.validate("--envs")?;
            let t = sac::train_with_checkpoints(&task, config.clone(), request.steps, request.seed, request.threads, request.checkpointing.as_ref(), on_progress)?;
            Ok(TrainedPolicy {
                algorithm: request.algorithm,
                actor: t.learner.policy_actor(),
                normalizer: t.learner.normalizer.clone(),
                curve: t.curve,
                env_steps: t.env_steps,
                wall_s: t.wall_s,
                updates: t.learner.updates,
                obs_dim: t.learner.obs_dim,
                goal_dim: t.learner.goal_dim,
                hidden: config.hidden,
                hyperparameters: serde_json::to_value(&config).expect("hyper-parameters serialise"),
                task,
            })
        }
        Algorithm::Ppo => {
            let mut config = match toml {
                Some((text, origin)) => PpoConfig::from_toml(text, origin)?,
                None => PpoConfig::new(),
            };
            if let Some(envs) = request.envs {
                config.envs = envs;
            }
            config.validate("--envs")?;
            let t = ppo::train_with_checkpoints(&task, config.clone(), request.steps, request.seed, request.threads, request.checkpointing.as_ref(), on_progress)?;
            Ok(TrainedPolicy {
                algorithm: request.algorithm,
                actor: PolicyNet::Gaussian(t.agent.actor.valid()),
                normalizer: t.normalizer.clone(),
                curve: t.curve,
                env_steps: t.env_steps,
                wall_s: t.wall_s,
                updates: t.updates,
                obs_dim: t.obs_dim,
                goal_dim: t.goal_dim,
                hidden: config.hidden,
                hyperparameters: serde_json::to_value(&config).expect("hyper-parameters serialise"),
                task,
            })
        }
    }
}
