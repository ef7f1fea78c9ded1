//! Layer 4: learning. SAC+HER (optionally from demonstrations), PPO and
//! behaviour cloning in burn, the observation normaliser that belongs to a
//! policy, and the hindsight replay buffer.

pub mod bc;
pub mod checkpoint;
pub mod her;
pub mod nets;
pub mod normalizer;
pub mod ppo;
pub mod sac;

use burn::prelude::*;

use crate::task::Observation;
use nets::{Actor, tensor, values};
use normalizer::RunningNormalizer;

pub use crate::rng::{Rng, standard_normal, stream};

/// The two kinds of actor a policy can hold.
#[derive(Clone, Debug)]
pub enum PolicyNet {
    /// SAC's tanh-squashed Gaussian ("tanh-gaussian-mlp").
    TanhGaussian(Actor),
    /// PPO's Gaussian with a state-independent log-std ("gaussian-mlp").
    Gaussian(ppo::GaussianActor),
}

impl PolicyNet {
    /// The name a policy manifest records.
    pub fn kind(&self) -> &'static str {
        match self {
            PolicyNet::TanhGaussian(_) => "tanh-gaussian-mlp",
            PolicyNet::Gaussian(_) => "gaussian-mlp",
        }
    }

    fn deterministic(&self, x: Tensor<2>) -> Tensor<2> {
        match self {
            PolicyNet::TanhGaussian(a) => a.deterministic(x),
            PolicyNet::Gaussian(a) => a.deterministic(x),
        }
    }

    /// All parameters as one vector (comparisons, tests).
    pub fn parameters(&self) -> Vec<f32> {
        match self {
            PolicyNet::TanhGaussian(a) => nets::parameters(a),
            PolicyNet::Gaussian(a) => nets::parameters(a),
        }
    }
}

/// Reads `defaults` overridden by the fields of a TOML table; an unknown
/// field is an error that names it.
pub fn config_from_toml<C: serde::Serialize + serde::de::DeserializeOwned>(defaults: C, text: &str, origin: &str) -> crate::Result<C> {
    let bad = |message: String| crate::Error::Config { origin: origin.into(), message };
    let mut value = serde_json::to_value(defaults).expect("configs serialise");
    let overrides: toml::Table = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
    for (key, v) in overrides {
        let slot = value.get_mut(&key).ok_or_else(|| bad(format!("unknown key `{key}`")))?;
        *slot = serde_json::to_value(&v).expect("TOML values are JSON values");
        // One key at a time, so that a value of the wrong type is named.
        serde_json::from_value::<C>(value.clone()).map_err(|e| bad(format!("`{key} = {v}`: {e}")))?;
    }
    serde_json::from_value(value).map_err(|e| bad(e.to_string()))
}

/// `n` observation rows and `n` goal rows joined row by row and normalised,
/// as the networks take them.
///
/// With `achieved` (the achieved goal of each row), each row also holds the
/// goal minus the achieved goal (see `SacHerConfig::goal_offset_input`).
pub fn network_inputs(observations: &[f32], goals: &[f32], achieved: Option<&[f32]>, n: usize, normalizer: &RunningNormalizer) -> Vec<f32> {
    let mut x = raw_inputs(observations, goals, achieved, n);
    normalizer.normalize(&mut x);
    x
}

/// [`network_inputs`] before normalisation.
pub fn raw_inputs(observations: &[f32], goals: &[f32], achieved: Option<&[f32]>, n: usize) -> Vec<f32> {
    let (od, gd) = (observations.len() / n.max(1), goals.len() / n.max(1));
    let mut x = Vec::with_capacity(n * (od + gd + if achieved.is_some() { gd } else { 0 }));
    for i in 0..n {
        let goal = &goals[i * gd..(i + 1) * gd];
        x.extend_from_slice(&observations[i * od..(i + 1) * od]);
        x.extend_from_slice(goal);
        if let Some(achieved) = achieved {
            x.extend(goal.iter().zip(&achieved[i * gd..(i + 1) * gd]).map(|(g, a)| g - a));
        }
    }
    x
}

/// Numbers in one network input row: the observation, the goal and, with
/// `goal_offset`, the goal minus the achieved goal.
pub fn input_width(obs_dim: usize, goal_dim: usize, goal_offset: bool) -> usize {
    obs_dim + goal_dim * (1 + goal_offset as usize)
}

/// A trained goal-conditioned actor ready to act: inference weights plus the
/// input normaliser. One forward serves a whole batch of envs.
#[derive(Clone, Debug)]
pub struct GoalPolicy {
    actor: PolicyNet,
    pub normalizer: RunningNormalizer,
    pub obs_dim: usize,
    pub goal_dim: usize,
    /// The input also holds the desired minus the achieved goal.
    pub goal_offset: bool,
    device: Device,
}

impl GoalPolicy {
    pub fn new(actor: PolicyNet, normalizer: RunningNormalizer, obs_dim: usize, goal_dim: usize) -> Self {
        Self { actor, normalizer, obs_dim, goal_dim, goal_offset: false, device: Device::flex() }
    }

    pub fn with_goal_offset(mut self, goal_offset: bool) -> Self {
        self.goal_offset = goal_offset;
        self
    }

    /// Numbers in one input row.
    pub fn input_width(&self) -> usize {
        input_width(self.obs_dim, self.goal_dim, self.goal_offset)
    }

    pub fn actor(&self) -> &PolicyNet {
        &self.actor
    }

    fn inputs(&self, obs: &[Observation]) -> Tensor<2> {
        let width = self.input_width();
        let mut x = Vec::with_capacity(obs.len() * width);
        for o in obs {
            x.extend_from_slice(&o.observation);
            x.extend_from_slice(&o.desired_goal);
            if self.goal_offset {
                x.extend(o.desired_goal.iter().zip(&o.achieved_goal).map(|(g, a)| g - a));
            }
        }
        self.normalizer.normalize(&mut x);
        tensor(x, obs.len(), width, &self.device)
    }

    /// Deterministic actions (tanh of the mean), `obs.len() × action_dim`.
    pub fn act(&self, obs: &[Observation]) -> Vec<f32> {
        values(self.actor.deterministic(self.inputs(obs)))
    }

    /// Exploratory actions with the given standard-normal noise (`obs.len() × action_dim`).
    pub fn sample(&self, obs: &[Observation], noise: &[f32]) -> Vec<f32> {
        let noise = tensor(noise.to_vec(), obs.len(), noise.len() / obs.len().max(1), &self.device);
        match &self.actor {
            PolicyNet::TanhGaussian(a) => values(a.sample(self.inputs(obs), noise).0),
            PolicyNet::Gaussian(a) => {
                let mean = a.mean(self.inputs(obs));
                let std = a.log_std.val().exp().unsqueeze::<2>().repeat_dim(0, obs.len());
                values((mean + std * noise).clamp(-1.0, 1.0))
            }
        }
    }
}

/// The learning algorithms `train` offers.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Algo {
    /// Soft Actor-Critic with Hindsight Experience Replay.
    #[value(name = "sac-her")]
    #[serde(rename = "sac-her")]
    SacHer,
    /// Proximal Policy Optimisation (on the dense reward).
    #[value(name = "ppo")]
    #[serde(rename = "ppo")]
    Ppo,
    /// Behaviour cloning of demonstrations (`--demos`); `--steps` counts gradient updates.
    #[value(name = "bc")]
    #[serde(rename = "bc")]
    Bc,
}

impl Algo {
    /// The task config this algorithm learns from: PPO learns from the
    /// dense reward (minus the distance to the goal), SAC+HER from the task's own.
    pub fn learning_task(self, task: &crate::task::TaskConfig) -> crate::task::TaskConfig {
        let mut task = task.clone();
        if self == Algo::Ppo {
            task.episode.reward = crate::task::RewardMode::Dense;
        }
        task
    }

    /// The name manifests, file names and reports use.
    pub fn name(self) -> &'static str {
        match self {
            Algo::SacHer => "sac-her",
            Algo::Ppo => "ppo",
            Algo::Bc => "bc",
        }
    }

    /// Whether the algorithm learns from demonstrations: `Some(true)` it
    /// needs them, `Some(false)` it can use them, `None` it cannot.
    pub fn demonstrations(self) -> Option<bool> {
        match self {
            Algo::SacHer => Some(false),
            Algo::Ppo => None,
            Algo::Bc => Some(true),
        }
    }
}

/// The hyper-parameters of one of the algorithms.
#[derive(Clone, Debug, PartialEq)]
pub enum AlgoConfig {
    SacHer(sac::SacHerConfig),
    Ppo(ppo::PpoConfig),
    Bc(bc::BcConfig),
}

impl AlgoConfig {
    /// `algo`'s defaults, overridden by a TOML text (`text`, where it came from).
    pub fn new(algo: Algo, overrides: Option<(&str, &str)>) -> crate::Result<Self> {
        Ok(match (algo, overrides) {
            (Algo::SacHer, Some((text, origin))) => AlgoConfig::SacHer(sac::SacHerConfig::from_toml(text, origin)?),
            (Algo::SacHer, None) => AlgoConfig::SacHer(sac::SacHerConfig::new()),
            (Algo::Ppo, Some((text, origin))) => AlgoConfig::Ppo(ppo::PpoConfig::from_toml(text, origin)?),
            (Algo::Ppo, None) => AlgoConfig::Ppo(ppo::PpoConfig::new()),
            (Algo::Bc, Some((text, origin))) => AlgoConfig::Bc(bc::BcConfig::from_toml(text, origin)?),
            (Algo::Bc, None) => AlgoConfig::Bc(bc::BcConfig::new()),
        })
    }

    pub fn algo(&self) -> Algo {
        match self {
            AlgoConfig::SacHer(_) => Algo::SacHer,
            AlgoConfig::Ppo(_) => Algo::Ppo,
            AlgoConfig::Bc(_) => Algo::Bc,
        }
    }

    /// With the number of parallel envs overridden (`--envs`), checked.
    pub fn with_envs(mut self, envs: Option<usize>) -> crate::Result<Self> {
        if let Some(envs) = envs {
            self.set_envs(envs);
        }
        self.validate("--envs")?;
        Ok(self)
    }

    pub fn set_envs(&mut self, envs: usize) {
        match self {
            AlgoConfig::SacHer(c) => c.envs = envs,
            AlgoConfig::Ppo(c) => c.envs = envs,
            // BC steps no env while it learns.
            AlgoConfig::Bc(_) => {}
        }
    }

    /// Env steps between evaluations (a learning curve's resolution).
    pub fn set_eval_interval(&mut self, steps: usize) {
        match self {
            AlgoConfig::SacHer(c) => c.eval_interval = steps,
            AlgoConfig::Ppo(c) => c.eval_interval = steps,
            AlgoConfig::Bc(c) => c.eval_interval = steps,
        }
    }

    pub fn set_eval_episodes(&mut self, episodes: usize) {
        match self {
            AlgoConfig::SacHer(c) => c.eval_episodes = episodes,
            AlgoConfig::Ppo(c) => c.eval_episodes = episodes,
            AlgoConfig::Bc(c) => c.eval_episodes = episodes,
        }
    }

    pub fn validate(&self, origin: &str) -> crate::Result<()> {
        match self {
            AlgoConfig::SacHer(c) => c.validate(origin),
            AlgoConfig::Ppo(c) => c.validate(origin),
            AlgoConfig::Bc(c) => c.validate(origin),
        }
    }

    pub fn hidden(&self) -> usize {
        match self {
            AlgoConfig::SacHer(c) => c.hidden,
            AlgoConfig::Ppo(c) => c.hidden,
            AlgoConfig::Bc(c) => c.hidden,
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        match self {
            AlgoConfig::SacHer(c) => serde_json::to_value(c),
            AlgoConfig::Ppo(c) => serde_json::to_value(c),
            AlgoConfig::Bc(c) => serde_json::to_value(c),
        }
        .expect("configs serialise")
    }
}

/// What a training run of either algorithm hands back.
pub struct TrainOutcome {
    pub algo: Algo,
    /// The task config trained on (PPO switches the reward to dense).
    pub task: crate::task::TaskConfig,
    pub actor: PolicyNet,
    pub normalizer: RunningNormalizer,
    pub curve: Vec<sac::Evaluation>,
    pub env_steps: u64,
    pub wall_s: f64,
    pub updates: u64,
    pub obs_dim: usize,
    pub goal_dim: usize,
    /// The actor's input holds the goal minus the achieved goal too.
    pub goal_offset: bool,
}

impl TrainOutcome {
    pub fn policy(&self) -> GoalPolicy {
        let actor = match &self.actor {
            PolicyNet::TanhGaussian(a) => PolicyNet::TanhGaussian(a.clone()),
            PolicyNet::Gaussian(a) => PolicyNet::Gaussian(a.clone()),
        };
        GoalPolicy::new(actor, self.normalizer.clone(), self.obs_dim, self.goal_dim).with_goal_offset(self.goal_offset)
    }
}

/// Trains `config`'s algorithm on `task` for `steps` env steps (BC: gradient
/// updates): what `train` and `bench suite` both run. PPO learns from the
/// dense reward (minus the distance to the goal), so it trains on a copy of
/// `task` switched to it. `demos` feed SAC+HER and BC; BC needs them, PPO
/// refuses them.
#[allow(clippy::too_many_arguments)]
pub fn train(
    task: &crate::task::TaskConfig,
    config: &AlgoConfig,
    steps: u64,
    seed: u64,
    threads: usize,
    checkpointing: Option<&checkpoint::Checkpointing>,
    demos: Option<&her::DemoBuffer>,
    on_progress: &mut dyn FnMut(&sac::Progress),
) -> crate::Result<TrainOutcome> {
    let task = config.algo().learning_task(task);
    let name = config.algo().name();
    match (config.algo().demonstrations(), demos) {
        (Some(true), None) => return Err(crate::Error::Invalid(format!("{name} learns from demonstrations: give --demos FILE"))),
        (None, Some(_)) => return Err(crate::Error::Invalid(format!("{name} does not learn from demonstrations: leave out --demos"))),
        _ => {}
    }
    match config {
        AlgoConfig::Bc(c) => {
            let t = bc::train(&task, c.clone(), demos.expect("checked above"), steps, seed, threads, on_progress)?;
            Ok(TrainOutcome {
                algo: Algo::Bc,
                actor: PolicyNet::TanhGaussian(t.actor.valid()),
                normalizer: t.normalizer,
                curve: t.curve,
                env_steps: 0,
                wall_s: t.wall_s,
                updates: t.updates,
                obs_dim: t.obs_dim,
                goal_dim: t.goal_dim,
                goal_offset: t.goal_offset,
                task,
            })
        }
        AlgoConfig::SacHer(c) => {
            let t = sac::train_with_checkpoints(&task, c.clone(), steps, seed, threads, checkpointing, demos, on_progress)?;
            Ok(TrainOutcome {
                algo: Algo::SacHer,
                actor: t.learner.policy_actor(),
                normalizer: t.learner.normalizer.clone(),
                updates: t.learner.updates,
                obs_dim: t.learner.obs_dim,
                goal_dim: t.learner.goal_dim,
                goal_offset: t.learner.config.goal_offset_input,
                curve: t.curve,
                env_steps: t.env_steps,
                wall_s: t.wall_s,
                task,
            })
        }
        AlgoConfig::Ppo(c) => {
            let t = ppo::train_with_checkpoints(&task, c.clone(), steps, seed, threads, checkpointing, on_progress)?;
            Ok(TrainOutcome {
                algo: Algo::Ppo,
                actor: PolicyNet::Gaussian(t.agent.actor.valid()),
                normalizer: t.normalizer,
                curve: t.curve,
                env_steps: t.env_steps,
                wall_s: t.wall_s,
                updates: t.updates,
                obs_dim: t.obs_dim,
                goal_dim: t.goal_dim,
                goal_offset: false,
                task,
            })
        }
    }
}
