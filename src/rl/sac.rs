//! Soft Actor-Critic with Hindsight Experience Replay, for goal-conditioned
//! tasks. Read top to bottom: the config (every hyper-parameter, with its
//! default), the learner state, one gradient update, then the training loop
//! that collects experience from a `VecEnv` and evaluates on fixed seeds.
//!
//! Determinism: all randomness (exploration, batch sampling, the actor's
//! reparameterisation noise, the initial weights) comes from our own seeded
//! generator, derived from the run's seed and a counter, never from burn's
//! device-wide one; the same seed and config give the same weights.

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use rand::RngExt;
use serde::{Deserialize, Serialize};

use super::bc::behaviour_cloning_loss;
use super::her::{Batch, DemoBuffer, Episode, HerBuffer, NStep};
use super::nets::{Actor, Temperature, TwinCritic, init_parameters, parameters, tensor, with_parameters};
use super::normalizer::RunningNormalizer;
use super::{GoalPolicy, Rng, standard_normal, stream};
use crate::env::VecEnv;
use crate::error::Result;
use crate::task::TaskConfig;

/// Every hyper-parameter of SAC+HER, with its default.
#[derive(Config, Debug, PartialEq)]
pub struct SacHerConfig {
    /// Envs stepped in parallel to collect experience.
    #[config(default = 2)]
    pub envs: usize,
    /// Width of the two hidden layers of the actor and of each critic.
    #[config(default = 64)]
    pub hidden: usize,
    /// Discount factor.
    #[config(default = 0.98)]
    pub gamma: f64,
    /// Polyak factor: fraction of the online critics mixed into the targets per update.
    #[config(default = 0.05)]
    pub tau: f64,
    /// Adam learning rate of the actor.
    #[config(default = 1e-3)]
    pub actor_lr: f64,
    /// Adam learning rate of the critics.
    #[config(default = 1e-3)]
    pub critic_lr: f64,
    /// Adam learning rate of log α (automatic entropy tuning).
    #[config(default = 1e-3)]
    pub alpha_lr: f64,
    /// α at the start.
    #[config(default = 0.05)]
    pub initial_alpha: f64,
    /// Target entropy is −scale × action dimensions.
    #[config(default = 1.0)]
    pub target_entropy_scale: f64,
    /// Transitions per gradient update.
    #[config(default = 256)]
    pub batch_size: usize,
    /// Replay capacity in transitions.
    #[config(default = 1000000)]
    pub buffer_size: usize,
    /// HER relabelled goals per real goal ("future" strategy).
    #[config(default = 4)]
    pub her_k: usize,
    /// Env steps of uniform random actions before the actor acts.
    #[config(default = 1000)]
    pub random_steps: usize,
    /// Gradient updates per env step once learning has started.
    #[config(default = 0.5)]
    pub updates_per_step: f64,
    /// Normalised inputs are clipped to ±this.
    #[config(default = 5.0)]
    pub obs_clip: f64,
    /// Env steps between evaluations.
    #[config(default = 2000)]
    pub eval_interval: usize,
    /// Episodes per evaluation (deterministic actions, fixed seeds).
    #[config(default = 50)]
    pub eval_episodes: usize,
    // Learning from demonstrations (used only when demonstrations are given,
    // `train --demos FILE`): Nair et al. 2018's recipe, SurRoL's HER+DEMO.
    /// Share of every batch drawn from the demonstration buffer (HER
    /// relabels those rows as it does the agent's). SurRoL: 128 of 1024.
    #[config(default = 0.25)]
    pub demo_batch_fraction: f64,
    /// Weight of the behaviour-cloning loss (squared error between the
    /// actor's deterministic action and the demonstrated one, summed over
    /// the action's dimensions, mean over the demonstration rows) added to
    /// SAC's actor loss (a mean over the batch). 1000 puts a demonstration
    /// row's BC gradient ~4000 times above a row's Q gradient (batch 256, a
    /// quarter demonstrations), the ratio of Nair et al.'s and SurRoL's
    /// weights (0.0078 summed over 128 rows against 0.001 × the mean Q of 1024).
    #[config(default = 1000.0)]
    pub bc_weight: f64,
    /// Nair's Q-filter: clone a demonstrated action only where the critics
    /// rate it above the actor's own, so the actor can outgrow its teacher.
    #[config(default = true)]
    pub q_filter: bool,
    /// Behaviour-cloning-only actor updates (batches of `batch_size`
    /// demonstration rows) before the first env step; 0 = none.
    #[config(default = 0)]
    pub bc_pretrain_updates: usize,
    /// Updates at the start in which only the critics learn: the actor (say,
    /// pre-trained by behaviour cloning) acts unchanged until the critics
    /// can judge it, and the Q-filter has a meaningful Q; 0 = none.
    #[config(default = 0)]
    pub critic_warmup_updates: usize,
    /// With demonstrations, compute the input statistics from them alone
    /// and keep them fixed. Updating them with the agent's own episodes
    /// shifts every input under an actor pre-trained on the demonstrations
    /// (measured on needle-pick: 16 % → 0 % success in 5,000 env steps with
    /// the actor itself held fixed).
    #[config(default = true)]
    pub freeze_normalizer_with_demos: bool,
    /// Floor of each input's standard deviation in the normaliser. Default:
    /// 1e-4 without demonstrations (SAC's own random exploration varies every
    /// component), 0.01 with them: a component the demonstrations hold
    /// nearly constant would otherwise be scaled up ~10⁴ times, and the
    /// actor's first small deviation from them would throw its inputs to the clip.
    #[config(default = "None")]
    pub min_input_std: Option<f64>,
    /// Take the actor's (and α's) gradient step on a second thread while
    /// the critics take theirs. The actor is then judged by the critics as
    /// they were before this update's critic step, not after it (a lag of
    /// one update; TD3 lags its actor two). Either way the same seed and
    /// config give the same weights, whatever the thread timing.
    #[config(default = true)]
    pub parallel_update: bool,
    /// Run the updates due after one env step while the envs take the
    /// next one, on the same threads. The actor that acts then lags the
    /// learner by one env step's updates (before evaluations and at the end
    /// none are left waiting). Same seed, same weights, whatever the timing.
    #[config(default = true)]
    pub overlap_env_steps: bool,
    /// Evaluate and export a running average of the actor's weights: after
    /// every actor step, average += this × (actor − average). The envs are
    /// still driven by the actor itself. A policy's success swings ±10
    /// points from one evaluation to the next as its weights move; the
    /// average moves slowly. 0 (the default): the actor itself.
    #[config(default = 0.0)]
    pub policy_average_tau: f64,
    /// The critics' target sums this many env steps of (relabelled) reward
    /// before bootstrapping: r_t + γ r_{t+1} + … + γⁿ Q(s_{t+n}), cut short
    /// at the episode's end. More than 1 carries a sparse reward back
    /// faster, at the cost of a bias: the rows after the first came from an
    /// older policy (or the demonstrator), not the current one (no
    /// correction, as in DQfD and R2D2). The entropy bonus is taken at
    /// s_{t+n} only. 1 (the default): one-step TD.
    #[config(default = 1)]
    pub n_step_returns: usize,
    /// The actor and the critics also see the goal minus the achieved goal.
    /// Without it they must subtract two inputs normalised with different
    /// statistics, and a small mismatch of the learned weights blurs the
    /// distance near the goal: a needle-pick or gauze-retrieve policy held
    /// its object still 5–7 mm from the goal (actions ~0), outside the 5 mm
    /// tolerance. The bundle records it; false (the default): the
    /// observation and the goal alone.
    #[config(default = false)]
    pub goal_offset_input: bool,
    /// End training at the first evaluation whose success rate reaches this
    /// (Stable-Baselines3's `StopTrainingOnRewardThreshold`): the run then
    /// takes the env steps and wall time to the target, not the whole
    /// budget, and the bundle holds the weights that evaluation judged. Each
    /// evaluation is `eval_episodes` episodes on fixed seeds never trained
    /// on; check the result on other seeds (`eval --seed`), since one lucky
    /// evaluation can stop a run early. None (the default): use the budget.
    #[config(default = "None")]
    pub stop_at_success: Option<f64>,
}

impl SacHerConfig {
    /// The normaliser's standard-deviation floor (see `min_input_std`).
    pub fn input_std_floor(&self, with_demonstrations: bool) -> f64 {
        self.min_input_std.unwrap_or(if with_demonstrations { 0.01 } else { 1e-4 })
    }

    /// The defaults, overridden by any field of a TOML table.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self> {
        let config = super::config_from_toml(Self::new(), text, origin)?;
        config.validate(origin)?;
        Ok(config)
    }

    pub fn validate(&self, origin: &str) -> Result<()> {
        let bad = |m: String| Err(crate::Error::Config { origin: origin.into(), message: m });
        if self.envs == 0 || self.batch_size == 0 || self.hidden == 0 || self.eval_episodes == 0 || self.eval_interval == 0 || self.n_step_returns == 0 {
            return bad("envs, batch_size, hidden, eval_episodes, eval_interval and n_step_returns must be at least 1".into());
        }
        if !(self.gamma > 0.0 && self.gamma < 1.0) {
            return bad(format!("gamma = {} must lie in (0, 1)", self.gamma));
        }
        if !(self.tau > 0.0 && self.tau <= 1.0) {
            return bad(format!("tau = {} must lie in (0, 1]", self.tau));
        }
        if !(self.demo_batch_fraction >= 0.0 && self.demo_batch_fraction < 1.0) {
            return bad(format!("demo_batch_fraction = {} must lie in [0, 1)", self.demo_batch_fraction));
        }
        if let Some(v) = self.min_input_std.filter(|v| !(v.is_finite() && *v > 0.0)) {
            return bad(format!("min_input_std = {v} must be > 0"));
        }
        if !(self.policy_average_tau >= 0.0 && self.policy_average_tau <= 1.0) {
            return bad(format!("policy_average_tau = {} must lie in [0, 1]", self.policy_average_tau));
        }
        if let Some(v) = self.stop_at_success.filter(|v| !(*v > 0.0 && *v <= 1.0)) {
            return bad(format!("stop_at_success = {v} must lie in (0, 1]"));
        }
        if !(self.bc_weight.is_finite() && self.bc_weight >= 0.0) {
            return bad(format!("bc_weight = {} must be >= 0", self.bc_weight));
        }
        for (name, v) in [
            ("actor_lr", self.actor_lr),
            ("critic_lr", self.critic_lr),
            ("alpha_lr", self.alpha_lr),
            ("initial_alpha", self.initial_alpha),
            ("updates_per_step", self.updates_per_step),
            ("obs_clip", self.obs_clip),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return bad(format!("{name} = {v} must be > 0"));
            }
        }
        Ok(())
    }
}

/// One evaluation: deterministic actions on fixed seeds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub env_steps: u64,
    pub wall_s: f64,
    pub episodes: usize,
    pub success_rate: f64,
    pub mean_final_error_mm: f64,
    /// Mean control steps until the first success, over successful episodes.
    pub mean_steps_to_success: f64,
    /// Mean final jaw-plane angle error (degrees), for tasks with an orientation goal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_orientation_error_deg: Option<f64>,
    /// Means over episodes of the RMS and maximum path-tracking error (mm), for path tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_tracking_rms_mm: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_tracking_max_mm: Option<f64>,
    /// Camera tracking: the mean share of steps with the target in the band.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_centred_fraction: Option<f64>,
    /// Tasks with objects: the share of episodes whose needle (or other
    /// object) is held at the end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_at_end_rate: Option<f64>,
    /// Tasks with arm contacts: mean control steps per episode in which a
    /// link other than the blades touched the tray or an object, and the
    /// largest such force over all episodes (N).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_collision_steps: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_collision_force_n: Option<f64>,
    /// Gradient updates done when evaluated (behaviour cloning, which takes
    /// no env steps, counts its progress in these).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updates: Option<u64>,
    /// Episodes a physics fault cut short: failures, whose final error is
    /// the last finite one before the fault.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub physics_faults: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Seeds of evaluation episodes: a stream of their own, never used in training.
pub const EVAL_SEED: u64 = 0x5EED_E7A1;

/// Runs `episodes` deterministic episodes of `policy`, batched in one VecEnv.
pub fn evaluate(policy: &GoalPolicy, config: &TaskConfig, episodes: usize, seed: u64, threads: usize) -> Result<Evaluation> {
    let mut venv = VecEnv::new(config, episodes, seed, threads)?;
    let mut obs = venv.reset()?;
    let horizon = config.episode.steps;
    let mut first_success = vec![None; episodes];
    let mut final_error = vec![0.0; episodes];
    let mut final_success = vec![false; episodes];
    let mut final_info = vec![None; episodes];
    let mut collision_steps = 0u64;
    let mut peak_collision_n = 0.0f64;
    // Each env runs one episode: once it ends, the VecEnv's automatic reset
    // starts another, whose steps are ignored.
    let mut ended = vec![false; episodes];
    let mut physics_faults = 0;
    for t in 0..horizon {
        let actions = policy.act(&obs);
        let step = venv.step(&actions)?;
        for i in 0..episodes {
            if ended[i] {
                continue;
            }
            let info = &step.infos[i];
            collision_steps += (info.instrument_collisions.pairs > 0) as u64;
            peak_collision_n = peak_collision_n.max(info.instrument_collisions.peak_force_n);
            if info.success && first_success[i].is_none() {
                first_success[i] = Some(t + 1);
            }
            if info.tip_error_mm.is_finite() {
                final_error[i] = info.tip_error_mm;
            }
            final_success[i] = info.success;
            final_info[i] = Some(info.clone());
            physics_faults += info.physics_fault as usize;
            ended[i] = step.terminated[i] || step.truncated[i];
        }
        obs = step.observations;
        if ended.iter().all(|&e| e) {
            break;
        }
    }
    let mean_of = |f: &dyn Fn(&crate::env::StepInfo) -> Option<f64>| -> Option<f64> {
        let values: Option<Vec<f64>> = final_info.iter().map(|i| i.as_ref().and_then(f)).collect();
        values.map(|v| v.iter().sum::<f64>() / v.len().max(1) as f64)
    };
    let successes = final_success.iter().filter(|&&s| s).count();
    let steps: usize = first_success.iter().zip(&final_success).filter(|(_, s)| **s).map(|(f, _)| f.unwrap_or(horizon)).sum();
    Ok(Evaluation {
        env_steps: 0,
        wall_s: 0.0,
        episodes,
        success_rate: successes as f64 / episodes as f64,
        mean_final_error_mm: final_error.iter().sum::<f64>() / episodes as f64,
        mean_steps_to_success: steps as f64 / successes.max(1) as f64,
        mean_orientation_error_deg: mean_of(&|i| i.orientation_error_deg),
        mean_tracking_rms_mm: mean_of(&|i| i.tracking.as_ref().map(|t| t.rms_error_mm)),
        mean_tracking_max_mm: mean_of(&|i| i.tracking.as_ref().map(|t| t.max_error_mm)),
        mean_centred_fraction: mean_of(&|i| i.tracking.as_ref().and_then(|t| t.centred_fraction)),
        held_at_end_rate: mean_of(&|i| i.grasp.as_ref().map(|g| (g.grasped || g.welded) as i32 as f64)),
        mean_collision_steps: config.physics.arm_contacts.then(|| collision_steps as f64 / episodes as f64),
        peak_collision_force_n: config.physics.arm_contacts.then_some(peak_collision_n),
        updates: None,
        physics_faults,
    })
}

/// Evaluates `policy` at `env_steps`, appends the result to `curve` and reports it.
pub fn record_evaluation(
    policy: &GoalPolicy,
    task: &TaskConfig,
    episodes: usize,
    threads: usize,
    (env_steps, total_steps, wall_s): (u64, u64, f64),
    curve: &mut Vec<Evaluation>,
    on_progress: &mut dyn FnMut(&Progress),
) -> Result<()> {
    let mut ev = evaluate(policy, task, episodes, EVAL_SEED, threads)?;
    ev.env_steps = env_steps;
    ev.wall_s = wall_s;
    curve.push(ev.clone());
    on_progress(&Progress {
        env_steps,
        total_steps,
        wall_s,
        train_success_rate: f64::NAN,
        train_final_error_mm: f64::NAN,
        evaluation: Some(ev),
        policy: Some(policy.clone()),
        learner: None,
    });
    Ok(())
}

/// The learner: networks, optimisers, replay and normaliser.
pub struct SacHer {
    pub config: SacHerConfig,
    pub(crate) device: Device,
    pub obs_dim: usize,
    pub goal_dim: usize,
    /// Numbers in one action (the task's instrument's).
    pub action_dim: usize,
    pub(crate) actor: Actor,
    /// The running average of the actor's weights (`policy_average_tau` > 0).
    pub(crate) actor_average: Option<Actor>,
    pub(crate) critic: TwinCritic,
    pub(crate) critic_target: TwinCritic,
    pub(crate) temperature: Temperature,
    pub(crate) actor_opt: ModuleOptimizer,
    pub(crate) critic_opt: ModuleOptimizer,
    pub(crate) alpha_opt: ModuleOptimizer,
    pub normalizer: RunningNormalizer,
    pub(crate) buffer: HerBuffer,
    /// Demonstrations sampled into every batch, if any.
    pub(crate) demos: Option<DemoBuffer>,
    pub(crate) seed: u64,
    pub updates: u64,
    /// Losses of the last update: critic, actor, α.
    pub last_losses: [f32; 3],
    /// With demonstrations, of the last update: the behaviour-cloning loss
    /// and the share of demonstration rows the Q-filter let through.
    pub last_bc: [f32; 2],
}

impl SacHer {
    pub fn new(config: SacHerConfig, task: &TaskConfig, obs_dim: usize, goal_dim: usize, seed: u64) -> Self {
        let device = Device::flex().autodiff();
        let input = super::input_width(obs_dim, goal_dim, config.goal_offset_input);
        let action_dim = task.robot.action_dim();
        let mut rng = stream(seed, 0, 0);
        let actor = init_parameters(Actor::new(input, action_dim, config.hidden, &device), &mut rng);
        let critic = init_parameters(TwinCritic::new(input, action_dim, config.hidden, &device), &mut rng);
        let critic_params = parameters(&critic);
        let critic_target = with_parameters(TwinCritic::new(input, action_dim, config.hidden, &device), &critic_params).no_grad();
        let temperature = Temperature::new(config.initial_alpha, &device);
        let actor_average = (config.policy_average_tau > 0.0).then(|| actor.clone().no_grad());
        let adam = AdamConfig::new();
        Self {
            buffer: HerBuffer::new(obs_dim, goal_dim, action_dim, task.episode.steps, config.buffer_size),
            normalizer: RunningNormalizer { min_std: config.input_std_floor(false), ..RunningNormalizer::new(input, config.obs_clip as f32) },
            actor_opt: adam.init(),
            critic_opt: adam.init(),
            alpha_opt: adam.init(),
            config,
            device,
            obs_dim,
            goal_dim,
            action_dim,
            actor_average,
            actor,
            critic,
            critic_target,
            temperature,
            seed,
            updates: 0,
            last_losses: [0.0; 3],
            demos: None,
            last_bc: [0.0; 2],
        }
    }

    /// Gives the learner demonstrations: they feed the input statistics
    /// now and every later batch.
    pub fn set_demonstrations(&mut self, demos: DemoBuffer) {
        self.normalizer.min_std = self.config.input_std_floor(true);
        let rows = self.normalizer_rows(demos.episodes());
        self.normalizer.update(&rows);
        self.demos = Some(demos);
    }

    pub fn demonstrations(&self) -> Option<&DemoBuffer> {
        self.demos.as_ref()
    }

    /// Behaviour-cloning-only updates of the actor on the demonstrations
    /// (`bc_pretrain_updates` of them, before any env step).
    pub fn pretrain_actor(&mut self, updates: usize) {
        let Some(demos) = &self.demos else { return };
        let n = self.config.batch_size;
        for i in 0..updates {
            let mut rng = stream(self.seed, 3, i as u64);
            let mut batch = Batch::with_capacity(n, self.obs_dim, self.goal_dim, self.action_dim);
            demos.sample_into(&mut batch, n, 0.0, &mut rng, &|_, _| 0.0);
            let x = tensor(self.inputs(&batch.observations, &batch.goals, &batch.achieved_goals, n), n, self.input_width(), &self.device);
            let actions = tensor(batch.actions, n, self.action_dim, &self.device);
            let loss = behaviour_cloning_loss(&self.actor, x, actions, None);
            let grads = GradientsParams::from_grads(loss.backward(), &self.actor);
            self.actor = self.actor_opt.step(self.config.actor_lr, self.actor.clone(), grads);
        }
        // The average starts from the cloned actor.
        if let Some(average) = &mut self.actor_average {
            *average = self.actor.clone().no_grad();
        }
    }

    /// Observation and goal rows joined and normalised, as the networks take them.
    fn inputs(&self, observations: &[f32], goals: &[f32], achieved: &[f32], n: usize) -> Vec<f32> {
        super::network_inputs(observations, goals, self.config.goal_offset_input.then_some(achieved), n, &self.normalizer)
    }

    /// Numbers in one network input row.
    pub fn input_width(&self) -> usize {
        super::input_width(self.obs_dim, self.goal_dim, self.config.goal_offset_input)
    }

    /// The input rows an episode shows the networks: each observation with
    /// the real goal and with a reached (relabelled) one.
    fn normalizer_rows(&self, episodes: &[Episode]) -> Vec<f32> {
        let (od, gd) = (self.obs_dim, self.goal_dim);
        let (mut observations, mut goals, mut achieved) = (Vec::new(), Vec::new(), Vec::new());
        for ep in episodes {
            for s in 0..ep.actions.len() / self.action_dim {
                let obs = &ep.observations[s * od..(s + 1) * od];
                let now = &ep.achieved_goals[s * gd..(s + 1) * gd];
                for goal in [&ep.desired_goals[s * gd..(s + 1) * gd], &ep.achieved_goals[(s + 1) * gd..(s + 2) * gd]] {
                    observations.extend_from_slice(obs);
                    goals.extend_from_slice(goal);
                    achieved.extend_from_slice(now);
                }
            }
        }
        let n = goals.len() / gd;
        super::raw_inputs(&observations, &goals, self.config.goal_offset_input.then_some(&achieved[..]), n)
    }

    /// The policy to evaluate and export (plain device, no gradients): the
    /// actor's running average if `policy_average_tau` > 0, else the actor.
    pub fn policy(&self) -> GoalPolicy {
        GoalPolicy::new(self.policy_actor(), self.normalizer.clone(), self.obs_dim, self.goal_dim).with_goal_offset(self.config.goal_offset_input)
    }

    /// The actor that drives the envs while training.
    pub fn acting_policy(&self) -> GoalPolicy {
        GoalPolicy::new(super::PolicyNet::TanhGaussian(self.actor.valid()), self.normalizer.clone(), self.obs_dim, self.goal_dim)
            .with_goal_offset(self.config.goal_offset_input)
    }

    /// The evaluated actor (see [`Self::policy`]) for inference (plain device).
    pub fn policy_actor(&self) -> super::PolicyNet {
        super::PolicyNet::TanhGaussian(self.actor_average.as_ref().unwrap_or(&self.actor).valid())
    }

    pub fn actor_parameters(&self) -> Vec<f32> {
        parameters(&self.actor)
    }

    pub fn alpha(&self) -> f32 {
        self.temperature.alpha()
    }

    pub fn stats(&self) -> LearnerStats {
        let [critic_loss, actor_loss, _] = self.last_losses;
        let [bc_loss, q_filter_pass] = self.last_bc;
        LearnerStats { updates: self.updates, critic_loss, actor_loss, alpha: self.alpha(), bc_loss, q_filter_pass }
    }

    pub fn buffer_len(&self) -> usize {
        self.buffer.len()
    }

    /// Stores finished episodes and updates the input statistics with them.
    pub fn store(&mut self, episodes: Vec<Episode>) {
        if !(self.demos.is_some() && self.config.freeze_normalizer_with_demos) {
            let rows = self.normalizer_rows(&episodes);
            self.normalizer.update(&rows);
        }
        for ep in episodes {
            self.buffer.push(ep);
        }
    }

    /// One gradient step of the critics, the actor and the temperature.
    pub fn update(&mut self, reward: &dyn Fn(&[f32], &[f32]) -> f32) {
        let c = &self.config;
        let mut rng = stream(self.seed, 1, self.updates);
        let future_p = 1.0 - 1.0 / (1.0 + c.her_k as f64);
        let n = c.batch_size;
        // With demonstrations, the last `n_demo` rows come from them.
        let n_demo = match &self.demos {
            Some(_) if c.demo_batch_fraction > 0.0 => ((n as f64 * c.demo_batch_fraction).round() as usize).clamp(1, n - 1),
            _ => 0,
        };
        let returns = NStep { steps: c.n_step_returns, gamma: c.gamma as f32 };
        let mut batch = self.buffer.sample_returns(n - n_demo, future_p, returns, &mut rng, reward);
        if let Some(demos) = self.demos.as_ref().filter(|_| n_demo > 0) {
            demos.sample_returns_into(&mut batch, n_demo, future_p, returns, &mut rng, reward);
        }
        let input = self.input_width();
        let x = self.inputs(&batch.observations, &batch.goals, &batch.achieved_goals, n);
        let next_achieved = self.config.goal_offset_input.then_some(&batch.next_achieved_goals[..]);
        // Drawn here in order; turned into normal numbers inside each step.
        let ad = self.action_dim;
        let noise_next = crate::rng::normal_uniforms(&mut rng, n * ad);
        let noise = crate::rng::normal_uniforms(&mut rng, n * ad);
        let alpha = self.temperature.alpha() as f64;
        let actor_learns = self.updates >= c.critic_warmup_updates as u64;
        let dev = &self.device;
        // Each step builds tensors of its own, so that the two steps'
        // autodiff graphs share no node when they run side by side.
        let actor_x = x.clone();
        let demo_actions = batch.actions[(n - n_demo) * ad..].to_vec();
        let actor_batch = move || ActorBatch {
            x: tensor(actor_x, n, input, dev),
            noise: tensor(crate::rng::box_muller(&noise), n, ad, dev),
            demo_actions: (n_demo > 0).then(|| tensor(demo_actions, n_demo, ad, dev)),
        };
        let critic_step = CriticStep {
            config: c,
            alpha,
            // The targets use the actor as it is before this update, untracked.
            target_actor: self.actor.clone().no_grad(),
        };
        let parallel = c.parallel_update && actor_learns;
        let judge_before_update = parallel.then(|| self.critic.clone().no_grad());
        let normalizer = &self.normalizer;
        let critic_job = || {
            let batch = CriticBatch {
                x: tensor(x, n, input, dev),
                x_next: tensor(super::network_inputs(&batch.next_observations, &batch.goals, next_achieved, n, normalizer), n, input, dev),
                actions: tensor(batch.actions.clone(), n, ad, dev),
                rewards: tensor(batch.rewards.clone(), n, 1, dev),
                discounts: (c.n_step_returns > 1).then(|| tensor(batch.bootstrap_steps.iter().map(|&m| (c.gamma as f32).powf(m)).collect(), n, 1, dev)),
                noise_next: tensor(crate::rng::box_muller(&noise_next), n, ad, dev),
            };
            critic_step.run(&mut self.critic, &mut self.critic_opt, &mut self.critic_target, batch)
        };
        // The critics that judge the actor are an untracked copy: the
        // actor's loss moves the actor only.
        let actor_job = |judge: TwinCritic| {
            let step = ActorStep { config: c, alpha, judge };
            step.run(&mut self.actor, &mut self.actor_opt, &mut self.temperature, &mut self.alpha_opt, actor_batch())
        };
        let (critic_loss, actor_result) = if let Some(judge) = judge_before_update {
            // Side by side on the current rayon pool (the training loop runs
            // its updates inside the envs' pool, whose threads are awake).
            let (critic_loss, actor_result) = rayon::join(critic_job, move || actor_job(judge));
            (critic_loss, Some(actor_result))
        } else {
            let critic_loss = critic_job();
            // During the critics' warm-up the actor's graph is not even built
            // (an autodiff graph never differentiated is only cleaned up by a
            // scan that grows with it).
            (critic_loss, actor_learns.then(|| actor_job(self.critic.clone().no_grad())))
        };
        if actor_result.is_some()
            && let Some(average) = &mut self.actor_average
        {
            let tau = c.policy_average_tau as f32;
            let mut averaged = parameters(&*average);
            for (a, o) in averaged.iter_mut().zip(parameters(&self.actor)) {
                *a += tau * (o - *a);
            }
            *average = with_parameters(average.clone(), &averaged);
        }
        let ActorResult { actor_loss, alpha_loss, bc } = actor_result.unwrap_or_default();
        if let Some(bc) = bc {
            self.last_bc = bc;
        }
        self.updates += 1;
        self.last_losses = [critic_loss, actor_loss, alpha_loss];
    }
}

/// The critics' inputs for one update.
struct CriticBatch {
    x: Tensor<2>,
    x_next: Tensor<2>,
    actions: Tensor<2>,
    rewards: Tensor<2>,
    /// With n-step returns: γ to the power of each row's bootstrap steps.
    discounts: Option<Tensor<2>>,
    noise_next: Tensor<2>,
}

/// The critics' gradient step: regress on r + γ (min Q_target(s', a') −
/// α log π(a'|s')), clipped to the range of discounted returns of rewards
/// in [−1, 0].
struct CriticStep<'a> {
    config: &'a SacHerConfig,
    alpha: f64,
    /// An untracked copy of the actor: nothing in the target is differentiated.
    target_actor: Actor,
}

impl CriticStep<'_> {
    /// Steps `critic`, then moves `critic_target` towards it; returns the critics' loss.
    fn run(&self, critic: &mut TwinCritic, optimizer: &mut ModuleOptimizer, critic_target: &mut TwinCritic, b: CriticBatch) -> f32 {
        let gamma = self.config.gamma;
        let (next_action, next_log_prob) = self.target_actor.sample(b.x_next.clone(), b.noise_next);
        let (q1_next, q2_next) = critic_target.forward(b.x_next, next_action.detach());
        let soft_next = q1_next.min_pair(q2_next) - next_log_prob.detach().mul_scalar(self.alpha);
        let clip = 1.0 / (1.0 - gamma);
        let discounted = match b.discounts {
            Some(discounts) => soft_next * discounts,
            None => soft_next.mul_scalar(gamma),
        };
        let target = (b.rewards + discounted).clamp(-clip, 0.0).detach();
        let (q1, q2) = critic.forward(b.x, b.actions);
        let loss = (q1 - target.clone()).square().mean() + (q2 - target).square().mean();
        let grads = GradientsParams::from_grads(loss.backward(), &*critic);
        *critic = optimizer.step(self.config.critic_lr, critic.clone(), grads);

        // Targets trail the online critics.
        let online = parameters(&*critic);
        let mut target = parameters(&*critic_target);
        let tau = self.config.tau as f32;
        for (t, o) in target.iter_mut().zip(&online) {
            *t += tau * (o - *t);
        }
        *critic_target = with_parameters(critic_target.clone(), &target);
        loss.into_scalar::<f32>()
    }
}

/// The actor's inputs for one update.
struct ActorBatch {
    x: Tensor<2>,
    noise: Tensor<2>,
    /// With demonstrations: the demonstrated actions of the batch's last rows.
    demo_actions: Option<Tensor<2>>,
}

#[derive(Default)]
struct ActorResult {
    actor_loss: f32,
    alpha_loss: f32,
    /// With demonstrations: the BC loss and the Q-filter's pass rate.
    bc: Option<[f32; 2]>,
}

/// The actor's and the temperature's gradient steps: maximise
/// min Q(s, π(s)) − α log π(π(s)|s), plus behaviour cloning on the
/// demonstration rows (Q-filtered); then keep the policy's entropy near the target.
struct ActorStep<'a> {
    config: &'a SacHerConfig,
    alpha: f64,
    /// The critics that judge the actor: an untracked copy.
    judge: TwinCritic,
}

impl ActorStep<'_> {
    fn run(
        &self,
        actor: &mut Actor,
        actor_opt: &mut ModuleOptimizer,
        temperature: &mut Temperature,
        alpha_opt: &mut ModuleOptimizer,
        b: ActorBatch,
    ) -> ActorResult {
        let c = self.config;
        let action_dim = b.noise.dims()[1];
        let (pi_action, log_prob) = actor.sample(b.x.clone(), b.noise);
        let (q1_pi, q2_pi) = self.judge.forward(b.x.clone(), pi_action);
        let mut actor_loss = (log_prob.clone().mul_scalar(self.alpha) - q1_pi.min_pair(q2_pi)).mean();
        let mut bc_figures = None;
        if let Some(demo_actions) = b.demo_actions {
            let n_demo = demo_actions.dims()[0];
            let x_demo = b.x.clone().narrow(0, b.x.dims()[0] - n_demo, n_demo);
            let critic = c.q_filter.then_some(&self.judge);
            let (bc, passed) = super::bc::filtered_behaviour_cloning_loss(actor, critic, x_demo, demo_actions);
            bc_figures = Some([bc.clone().into_scalar::<f32>(), passed]);
            actor_loss = actor_loss + bc.mul_scalar(c.bc_weight);
        }
        let grads = GradientsParams::from_grads(actor_loss.clone().backward(), &*actor);
        *actor = actor_opt.step(c.actor_lr, actor.clone(), grads);

        let target_entropy = -(c.target_entropy_scale * action_dim as f64);
        let log_alpha = temperature.log_alpha.val();
        let alpha_loss = (log_alpha.unsqueeze::<2>() * log_prob.detach().add_scalar(target_entropy)).neg().mean();
        let grads = GradientsParams::from_grads(alpha_loss.clone().backward(), &*temperature);
        *temperature = alpha_opt.step(c.alpha_lr, temperature.clone(), grads);
        ActorResult { actor_loss: actor_loss.into_scalar::<f32>(), alpha_loss: alpha_loss.into_scalar::<f32>(), bc: bc_figures }
    }
}

/// Progress reported to the caller (CLI progress bar, viewer).
#[derive(Clone, Debug)]
pub struct Progress {
    pub env_steps: u64,
    pub total_steps: u64,
    pub wall_s: f64,
    /// Success rate of the training episodes finished since the last report.
    pub train_success_rate: f64,
    pub train_final_error_mm: f64,
    pub evaluation: Option<Evaluation>,
    /// With every evaluation: the policy that was evaluated (the viewer
    /// plays it while training goes on).
    pub policy: Option<GoalPolicy>,
    /// SAC+HER, with each training report: the last update's figures.
    pub learner: Option<LearnerStats>,
}

/// The last gradient update of SAC+HER, for logs.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct LearnerStats {
    pub updates: u64,
    pub critic_loss: f32,
    pub actor_loss: f32,
    pub alpha: f32,
    /// With demonstrations: the behaviour-cloning loss and the share of
    /// demonstration rows the Q-filter let through.
    pub bc_loss: f32,
    pub q_filter_pass: f32,
}

/// The result of a training run.
pub struct Trained {
    pub learner: SacHer,
    pub curve: Vec<Evaluation>,
    pub env_steps: u64,
    pub wall_s: f64,
    /// Episodes left out of the replay buffer for ending early (see [`RunState::short_episodes`]).
    pub short_episodes: u64,
}

pub use super::checkpoint::Checkpointing;

/// The loop's own state: with the learner, all a checkpoint must hold for a
/// resumed run to end with the same weights as an uninterrupted one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    pub seed: u64,
    pub env_steps: u64,
    /// Acting rounds so far (numbers the exploration noise stream).
    pub rounds: u64,
    pub update_credit: f64,
    pub next_eval: u64,
    pub next_checkpoint: u64,
    pub episode_counters: Vec<u64>,
    pub curve: Vec<Evaluation>,
    /// Wall time spent before this process took over.
    pub wall_s: f64,
    /// Updates due but not run yet: with `overlap_env_steps`, the updates
    /// due after one env step run while the envs take the next.
    #[serde(default)]
    pub pending_updates: u64,
    /// Training episodes that ended before the horizon (a physics fault
    /// truncates one): left out of the replay buffer, which holds whole
    /// episodes for hindsight relabelling.
    #[serde(default)]
    pub short_episodes: u64,
}

/// Trains SAC+HER on `task` for `total_steps` env steps.
pub fn train(task: &TaskConfig, config: SacHerConfig, total_steps: u64, seed: u64, threads: usize, on_progress: &mut dyn FnMut(&Progress)) -> Result<Trained> {
    train_with_checkpoints(task, config, total_steps, seed, threads, None, None, on_progress)
}

/// [`train`], saving checkpoints and resuming from them, and learning from
/// demonstrations when `demos` holds some.
#[allow(clippy::too_many_arguments)]
pub fn train_with_checkpoints(
    task: &TaskConfig,
    config: SacHerConfig,
    total_steps: u64,
    seed: u64,
    threads: usize,
    checkpointing: Option<&Checkpointing>,
    demos: Option<&DemoBuffer>,
    on_progress: &mut dyn FnMut(&Progress),
) -> Result<Trained> {
    config.validate("SAC+HER config")?;
    if task.episode.terminate_on_success {
        return Err(crate::Error::Invalid("SAC+HER replays whole fixed-length episodes: set episode.terminate_on_success = false".into()));
    }
    let start = std::time::Instant::now();
    let mut venv = VecEnv::new(task, config.envs, seed, threads)?;
    let probe = &venv.envs()[0];
    let (obs_dim, goal_dim, action_dim) = (probe.observation_dim(), probe.goal_dim(), probe.action_dim());
    let reward_task = task.build_task();
    let reward = |a: &[f32], g: &[f32]| reward_task.compute_reward(a, g);
    let e = config.envs;

    if let Some(d) = demos
        && (d.obs_dim, d.goal_dim, d.action_dim) != (obs_dim, goal_dim, action_dim)
    {
        return Err(crate::Error::Invalid(format!(
            "the demonstrations have observation, goal and action sizes {:?}; the env has {:?}",
            (d.obs_dim, d.goal_dim, d.action_dim),
            (obs_dim, goal_dim, action_dim)
        )));
    }
    let demos = demos.filter(|d| !d.is_empty());
    let resumed = match checkpointing.filter(|c| c.resume) {
        Some(c) => super::checkpoint::load(&c.dir, task, &config, seed, demos)?,
        None => None,
    };
    let (mut learner, mut run, mut obs) = match resumed {
        Some((learner, run)) => {
            let obs = venv.reset_to(&run.episode_counters)?;
            (learner, run, obs)
        }
        None => {
            let mut learner = SacHer::new(config.clone(), task, obs_dim, goal_dim, seed);
            if let Some(d) = demos {
                learner.set_demonstrations(d.clone());
                learner.pretrain_actor(config.bc_pretrain_updates);
            }
            let every = checkpointing.map_or(u64::MAX, |c| c.every.max(1));
            let run = RunState {
                seed,
                env_steps: 0,
                rounds: 0,
                update_credit: 0.0,
                next_eval: 0,
                next_checkpoint: every,
                episode_counters: vec![0; e],
                curve: Vec::new(),
                wall_s: 0.0,
                pending_updates: 0,
                short_episodes: 0,
            };
            (learner, run, venv.reset()?)
        }
    };
    let wall = |run: &RunState| run.wall_s + start.elapsed().as_secs_f64();

    let mut episodes: Vec<Episode> = obs.iter().map(fresh_episode).collect();
    let (mut window_success, mut window_error, mut window_count, mut window_errors) = (0usize, 0.0f64, 0usize, 0usize);
    let horizon = task.episode.steps;
    let mut stopped_early = false;
    while run.env_steps < total_steps {
        if run.env_steps >= run.next_eval {
            run_pending_updates(&venv, &mut learner, &mut run, &reward);
            let at = (run.env_steps, total_steps, wall(&run));
            record_evaluation(&learner.policy(), task, config.eval_episodes, threads, at, &mut run.curve, on_progress)?;
            run.next_eval += config.eval_interval as u64;
            if reached_target(config.stop_at_success, &run.curve) {
                stopped_early = true;
                break;
            }
        }
        // Act: uniform at first, then the stochastic actor, one forward for all envs.
        let mut rng: Rng = stream(seed, 2, run.rounds);
        run.rounds += 1;
        let actions: Vec<f32> = if run.env_steps < config.random_steps as u64 {
            (0..e * action_dim).map(|_| rng.random_range(-1.0f32..=1.0)).collect()
        } else {
            learner.acting_policy().sample(&obs, &standard_normal(&mut rng, e * action_dim))
        };
        // Step, with the updates still due from the last step running alongside.
        let pending = std::mem::take(&mut run.pending_updates);
        let (step, ()) = venv.step_alongside(&actions, || (0..pending).for_each(|_| learner.update(&reward)))?;
        run.env_steps += e as u64;
        let mut finished = Vec::new();
        let mut ended = 0;
        for i in 0..e {
            let ep = &mut episodes[i];
            let last = step.final_observations[i].as_ref().unwrap_or(&step.observations[i]);
            ep.actions.extend_from_slice(&actions[i * action_dim..(i + 1) * action_dim]);
            ep.desired_goals.extend_from_slice(&obs[i].desired_goal);
            ep.observations.extend_from_slice(&last.observation);
            ep.achieved_goals.extend_from_slice(&last.achieved_goal);
            if step.final_observations[i].is_some() {
                window_success += step.infos[i].success as usize;
                window_count += 1;
                // A physics fault's error is NaN: the mean is over the others.
                if step.infos[i].tip_error_mm.is_finite() {
                    window_error += step.infos[i].tip_error_mm;
                    window_errors += 1;
                }
                ended += 1;
                let ep = std::mem::replace(ep, fresh_episode(&step.observations[i]));
                if ep.actions.len() == horizon * action_dim {
                    finished.push(ep);
                } else {
                    run.short_episodes += 1;
                }
            }
        }
        let all_at_boundary = ended == e;
        if !finished.is_empty() {
            learner.store(finished);
            on_progress(&Progress {
                env_steps: run.env_steps,
                total_steps,
                wall_s: wall(&run),
                train_success_rate: window_success as f64 / window_count as f64,
                train_final_error_mm: window_error / window_errors.max(1) as f64,
                evaluation: None,
                policy: None,
                learner: Some(learner.stats()),
            });
            (window_success, window_error, window_count, window_errors) = (0, 0.0, 0, 0);
        }
        obs = step.observations;
        // Learn: a fixed number of updates per env step once data exists,
        // now or (overlapped) while the envs take their next step.
        if run.env_steps >= config.random_steps as u64 && learner.buffer_len() > 0 {
            run.update_credit += config.updates_per_step * e as f64;
            while run.update_credit >= 1.0 {
                run.update_credit -= 1.0;
                run.pending_updates += 1;
            }
        }
        if !config.overlap_env_steps {
            run_pending_updates(&venv, &mut learner, &mut run, &reward);
        }
        // Checkpoint where every env has just started an episode, so the
        // state is the learner plus a few counters.
        if let Some(c) = checkpointing
            && all_at_boundary
            && run.env_steps >= run.next_checkpoint
        {
            while run.next_checkpoint <= run.env_steps {
                run.next_checkpoint += c.every.max(1);
            }
            run.episode_counters = venv.episode_counters().to_vec();
            let mut saved = run.clone();
            saved.wall_s = wall(&run);
            super::checkpoint::save(&c.dir, &learner, &saved, task)?;
        }
    }
    // A run stopped at its target has just evaluated the weights it ends with.
    if !stopped_early {
        run_pending_updates(&venv, &mut learner, &mut run, &reward);
        let at = (run.env_steps, total_steps, wall(&run));
        record_evaluation(&learner.policy(), task, config.eval_episodes, threads, at, &mut run.curve, on_progress)?;
    }
    Ok(Trained { learner, curve: run.curve.clone(), env_steps: run.env_steps, wall_s: wall(&run), short_episodes: run.short_episodes })
}

/// Whether the last evaluation met `stop_at_success`.
fn reached_target(stop_at_success: Option<f64>, curve: &[Evaluation]) -> bool {
    matches!((stop_at_success, curve.last()), (Some(target), Some(e)) if e.success_rate >= target)
}

/// Runs the updates still due, on the envs' threads.
fn run_pending_updates(venv: &VecEnv, learner: &mut SacHer, run: &mut RunState, reward: &(dyn Fn(&[f32], &[f32]) -> f32 + Sync)) {
    let pending = std::mem::take(&mut run.pending_updates);
    venv.install(|| (0..pending).for_each(|_| learner.update(reward)));
}

/// A new episode record that starts from `first`.
fn fresh_episode(first: &crate::task::Observation) -> Episode {
    Episode { observations: first.observation.clone(), achieved_goals: first.achieved_goal.clone(), ..Episode::default() }
}
