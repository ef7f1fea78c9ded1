//! Proximal Policy Optimisation for continuous actions, read top to bottom:
//! the config (every hyper-parameter, with its default), the agent, then
//! the training loop — rollouts from a `VecEnv` with one batched forward per
//! control step, GAE(λ), and minibatch epochs of the clipped surrogate.
//!
//! As in CleanRL's `ppo_continuous_action`: Gaussian actor with a
//! state-independent log-std, advantage normalisation, clipped value loss,
//! entropy bonus, gradient clipping, learning-rate annealing, running
//! observation and return normalisation. Two differences: burn clips each
//! parameter's gradient norm rather than the global norm, and time-limit
//! truncations bootstrap from the value of the final observation.

use burn::module::{Module, Param};
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use rand::seq::SliceRandom;

use super::checkpoint::Checkpointing;
use super::nets::{Mlp, MlpConfig, init_parameters, parameters, tensor, values};
use super::normalizer::RunningNormalizer;
use super::sac::{Evaluation, Progress, record_evaluation};
use super::{GoalPolicy, PolicyNet, standard_normal, stream};
use crate::env::VecEnv;
use crate::error::Result;
use crate::task::{Observation, TaskConfig};
use serde::{Deserialize, Serialize};

/// Every hyper-parameter of PPO, with its default.
#[derive(Config, Debug, PartialEq)]
pub struct PpoConfig {
    /// Envs stepped in parallel; one rollout is envs × rollout_steps transitions.
    #[config(default = 16)]
    pub envs: usize,
    /// Control steps per env per rollout (a multiple of the episode length
    /// keeps every rollout on episode boundaries).
    #[config(default = 100)]
    pub rollout_steps: usize,
    /// Width of the two hidden layers of the actor and of the critic.
    #[config(default = 64)]
    pub hidden: usize,
    /// Adam learning rate (annealed linearly to 0 if `anneal_lr`).
    #[config(default = 3e-4)]
    pub lr: f64,
    #[config(default = true)]
    pub anneal_lr: bool,
    /// Discount factor.
    #[config(default = 0.99)]
    pub gamma: f64,
    /// GAE λ.
    #[config(default = 0.95)]
    pub gae_lambda: f64,
    /// Minibatches per epoch.
    #[config(default = 8)]
    pub minibatches: usize,
    /// Passes over each rollout.
    #[config(default = 10)]
    pub update_epochs: usize,
    /// Surrogate clipping ε.
    #[config(default = 0.2)]
    pub clip_coef: f64,
    /// Clip the value loss around the old values too.
    #[config(default = true)]
    pub clip_vloss: bool,
    /// Entropy bonus weight.
    #[config(default = 0.0)]
    pub ent_coef: f64,
    /// Value loss weight.
    #[config(default = 0.5)]
    pub vf_coef: f64,
    /// Gradient norm limit (per parameter tensor).
    #[config(default = 0.5)]
    pub max_grad_norm: f64,
    /// Normalise advantages within each minibatch.
    #[config(default = true)]
    pub norm_adv: bool,
    /// Initial log standard deviation of the actions.
    #[config(default = 0.0)]
    pub init_log_std: f64,
    /// Scale rewards by the running standard deviation of discounted returns.
    #[config(default = true)]
    pub normalize_reward: bool,
    /// Normalised observations are clipped to ±this.
    #[config(default = 5.0)]
    pub obs_clip: f64,
    /// Env steps between evaluations.
    #[config(default = 50000)]
    pub eval_interval: usize,
    /// Episodes per evaluation (deterministic actions, fixed seeds).
    #[config(default = 50)]
    pub eval_episodes: usize,
}

impl PpoConfig {
    /// The defaults, overridden by any field of a TOML table.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self> {
        let config = super::config_from_toml(Self::new(), text, origin)?;
        config.validate(origin)?;
        Ok(config)
    }

    pub fn validate(&self, origin: &str) -> Result<()> {
        let bad = |m: String| Err(crate::Error::Config { origin: origin.into(), message: m });
        for (name, v) in [
            ("envs", self.envs),
            ("rollout_steps", self.rollout_steps),
            ("hidden", self.hidden),
            ("minibatches", self.minibatches),
            ("update_epochs", self.update_epochs),
            ("eval_interval", self.eval_interval),
            ("eval_episodes", self.eval_episodes),
        ] {
            if v == 0 {
                return bad(format!("{name} = 0 must be at least 1"));
            }
        }
        if self.minibatches > self.envs * self.rollout_steps {
            return bad(format!("minibatches = {} exceeds the rollout's {} transitions", self.minibatches, self.envs * self.rollout_steps));
        }
        if !(self.gamma > 0.0 && self.gamma < 1.0 && (0.0..=1.0).contains(&self.gae_lambda)) {
            return bad(format!("gamma = {} must lie in (0, 1) and gae_lambda = {} in [0, 1]", self.gamma, self.gae_lambda));
        }
        for (name, v) in [("lr", self.lr), ("clip_coef", self.clip_coef), ("max_grad_norm", self.max_grad_norm), ("obs_clip", self.obs_clip)] {
            if !(v.is_finite() && v > 0.0) {
                return bad(format!("{name} = {v} must be > 0"));
            }
        }
        Ok(())
    }
}

/// Gaussian policy with a state-independent log standard deviation.
#[derive(Module, Debug)]
pub struct GaussianActor {
    mean: Mlp,
    pub log_std: Param<Tensor<1>>,
}

impl GaussianActor {
    pub fn new(input: usize, action_dim: usize, hidden: usize, init_log_std: f64, device: &Device) -> Self {
        let log_std = Tensor::<1>::from_floats(vec![init_log_std as f32; action_dim].as_slice(), device);
        Self { mean: MlpConfig::new(input, action_dim).with_hidden(hidden).init(device), log_std: Param::from_tensor(log_std) }
    }

    pub fn mean(&self, x: Tensor<2>) -> Tensor<2> {
        self.mean.forward(x)
    }

    /// The deterministic action: the mean, clipped to the action bounds.
    pub fn deterministic(&self, x: Tensor<2>) -> Tensor<2> {
        self.mean(x).clamp(-1.0, 1.0)
    }

    /// Log-probability (B × 1) of `actions` and the entropy per sample (B × 1).
    fn log_prob_entropy(&self, x: Tensor<2>, actions: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let mean = self.mean(x);
        let batch = mean.dims()[0];
        let log_std = self.log_std.val().unsqueeze::<2>().repeat_dim(0, batch);
        let z = (actions - mean) / log_std.clone().exp();
        let half_log_two_pi = 0.5 * (2.0 * std::f64::consts::PI).ln();
        let log_prob = (z.square().mul_scalar(-0.5) - log_std.clone()).sub_scalar(half_log_two_pi).sum_dim(1);
        let entropy = log_std.add_scalar(0.5 + half_log_two_pi).sum_dim(1);
        (log_prob, entropy)
    }
}

/// Actor and critic trained together with one optimiser.
#[derive(Module, Debug)]
pub struct ActorCritic {
    pub actor: GaussianActor,
    critic: Mlp,
}

impl ActorCritic {
    fn new(input: usize, action_dim: usize, config: &PpoConfig, device: &Device) -> Self {
        Self {
            actor: GaussianActor::new(input, action_dim, config.hidden, config.init_log_std, device),
            critic: MlpConfig::new(input, 1).with_hidden(config.hidden).init(device),
        }
    }
    fn value(&self, x: Tensor<2>) -> Tensor<2> {
        self.critic.forward(x)
    }
}

/// The result of a PPO run.
pub struct TrainedPpo {
    pub agent: ActorCritic,
    pub normalizer: RunningNormalizer,
    pub curve: Vec<Evaluation>,
    pub env_steps: u64,
    pub wall_s: f64,
    pub updates: u64,
    pub obs_dim: usize,
    pub goal_dim: usize,
}

impl TrainedPpo {
    pub fn policy(&self) -> GoalPolicy {
        GoalPolicy::new(PolicyNet::Gaussian(self.agent.actor.valid()), self.normalizer.clone(), self.obs_dim, self.goal_dim)
    }
    pub fn actor_parameters(&self) -> Vec<f32> {
        parameters(&self.agent.actor)
    }
}

fn inputs(obs: &[Observation], normalizer: &RunningNormalizer) -> Vec<f32> {
    let mut x = Vec::new();
    for o in obs {
        x.extend_from_slice(&o.observation);
        x.extend_from_slice(&o.desired_goal);
    }
    normalizer.normalize(&mut x);
    x
}

/// Everything a PPO checkpoint holds besides the agent and optimiser.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct PpoState {
    format: String,
    config: PpoConfig,
    task: TaskConfig,
    seed: u64,
    /// Rollouts the run was planned for (the learning-rate schedule's length).
    rollouts: u64,
    next_rollout: u64,
    env_steps: u64,
    next_eval: u64,
    next_checkpoint: u64,
    updates: u64,
    curve: Vec<Evaluation>,
    normalizer: RunningNormalizer,
    return_stats: RunningNormalizer,
    discounted: Vec<f64>,
    episode_counters: Vec<u64>,
    wall_s: f64,
}

const PPO_FORMAT: &str = "gesture-lab-ppo-checkpoint-1";

/// Trains PPO on `task` for `total_steps` env steps.
pub fn train(task: &TaskConfig, config: PpoConfig, total_steps: u64, seed: u64, threads: usize, on_progress: &mut dyn FnMut(&Progress)) -> Result<TrainedPpo> {
    train_with_checkpoints(task, config, total_steps, seed, threads, None, on_progress)
}

/// [`train`], saving checkpoints at rollout ends that fall on episode
/// boundaries, and resuming from them.
pub fn train_with_checkpoints(
    task: &TaskConfig,
    config: PpoConfig,
    total_steps: u64,
    seed: u64,
    threads: usize,
    checkpointing: Option<&Checkpointing>,
    on_progress: &mut dyn FnMut(&Progress),
) -> Result<TrainedPpo> {
    config.validate("PPO config")?;
    let start = std::time::Instant::now();
    let (e, t_max) = (config.envs, config.rollout_steps);
    let mut venv = VecEnv::new(task, e, seed, threads)?;
    let (obs_dim, goal_dim, ad) = (venv.envs()[0].observation_dim(), venv.envs()[0].goal_dim(), venv.action_dim());
    let input = obs_dim + goal_dim;
    let device = Device::flex().autodiff();
    let plain = Device::flex();
    let mut init_rng = stream(seed, 10, 0);
    let mut agent = init_parameters(ActorCritic::new(input, ad, &config, &device), &mut init_rng);
    // The log-std is a parameter, not a weight: back to its configured start.
    agent.actor.log_std = Param::from_tensor(Tensor::<1>::from_floats(vec![config.init_log_std as f32; ad].as_slice(), &device));
    let adam = AdamConfig::new().with_epsilon(1e-5).with_grad_clipping(Some(GradientClippingConfig::Norm(config.max_grad_norm as f32)));
    let mut optimizer = adam.init();
    let mut normalizer = RunningNormalizer::new(input, config.obs_clip as f32);
    // Running variance of discounted returns, for reward scaling.
    let mut return_stats = RunningNormalizer::new(1, f32::MAX);
    let mut discounted = vec![0.0f64; e];

    let batch = e * t_max;
    let rollouts = total_steps.div_ceil(batch as u64);
    let every = checkpointing.map_or(u64::MAX, |c| c.every.max(1));
    let (mut env_steps, mut next_eval, mut updates, mut curve) = (0u64, 0u64, 0u64, Vec::new());
    let (mut first_rollout, mut next_checkpoint, mut wall_before) = (0u64, every, 0.0f64);
    let mut obs = match checkpointing.filter(|c| c.resume).map(|c| super::checkpoint::read_dir(&c.dir)).transpose()?.flatten() {
        Some(cp) => {
            let state: PpoState = serde_json::from_value(cp.state.clone()).map_err(|e| cp.error(format!("not a PPO checkpoint: {e}")))?;
            if state.format != PPO_FORMAT {
                return Err(cp.error(format!("checkpoint format `{}`, expected `{PPO_FORMAT}`", state.format)));
            }
            super::checkpoint::check_same(&cp, &state.task, task, state.config == config, state.seed, seed)?;
            if config.anneal_lr && state.rollouts != rollouts {
                return Err(cp.error(format!(
                    "the checkpoint was made for {} rollouts, not {rollouts}: with anneal_lr the learning-rate schedule depends on --steps",
                    state.rollouts
                )));
            }
            for (stats, dim) in [(&state.normalizer, input), (&state.return_stats, 1)] {
                stats.check().map_err(|e| cp.error(e))?;
                if stats.dim() != dim {
                    return Err(cp.error(format!("running statistics of {} components, expected {dim}", stats.dim())));
                }
            }
            if state.discounted.len() != e || state.episode_counters.len() != e {
                return Err(cp.error(format!("the checkpoint holds {} envs' returns, the config {e} envs", state.discounted.len())));
            }
            agent = ActorCritic::new(input, ad, &config, &device).try_load_record(cp.record("agent.bpk")?).map_err(|e| cp.error(e))?;
            optimizer = cp.optimizer("optimizer.bin", &adam)?;
            (first_rollout, env_steps, next_eval, next_checkpoint, updates, curve) =
                (state.next_rollout, state.env_steps, state.next_eval, state.next_checkpoint, state.updates, state.curve);
            (normalizer, return_stats, discounted, wall_before) = (state.normalizer, state.return_stats, state.discounted, state.wall_s);
            venv.reset_to(&state.episode_counters)?
        }
        None => venv.reset()?,
    };
    let wall = || wall_before + start.elapsed().as_secs_f64();
    let (mut window_success, mut window_error, mut window_count) = (0usize, 0.0f64, 0usize);
    for rollout in first_rollout..rollouts {
        if env_steps >= next_eval {
            let policy = GoalPolicy::new(PolicyNet::Gaussian(agent.actor.valid()), normalizer.clone(), obs_dim, goal_dim);
            record_evaluation(&policy, task, config.eval_episodes, threads, (env_steps, total_steps, wall()), &mut curve, on_progress)?;
            next_eval += config.eval_interval as u64;
        }
        // Collect a rollout with the current policy: one forward for all envs per step.
        let inference = agent.valid();
        let mut xs = Vec::with_capacity(batch * input);
        let mut actions = Vec::with_capacity(batch * ad);
        let (mut log_probs, mut rewards, mut dones, mut values_old) =
            (Vec::with_capacity(batch), Vec::with_capacity(batch), Vec::with_capacity(batch), Vec::with_capacity(batch));
        let log_std: Vec<f32> = inference.actor.log_std.val().into_data().try_into_vec::<f32>().expect("f32");
        let mut all_done_at_end = false;
        for t in 0..t_max {
            let raw: Vec<f32> = obs.iter().flat_map(|o| o.observation.iter().chain(&o.desired_goal).copied()).collect();
            normalizer.update(&raw);
            let x = inputs(&obs, &normalizer);
            let xt = tensor(x.clone(), e, input, &plain);
            let mean = values(inference.actor.mean(xt.clone()));
            let value = values(inference.value(xt));
            let noise = standard_normal(&mut stream(seed, 11, rollout * t_max as u64 + t as u64), e * ad);
            let mut step_actions = vec![0.0f32; e * ad];
            for i in 0..e {
                let mut lp = 0.0f64;
                for k in 0..ad {
                    let j = i * ad + k;
                    let std = (log_std[k] as f64).exp();
                    step_actions[j] = (mean[j] as f64 + std * noise[j] as f64) as f32;
                    lp += -0.5 * (noise[j] as f64).powi(2) - log_std[k] as f64 - 0.5 * (2.0 * std::f64::consts::PI).ln();
                }
                log_probs.push(lp as f32);
            }
            let clipped: Vec<f32> = step_actions.iter().map(|a| a.clamp(-1.0, 1.0)).collect();
            let step = venv.step(&clipped)?;
            env_steps += e as u64;
            // Time-limit truncation is not failure: bootstrap from the final observation.
            let finals: Vec<usize> = (0..e).filter(|&i| step.final_observations[i].is_some()).collect();
            let mut bootstrap = vec![0.0f32; e];
            if !finals.is_empty() {
                let last: Vec<Observation> = finals.iter().map(|&i| step.final_observations[i].clone().expect("final")).collect();
                let v = values(inference.value(tensor(inputs(&last, &normalizer), last.len(), input, &plain)));
                for (k, &i) in finals.iter().enumerate() {
                    if step.truncated[i] && !step.terminated[i] {
                        bootstrap[i] = v[k];
                    }
                }
            }
            for i in 0..e {
                let mut r = step.rewards[i] as f64;
                if config.normalize_reward {
                    discounted[i] = discounted[i] * config.gamma + r;
                    return_stats.update(&[discounted[i] as f32]);
                    r /= return_stats.std()[0].max(1e-8);
                }
                let done = step.terminated[i] || step.truncated[i];
                if done {
                    discounted[i] = 0.0;
                    window_success += step.infos[i].success as usize;
                    window_error += step.infos[i].tip_error_mm;
                    window_count += 1;
                }
                rewards.push(r as f32 + config.gamma as f32 * bootstrap[i]);
                dones.push(done);
                values_old.push(value[i]);
            }
            xs.extend_from_slice(&x);
            actions.extend_from_slice(&step_actions);
            all_done_at_end = finals.len() == e;
            obs = step.observations;
        }
        if window_count > 0 {
            on_progress(&Progress {
                env_steps,
                total_steps,
                wall_s: wall(),
                train_success_rate: window_success as f64 / window_count as f64,
                train_final_error_mm: window_error / window_count as f64,
                evaluation: None,
                policy: None,
                learner: None,
            });
            (window_success, window_error, window_count) = (0, 0.0, 0);
        }

        // GAE(λ), backwards through the rollout (index t·E + i).
        let next_value = values(inference.value(tensor(inputs(&obs, &normalizer), e, input, &plain)));
        let mut advantages = vec![0.0f32; batch];
        let mut last_gae = vec![0.0f32; e];
        for t in (0..t_max).rev() {
            for i in 0..e {
                let idx = t * e + i;
                let (next_v, not_done) = if dones[idx] {
                    (0.0, 0.0)
                } else if t + 1 < t_max {
                    (values_old[idx + e], 1.0)
                } else {
                    (next_value[i], 1.0)
                };
                let delta = rewards[idx] + config.gamma as f32 * next_v * not_done - values_old[idx];
                last_gae[i] = delta + (config.gamma * config.gae_lambda) as f32 * not_done * last_gae[i];
                advantages[idx] = last_gae[i];
            }
        }
        let returns: Vec<f32> = advantages.iter().zip(&values_old).map(|(a, v)| a + v).collect();

        // Minibatch epochs of the clipped surrogate.
        let lr = if config.anneal_lr { config.lr * (1.0 - rollout as f64 / rollouts as f64) } else { config.lr };
        let mb = batch / config.minibatches;
        let mut order: Vec<usize> = (0..batch).collect();
        for epoch in 0..config.update_epochs {
            order.shuffle(&mut stream(seed, 12, rollout * config.update_epochs as u64 + epoch as u64));
            for chunk in order.chunks(mb) {
                let n = chunk.len();
                let gather = |src: &[f32], width: usize| -> Vec<f32> { chunk.iter().flat_map(|&j| src[j * width..(j + 1) * width].iter().copied()).collect() };
                let mut adv = gather(&advantages, 1);
                if config.norm_adv && n > 1 {
                    let mean = adv.iter().sum::<f32>() / n as f32;
                    let std = (adv.iter().map(|a| (a - mean).powi(2)).sum::<f32>() / (n - 1) as f32).sqrt();
                    adv.iter_mut().for_each(|a| *a = (*a - mean) / (std + 1e-8));
                }
                let x = tensor(gather(&xs, input), n, input, &device);
                let a = tensor(gather(&actions, ad), n, ad, &device);
                let old_lp = tensor(gather(&log_probs, 1), n, 1, &device);
                let adv = tensor(adv, n, 1, &device);
                let ret = tensor(gather(&returns, 1), n, 1, &device);
                let old_v = tensor(gather(&values_old, 1), n, 1, &device);

                let (log_prob, entropy) = agent.actor.log_prob_entropy(x.clone(), a);
                let ratio = (log_prob - old_lp).exp();
                let surrogate = ratio.clone() * adv.clone();
                let clipped = ratio.clamp(1.0 - config.clip_coef, 1.0 + config.clip_coef) * adv;
                let pg_loss = surrogate.min_pair(clipped).neg().mean();
                let v = agent.value(x);
                let v_loss = if config.clip_vloss {
                    let unclipped = (v.clone() - ret.clone()).square();
                    let v_clipped = old_v.clone() + (v - old_v).clamp(-config.clip_coef, config.clip_coef);
                    let clipped = (v_clipped - ret).square();
                    unclipped.max_pair(clipped).mean().mul_scalar(0.5)
                } else {
                    (v - ret).square().mean().mul_scalar(0.5)
                };
                let loss = pg_loss - entropy.mean().mul_scalar(config.ent_coef) + v_loss.mul_scalar(config.vf_coef);
                let grads = GradientsParams::from_grads(loss.backward(), &agent);
                agent = optimizer.step(lr, agent, grads);
                updates += 1;
            }
        }
        // Checkpoint where every env has just started an episode.
        if let Some(c) = checkpointing
            && all_done_at_end
            && env_steps >= next_checkpoint
        {
            while next_checkpoint <= env_steps {
                next_checkpoint += every;
            }
            let state = PpoState {
                format: PPO_FORMAT.into(),
                config: config.clone(),
                task: task.clone(),
                seed,
                rollouts,
                next_rollout: rollout + 1,
                env_steps,
                next_eval,
                next_checkpoint,
                updates,
                curve: curve.clone(),
                normalizer: normalizer.clone(),
                return_stats: return_stats.clone(),
                discounted: discounted.clone(),
                episode_counters: venv.episode_counters().to_vec(),
                wall_s: wall(),
            };
            let parts = [
                ("agent.bpk", super::checkpoint::record_bytes(agent.clone().into_record())),
                ("optimizer.bin", optimizer.into_bytes().expect("optimiser state").to_vec()),
            ];
            super::checkpoint::write_dir(&c.dir, &parts, serde_json::to_value(&state).expect("state serialises"))?;
        }
    }
    let policy = GoalPolicy::new(PolicyNet::Gaussian(agent.actor.valid()), normalizer.clone(), obs_dim, goal_dim);
    record_evaluation(&policy, task, config.eval_episodes, threads, (env_steps, total_steps, wall()), &mut curve, on_progress)?;
    Ok(TrainedPpo { agent, normalizer, curve, env_steps, wall_s: wall(), updates, obs_dim, goal_dim })
}
