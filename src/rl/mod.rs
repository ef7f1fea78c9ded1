//! Layer 4: learning. SAC+HER in burn (PPO next), the observation
//! normaliser that belongs to a policy, and the hindsight replay buffer.

pub mod checkpoint;
pub mod her;
pub mod nets;
pub mod normalizer;
pub mod ppo;
pub mod run;
pub mod sac;

use burn::prelude::*;
use rand::RngExt;

use crate::env::ACTION_DIM;
use crate::task::{Observation, rng_from_seed};
use nets::{Actor, tensor, values};
use normalizer::RunningNormalizer;

pub use crate::task::Rng;

/// An independent random stream for (`seed`, `purpose`, `counter`): no
/// generator state to save, so a resumed run draws the same numbers.
pub fn stream(seed: u64, purpose: u64, counter: u64) -> Rng {
    rng_from_seed(crate::env::episode_seed(seed ^ purpose.wrapping_mul(0xA24B_AED4_963E_E407), purpose as usize, counter))
}

/// `n` standard-normal numbers (Box–Muller), from our own generator.
pub fn standard_normal(rng: &mut Rng, n: usize) -> Vec<f32> {
    (0..n)
        .map(|_| {
            let u1: f64 = rng.random_range(f64::EPSILON..1.0);
            let u2: f64 = rng.random_range(0.0..1.0);
            ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
        })
        .collect()
}

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
        *slot = serde_json::to_value(v).expect("TOML values are JSON values");
    }
    serde_json::from_value(value).map_err(|e| bad(e.to_string()))
}

/// A trained goal-conditioned actor ready to act: inference weights plus the
/// input normaliser. One forward serves a whole batch of envs.
#[derive(Clone, Debug)]
pub struct GoalPolicy {
    actor: PolicyNet,
    pub normalizer: RunningNormalizer,
    pub obs_dim: usize,
    pub goal_dim: usize,
    device: Device,
}

impl GoalPolicy {
    pub fn new(actor: PolicyNet, normalizer: RunningNormalizer, obs_dim: usize, goal_dim: usize) -> Self {
        Self { actor, normalizer, obs_dim, goal_dim, device: Device::flex() }
    }

    pub fn actor(&self) -> &PolicyNet {
        &self.actor
    }

    fn inputs(&self, obs: &[Observation]) -> Tensor<2> {
        let width = self.obs_dim + self.goal_dim;
        let mut x = Vec::with_capacity(obs.len() * width);
        for o in obs {
            x.extend_from_slice(&o.observation);
            x.extend_from_slice(&o.desired_goal);
        }
        self.normalizer.normalize(&mut x);
        tensor(x, obs.len(), width, &self.device)
    }

    /// Deterministic actions (tanh of the mean), `obs.len() × ACTION_DIM`.
    pub fn act(&self, obs: &[Observation]) -> Vec<f32> {
        values(self.actor.deterministic(self.inputs(obs)))
    }

    /// Exploratory actions with the given standard-normal noise.
    pub fn sample(&self, obs: &[Observation], noise: &[f32]) -> Vec<f32> {
        let noise = tensor(noise.to_vec(), obs.len(), ACTION_DIM, &self.device);
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
