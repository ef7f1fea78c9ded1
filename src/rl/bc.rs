//! Behaviour cloning: fit the actor to demonstrated actions. Read top to
//! bottom: the config (every hyper-parameter, with its default), the loss
//! (shared with SAC+HER's demonstration term and its Q-filter), then the
//! training loop.
//!
//! The actor is SAC's tanh-squashed Gaussian, so a cloned policy is a
//! normal "tanh-gaussian-mlp" bundle that `eval`, `replay` and `view` play
//! like any other. BC takes no env steps: its progress is counted in
//! gradient updates (`train --algo bc --steps N` runs N updates), and its
//! evaluations record `env_steps = 0` with the update count.

use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;

use super::her::{Batch, DemoBuffer};
use super::nets::{Actor, TwinCritic, init_parameters, tensor};
use super::normalizer::RunningNormalizer;
use super::sac::{EVAL_SEED, Evaluation, Progress, evaluate};
use super::{GoalPolicy, PolicyNet, stream};
use crate::error::Result;
use crate::task::TaskConfig;

/// Every hyper-parameter of behaviour cloning, with its default.
#[derive(Config, Debug, PartialEq)]
pub struct BcConfig {
    /// Width of the actor's two hidden layers.
    #[config(default = 64)]
    pub hidden: usize,
    /// Adam learning rate.
    #[config(default = 1e-3)]
    pub lr: f64,
    /// Demonstration transitions per gradient update.
    #[config(default = 256)]
    pub batch_size: usize,
    /// Share of samples whose goal is relabelled to a goal reached later in
    /// the same demonstration (hindsight relabelling); 0 = the demonstrated goal.
    #[config(default = 0.0)]
    pub relabel_fraction: f64,
    /// Normalised inputs are clipped to ±this.
    #[config(default = 5.0)]
    pub obs_clip: f64,
    /// Floor of each input's standard deviation in the normaliser. A
    /// component the demonstrations hold nearly constant (the needle-reach
    /// oracle never turns the wrist) would otherwise be scaled up ~10⁴ times,
    /// and the cloned policy's first small deviation from the demonstrations
    /// would throw its inputs to the clip. (SAC's own data, explored at
    /// random, varies in every component.)
    #[config(default = 0.01)]
    pub min_input_std: f64,
    /// Gradient updates between evaluations.
    #[config(default = 1000)]
    pub eval_interval: usize,
    /// Episodes per evaluation (deterministic actions, fixed seeds).
    #[config(default = 50)]
    pub eval_episodes: usize,
    /// The actor's input also holds the desired minus the achieved goal, as
    /// SAC+HER's `goal_offset_input` (there: gauze-retrieve 60 -> 90 % after
    /// its behaviour-cloning pre-training). Recorded in the policy bundle.
    #[config(default = false)]
    pub goal_offset_input: bool,
}

impl BcConfig {
    /// The defaults, overridden by any field of a TOML table.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self> {
        let config = super::config_from_toml(Self::new(), text, origin)?;
        config.validate(origin)?;
        Ok(config)
    }

    pub fn validate(&self, origin: &str) -> Result<()> {
        let bad = |m: String| Err(crate::Error::Config { origin: origin.into(), message: m });
        if self.hidden == 0 || self.batch_size == 0 || self.eval_interval == 0 || self.eval_episodes == 0 {
            return bad("hidden, batch_size, eval_interval and eval_episodes must be at least 1".into());
        }
        if !(self.lr.is_finite() && self.lr > 0.0 && self.obs_clip.is_finite() && self.obs_clip > 0.0) {
            return bad(format!("lr = {} and obs_clip = {} must be > 0", self.lr, self.obs_clip));
        }
        if !(self.min_input_std.is_finite() && self.min_input_std > 0.0) {
            return bad(format!("min_input_std = {} must be > 0", self.min_input_std));
        }
        if !(0.0..=1.0).contains(&self.relabel_fraction) {
            return bad(format!("relabel_fraction = {} must lie in [0, 1]", self.relabel_fraction));
        }
        Ok(())
    }
}

/// Squared error between the actor's deterministic action and the
/// demonstrated one, summed over the action's dimensions, mean over rows.
pub fn behaviour_cloning_loss(actor: &Actor, x: Tensor<2>, demo_actions: Tensor<2>, mask: Option<Tensor<2>>) -> Tensor<1> {
    let error = (actor.deterministic(x) - demo_actions).square().sum_dim(1);
    match mask {
        Some(mask) => (error * mask).mean(),
        None => error.mean(),
    }
}

/// [`behaviour_cloning_loss`] with Nair et al.'s Q-filter when `critic` is
/// given: a row counts only where min Q(s, a_demo) > min Q(s, π(s)).
/// Also returns the share of rows that counted.
pub fn filtered_behaviour_cloning_loss(actor: &Actor, critic: Option<&TwinCritic>, x: Tensor<2>, demo_actions: Tensor<2>) -> (Tensor<1>, f32) {
    let Some(critic) = critic else {
        return (behaviour_cloning_loss(actor, x, demo_actions, None), 1.0);
    };
    let own = actor.deterministic(x.clone()).detach();
    let (q1_demo, q2_demo) = critic.forward(x.clone(), demo_actions.clone());
    let (q1_own, q2_own) = critic.forward(x.clone(), own);
    let mask = q1_demo.min_pair(q2_demo).greater(q1_own.min_pair(q2_own)).float().detach();
    let passed = mask.clone().mean().into_scalar::<f32>();
    (behaviour_cloning_loss(actor, x, demo_actions, Some(mask)), passed)
}

/// The result of a behaviour-cloning run.
pub struct TrainedBc {
    pub actor: Actor,
    pub normalizer: RunningNormalizer,
    pub curve: Vec<Evaluation>,
    pub updates: u64,
    pub wall_s: f64,
    pub obs_dim: usize,
    pub goal_dim: usize,
    pub goal_offset: bool,
}

impl TrainedBc {
    pub fn policy(&self) -> GoalPolicy {
        GoalPolicy::new(PolicyNet::TanhGaussian(self.actor.valid()), self.normalizer.clone(), self.obs_dim, self.goal_dim).with_goal_offset(self.goal_offset)
    }
}

/// Clones `demos` into an actor for `task` with `updates` gradient updates.
pub fn train(
    task: &TaskConfig,
    config: BcConfig,
    demos: &DemoBuffer,
    updates: u64,
    seed: u64,
    threads: usize,
    on_progress: &mut dyn FnMut(&Progress),
) -> Result<TrainedBc> {
    config.validate("BC config")?;
    if demos.is_empty() {
        return Err(crate::Error::Invalid("behaviour cloning needs at least one successful demonstration episode".into()));
    }
    let start = std::time::Instant::now();
    let device = Device::flex().autodiff();
    let (obs_dim, goal_dim, action_dim) = (demos.obs_dim, demos.goal_dim, demos.action_dim);
    let offset = config.goal_offset_input;
    let input = super::input_width(obs_dim, goal_dim, offset);
    let mut actor = init_parameters(Actor::new(input, action_dim, config.hidden, &device), &mut stream(seed, 0, 0));
    let mut optimizer: ModuleOptimizer = AdamConfig::new().init();

    // Input statistics of the demonstrations: their observations with the
    // goals BC will see.
    let mut normalizer = RunningNormalizer::new(input, config.obs_clip as f32);
    normalizer.min_std = config.min_input_std;
    for ep in demos.episodes() {
        let steps = ep.actions.len() / action_dim;
        let rows = super::raw_inputs(
            &ep.observations[..steps * obs_dim],
            &ep.desired_goals[..steps * goal_dim],
            offset.then_some(&ep.achieved_goals[..steps * goal_dim]),
            steps,
        );
        normalizer.update(&rows);
    }

    let n = config.batch_size;
    let mut curve = Vec::new();
    let policy = |actor: &Actor, normalizer: &RunningNormalizer| {
        GoalPolicy::new(PolicyNet::TanhGaussian(actor.valid()), normalizer.clone(), obs_dim, goal_dim).with_goal_offset(offset)
    };
    let evaluate = |actor: &Actor, done: u64, curve: &mut Vec<Evaluation>, on_progress: &mut dyn FnMut(&Progress)| -> Result<()> {
        let policy = policy(actor, &normalizer);
        let mut ev = evaluate(&policy, task, config.eval_episodes, EVAL_SEED, threads)?;
        ev.wall_s = start.elapsed().as_secs_f64();
        ev.updates = Some(done);
        curve.push(ev.clone());
        let (train_success_rate, train_final_error_mm) = (f64::NAN, f64::NAN);
        on_progress(&Progress {
            env_steps: 0,
            total_steps: 0,
            wall_s: ev.wall_s,
            train_success_rate,
            train_final_error_mm,
            evaluation: Some(ev),
            policy: Some(policy),
            learner: None,
        });
        Ok(())
    };
    for update in 0..updates {
        if update % config.eval_interval as u64 == 0 {
            evaluate(&actor, update, &mut curve, on_progress)?;
        }
        let mut rng = stream(seed, 1, update);
        let mut batch = Batch::with_capacity(n, obs_dim, goal_dim, action_dim);
        demos.sample_into(&mut batch, n, config.relabel_fraction, &mut rng, &|_, _| 0.0);
        let achieved = offset.then_some(&batch.achieved_goals[..]);
        let x = super::network_inputs(&batch.observations, &batch.goals, achieved, n, &normalizer);
        let loss = behaviour_cloning_loss(&actor, tensor(x, n, input, &device), tensor(batch.actions, n, action_dim, &device), None);
        let grads = GradientsParams::from_grads(loss.backward(), &actor);
        actor = optimizer.step(config.lr, actor.clone(), grads);
    }
    evaluate(&actor, updates, &mut curve, on_progress)?;
    Ok(TrainedBc { actor, normalizer, curve, updates, wall_s: start.elapsed().as_secs_f64(), obs_dim, goal_dim, goal_offset: offset })
}
