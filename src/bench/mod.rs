//! Layer 6: whole-program measurements — env throughput and the scripted
//! oracles here; `bench suite` ([`suite`]), which runs every task's oracle
//! and trains every applicable algorithm over several seeds, then writes
//! `report.json`, `report.md` ([`report`]) and one learning-curve PNG per
//! training row.

use std::time::Instant;

use anyhow::Result;
use rand::RngExt;
use serde::{Deserialize, Serialize};

use crate::env::{Env, VecEnv};
use crate::rng::episode_seed;
use crate::rng::rng_from_seed;
use crate::task::TaskConfig;

mod report;
mod soak;
mod suite;

pub use report::markdown;
pub use soak::*;
pub use suite::*;

/// What drives the envs while `bench env` measures them.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum EnvDriver {
    /// Uniform random actions.
    Random,
    /// The task's scripted oracle: on grasp tasks the jaws really grasp and
    /// carry, so contacts are active while the clock runs.
    Oracle,
}

impl EnvDriver {
    /// The default for `config`: the oracle on tasks with arm contacts, random actions otherwise.
    pub fn default_for(config: &TaskConfig) -> Self {
        if config.physics.arm_contacts { EnvDriver::Oracle } else { EnvDriver::Random }
    }
}

/// Env throughput (`bench env`).
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct BenchEnvReport {
    pub task: String,
    /// What drove the envs (older reports: random).
    #[serde(default = "random_driver")]
    pub driver: EnvDriver,
    /// The grasp mode of tasks with objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grasp: Option<String>,
    pub env_steps_per_s_1_thread: f64,
    pub threads: usize,
    pub envs: usize,
    pub env_steps_per_s_threads: f64,
    pub speedup: f64,
    pub physics_us_per_substep: f64,
    pub substeps_per_control_step: usize,
    pub substep_s: f64,
    pub solver_iterations: usize,
    /// Simulated seconds per wall-clock second, one thread.
    pub real_time_factor_1_thread: f64,
}

/// Measures env throughput on `config`: one env on this thread, then a
/// VecEnv of `envs` envs on `threads` threads (0 = one per core), each for
/// about `seconds` (at least 0.1 s); and physics alone per substep.
pub fn measure_env(config: &TaskConfig, driver: EnvDriver, threads: usize, envs: usize, seconds: f64) -> Result<BenchEnvReport> {
    let seconds = seconds.max(0.1);
    let mut rng = rng_from_seed(1);
    let action_dim = config.robot.action_dim();
    let random_actions = |rng: &mut crate::rng::Rng, n: usize| -> Vec<f32> { (0..n * action_dim).map(|_| rng.random_range(-1.0f32..=1.0)).collect() };

    // One env on this thread, resets included.
    let mut env = Env::new(config.clone())?;
    env.reset(0)?;
    let actions = random_actions(&mut rng, 4096);
    let (mut steps, mut episodes, t0) = (0u64, 0u64, Instant::now());
    while t0.elapsed().as_secs_f64() < seconds {
        for a in actions.chunks(action_dim) {
            let s = match driver {
                EnvDriver::Random => env.step(a)?,
                EnvDriver::Oracle => env.step(&env.oracle_action())?,
            };
            if s.terminated || s.truncated {
                episodes += 1;
                env.reset(episodes)?;
            }
        }
        steps += 4096;
    }
    let sps1 = steps as f64 / t0.elapsed().as_secs_f64();

    // Physics alone: substeps of a running arm.
    env.reset(0)?;
    let substeps = config.physics.substeps;
    let (mut n, t0) = (0u64, Instant::now());
    // Every instrument moving (the ECM takes the first four numbers of a PSM's).
    let a: Vec<f32> = config.robot.instruments().iter().flat_map(|(kind, _)| [0.3f32, -0.2, 0.1, 0.5, 0.0][..kind.action_dim()].to_vec()).collect();
    let mut world_time = std::time::Duration::ZERO;
    // Under the oracle, a control step between bursts keeps the jaws grasping and carrying.
    let burst = if driver == EnvDriver::Oracle { substeps as u64 } else { 64 };
    while t0.elapsed().as_secs_f64() < seconds.min(1.0) {
        let s = match driver {
            EnvDriver::Random => env.step(&a)?,
            EnvDriver::Oracle => env.step(&env.oracle_action())?,
        };
        if s.truncated || s.terminated {
            env.reset(n)?;
        }
        let t = Instant::now();
        for _ in 0..burst {
            env.step_physics_only();
        }
        world_time += t.elapsed();
        n += burst;
    }
    let physics_us = world_time.as_secs_f64() * 1e6 / n as f64;

    // A VecEnv on the thread pool.
    let mut venv = VecEnv::new(config, envs.max(1), 0, threads)?;
    venv.reset()?;
    let batch = random_actions(&mut rng, venv.num_envs());
    let (mut vsteps, t0) = (0u64, Instant::now());
    while t0.elapsed().as_secs_f64() < seconds {
        match driver {
            EnvDriver::Random => venv.step(&batch)?,
            EnvDriver::Oracle => {
                let oracle: Vec<f32> = venv.envs().iter().flat_map(|e| e.oracle_action()).collect();
                venv.step(&oracle)?
            }
        };
        vsteps += venv.num_envs() as u64;
    }
    let spst = vsteps as f64 / t0.elapsed().as_secs_f64();

    let report = BenchEnvReport {
        task: config.task.clone(),
        driver,
        grasp: config.physics.arm_contacts.then(|| config.physics.grasp.to_string()),
        env_steps_per_s_1_thread: sps1,
        threads: venv.threads(),
        envs: venv.num_envs(),
        env_steps_per_s_threads: spst,
        speedup: spst / sps1,
        physics_us_per_substep: physics_us,
        substeps_per_control_step: substeps,
        substep_s: config.physics.dt,
        solver_iterations: config.physics.solver_iterations,
        real_time_factor_1_thread: sps1 * config.physics.control_period(),
    };
    Ok(report)
}

fn random_driver() -> EnvDriver {
    EnvDriver::Random
}

/// Oracle results over many episodes.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct DemoReport {
    pub task: String,
    pub episodes: u64,
    pub seed: u64,
    pub success_rate: f64,
    /// Mean control steps until the tip first met the tolerance, over successful episodes.
    pub mean_steps_to_success: f64,
    pub mean_final_tip_error_mm: f64,
    pub max_final_tip_error_mm: f64,
    /// Mean final orientation error (degrees), for tasks that ask for an orientation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_final_orientation_error_deg: Option<f64>,
    /// Mean over episodes of the RMS and of the maximum path-tracking error, for path tasks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_tracking_rms_mm: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_tracking_max_mm: Option<f64>,
    /// Camera tracking: the mean over episodes of the share of steps with the target in the band.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_centred_fraction: Option<f64>,
    pub physics_faults: u64,
    /// Median control steps until the first success, over successful episodes.
    #[serde(default)]
    pub median_steps_to_success: f64,
    /// The grasp mode, for tasks with arm contacts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grasp: Option<String>,
    /// Tasks with arm contacts: mean control steps per episode in which a
    /// link other than the blades touched the scene, and the peak force (N).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_collision_steps: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_collision_force_n: Option<f64>,
}

pub fn run_demo(config: &TaskConfig, episodes: u64, seed: u64) -> Result<DemoReport> {
    let mut env = Env::new(config.clone())?;
    let (mut successes, mut steps_sum, mut err_sum, mut err_max, mut faults) = (0u64, 0u64, 0.0, 0.0f64, 0u64);
    let mut orientation_sum: Option<f64> = None;
    let mut tracking_sum: Option<(f64, f64)> = None;
    let mut steps_to_success = Vec::new();
    let (mut collision_steps, mut peak_collision_n) = (0u64, 0.0f64);
    let mut centred_sum: Option<f64> = None;
    for ep in 0..episodes {
        env.reset(episode_seed(seed, 0, ep))?;
        let mut first_success = None;
        loop {
            let step = env.step(&env.oracle_action())?;
            collision_steps += (step.info.instrument_collisions.pairs > 0) as u64;
            peak_collision_n = peak_collision_n.max(step.info.instrument_collisions.peak_force_n);
            if step.info.success && first_success.is_none() {
                first_success = Some(env.episode_steps() as u64);
            }
            if step.terminated || step.truncated {
                faults += step.info.physics_fault as u64;
                err_sum += step.info.tip_error_mm;
                if let Some(o) = step.info.orientation_error_deg {
                    *orientation_sum.get_or_insert(0.0) += o;
                }
                if let Some(t) = &step.info.tracking {
                    let sum = tracking_sum.get_or_insert((0.0, 0.0));
                    sum.0 += t.rms_error_mm;
                    sum.1 += t.max_error_mm;
                    if let Some(f) = t.centred_fraction {
                        *centred_sum.get_or_insert(0.0) += f;
                    }
                }
                err_max = err_max.max(step.info.tip_error_mm);
                if step.info.success {
                    successes += 1;
                    let steps = first_success.unwrap_or(env.episode_steps() as u64);
                    steps_sum += steps;
                    steps_to_success.push(steps);
                }
                break;
            }
        }
    }
    Ok(DemoReport {
        task: config.task.clone(),
        episodes,
        seed,
        success_rate: successes as f64 / episodes.max(1) as f64,
        mean_steps_to_success: steps_sum as f64 / successes.max(1) as f64,
        mean_final_tip_error_mm: err_sum / episodes.max(1) as f64,
        max_final_tip_error_mm: err_max,
        mean_final_orientation_error_deg: orientation_sum.map(|s| s / episodes.max(1) as f64),
        mean_tracking_rms_mm: tracking_sum.map(|s| s.0 / episodes.max(1) as f64),
        mean_tracking_max_mm: tracking_sum.map(|s| s.1 / episodes.max(1) as f64),
        mean_centred_fraction: centred_sum.map(|s| s / episodes.max(1) as f64),
        physics_faults: faults,
        median_steps_to_success: median(&mut steps_to_success),
        grasp: config.physics.arm_contacts.then(|| config.physics.grasp.to_string()),
        mean_collision_steps: config.physics.arm_contacts.then(|| collision_steps as f64 / episodes.max(1) as f64),
        peak_collision_force_n: config.physics.arm_contacts.then_some(peak_collision_n),
    })
}

/// The median of `values` (the mean of the middle two for an even count; NaN when empty).
fn median(values: &mut [u64]) -> f64 {
    values.sort_unstable();
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2] as f64,
        n => (values[n / 2 - 1] + values[n / 2]) as f64 / 2.0,
    }
}
