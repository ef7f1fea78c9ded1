//! Layer 4: learning. SAC+HER in burn (PPO next), the observation
//! normaliser that belongs to a policy, and the hindsight replay buffer.

pub mod checkpoint;
pub mod her;
pub mod nets;
pub mod normalizer;
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

/// A trained goal-conditioned actor ready to act: inference weights plus the
/// input normaliser. One forward serves a whole batch of envs.
pub struct GoalPolicy {
    actor: Actor,
    pub normalizer: RunningNormalizer,
    pub obs_dim: usize,
    pub goal_dim: usize,
    device: Device,
}

impl GoalPolicy {
    pub fn new(actor: Actor, normalizer: RunningNormalizer, obs_dim: usize, goal_dim: usize) -> Self {
        Self { actor, normalizer, obs_dim, goal_dim, device: Device::flex() }
    }

    pub fn actor(&self) -> &Actor {
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
        values(self.actor.sample(self.inputs(obs), noise).0)
    }
}
