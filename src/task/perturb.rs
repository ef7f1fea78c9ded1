//! Perturbations that a policy must learn to correct: physiological tremor
//! on the commanded tip motion, noisy position and joint readings,
//! actuation latency, and per-episode dynamics randomisation. All off by
//! default; set them in a task config's `[perturb]` table or on the command
//! line (`--perturb tremor_mm=0.3,obs_noise_mm=0.5`).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PerturbConfig {
    /// Amplitude of an 8–12 Hz tremor oscillation added to the commanded tip (mm).
    pub tremor_mm: f64,
    /// Standard deviation of white noise added to the commanded tip each step (mm).
    pub tremor_noise_mm: f64,
    /// Standard deviation of the noise on observed positions (mm).
    pub obs_noise_mm: f64,
    /// Standard deviation of the noise on observed joint readings (rad, or m for insertion).
    pub joint_noise: f64,
    /// Control steps between an action and its effect.
    pub latency_steps: usize,
    /// If above `latency_steps`, each episode's latency is drawn uniformly
    /// from `latency_steps..=latency_max_steps`.
    pub latency_max_steps: usize,
    /// Per-episode spread of link masses: each scaled uniformly in [1 − s, 1 + s].
    pub mass_spread: f64,
    /// Per-episode spread of servo stiffness.
    pub stiffness_spread: f64,
    /// Per-episode spread of servo damping.
    pub damping_spread: f64,
    /// Per-episode spread of the gravity compensation (model error).
    pub gravity_compensation_spread: f64,
    /// Chance per control step that the step is declared a physics fault, as
    /// a diverged simulation is (the episode truncates with
    /// `info.physics_fault`): a testing aid for the fault handling of
    /// trainers, evaluations and users' code. Below 1.
    #[serde(skip_serializing_if = "is_zero")]
    pub fault_rate: f64,
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

impl PerturbConfig {
    /// What `train --randomize` trains under: every perturbation, moderate.
    pub fn randomize_preset() -> Self {
        Self {
            tremor_mm: 0.3,
            tremor_noise_mm: 0.1,
            obs_noise_mm: 0.3,
            joint_noise: 0.002,
            // 0 or 1 step per episode. A policy only copes with latency when it
            // sees its pending actions (without them the task is not Markov and
            // the integrating setpoint control oscillates), so `train
            // --randomize` turns on `control.action_history` to match.
            latency_steps: 0,
            latency_max_steps: 1,
            mass_spread: 0.3,
            stiffness_spread: 0.3,
            damping_spread: 0.3,
            gravity_compensation_spread: 0.1,
            fault_rate: 0.0,
        }
    }

    /// The largest latency an episode can draw (steps).
    pub fn max_latency_steps(&self) -> usize {
        self.latency_steps.max(self.latency_max_steps)
    }

    /// Whether observations are noisy.
    pub fn senses_noisily(&self) -> bool {
        self.obs_noise_mm > 0.0 || self.joint_noise > 0.0
    }

    pub fn is_off(&self) -> bool {
        self == &Self::default()
    }

    /// Applies `key=value,key=value` overrides (the `--perturb` syntax); the
    /// word `randomize` stands for [`Self::randomize_preset`].
    pub fn with_overrides(&self, spec: &str) -> Result<Self> {
        let mut table = String::new();
        let mut base = self.clone();
        for pair in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if pair == "randomize" {
                base = Self::randomize_preset();
                continue;
            }
            let Some((k, v)) = pair.split_once('=') else {
                return Err(Error::Invalid(format!("--perturb: `{pair}` is not key=value")));
            };
            table.push_str(&format!("{} = {}\n", k.trim(), v.trim()));
        }
        let merged = crate::rl::config_from_toml(base, &table, "--perturb")?;
        merged.validate("--perturb")?;
        Ok(merged)
    }

    pub fn validate(&self, origin: &str) -> Result<()> {
        let fields = [
            ("tremor_mm", self.tremor_mm),
            ("tremor_noise_mm", self.tremor_noise_mm),
            ("obs_noise_mm", self.obs_noise_mm),
            ("joint_noise", self.joint_noise),
            ("mass_spread", self.mass_spread),
            ("stiffness_spread", self.stiffness_spread),
            ("damping_spread", self.damping_spread),
            ("gravity_compensation_spread", self.gravity_compensation_spread),
            ("fault_rate", self.fault_rate),
        ];
        for (name, v) in fields {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::Config { origin: origin.into(), message: format!("perturb.{name} = {v} must be >= 0") });
            }
        }
        for (name, v) in &fields[4..] {
            if *v >= 1.0 {
                return Err(Error::Config { origin: origin.into(), message: format!("perturb.{name} = {v} must be < 1 (a scale stays positive)") });
            }
        }
        for (name, v) in [("latency_steps", self.latency_steps), ("latency_max_steps", self.latency_max_steps)] {
            if v > 10 {
                return Err(Error::Config { origin: origin.into(), message: format!("perturb.{name} = {v} is more than 10") });
            }
        }
        Ok(())
    }
}
