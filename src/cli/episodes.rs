//! `demo` and `rollout`: episodes of the oracle or of random actions, headless.

use anyhow::{Result, bail};
use clap::Args;
use rand::RngExt;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::*;
use crate::env::Env;
use crate::rng::episode_seed;
use crate::rng::rng_from_seed;
use crate::task::TaskConfig;

#[derive(Args, Debug)]
pub struct DemoArgs {
    #[command(flatten)]
    pub task: TaskArgs,
    #[arg(long, default_value_t = 100)]
    pub episodes: u64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct RolloutArgs {
    #[command(flatten)]
    pub task: TaskArgs,
    #[arg(long, value_enum, default_value = "random")]
    pub policy: BuiltinPolicy,
    /// Control steps in all (episodes restart as they end).
    #[arg(long, default_value_t = 200)]
    pub steps: u64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long)]
    pub json: bool,
}

pub(super) fn demo(args: &DemoArgs) -> Result<()> {
    let config = args.task.load()?;
    if args.episodes == 0 {
        bail!("--episodes 0: run at least one episode");
    }
    let report = run_demo(&config, args.episodes, args.seed)?;
    if args.json {
        return print_json(&report);
    }
    println!("task {}: scripted oracle, {} episodes, seed {}", report.task, report.episodes, report.seed);
    println!("  success rate            {:.1} %", report.success_rate * 100.0);
    println!("  steps to success        mean {:.1}, median {:.1}", report.mean_steps_to_success, report.median_steps_to_success);
    // Tasks with objects measure the object's distance to the goal, not the tip's.
    let what = if report.grasp.is_some() { "object error" } else { "tip error   " };
    println!("  mean final {what} {:.4} mm (max {:.4} mm)", report.mean_final_tip_error_mm, report.max_final_tip_error_mm);
    if let Some(g) = &report.grasp {
        println!("  grasp mode              {g}");
    }
    if let (Some(steps), Some(peak)) = (report.mean_collision_steps, report.peak_collision_force_n) {
        println!("  instrument collisions   {steps:.2} steps per episode, peak {peak:.3} N (links other than the blades)");
    }
    if let Some(o) = report.mean_final_orientation_error_deg {
        println!("  mean final {} {o:.2} deg", crate::task::orientation_label(&report.task));
    }
    if let (Some(rms), Some(max)) = (report.mean_tracking_rms_mm, report.mean_tracking_max_mm) {
        println!("  path tracking error     RMS {rms:.3} mm, max {max:.3} mm (means over episodes)");
    }
    if let Some(f) = report.mean_centred_fraction {
        println!("  target in the band      {:.1} % of steps (mean over episodes)", f * 100.0);
    }
    println!("  physics faults          {}", report.physics_faults);
    Ok(())
}

#[derive(Serialize, Debug)]
pub struct RolloutReport {
    pub task: String,
    pub policy: String,
    pub seed: u64,
    pub steps: u64,
    pub episode_returns: Vec<f64>,
    pub episode_successes: Vec<bool>,
    /// SHA-256 of every observation, reward and flag, in order: equal hashes, equal trajectories.
    pub trajectory_sha256: String,
}

pub fn run_rollout(config: &TaskConfig, policy: BuiltinPolicy, steps: u64, seed: u64) -> Result<RolloutReport> {
    let mut env = Env::new(config.clone())?;
    let mut rng = rng_from_seed(seed ^ 0xA5A5_5A5A_F00D_CAFE);
    let mut hasher = Sha256::new();
    let mut episode = 0u64;
    let hash_obs = |h: &mut Sha256, obs: &crate::task::Observation| {
        for v in obs.flat() {
            h.update(v.to_le_bytes());
        }
    };
    let obs = env.reset(episode_seed(seed, 0, episode))?;
    hash_obs(&mut hasher, &obs);
    let (mut returns, mut successes, mut ret) = (Vec::new(), Vec::new(), 0.0f64);
    for _ in 0..steps {
        let action: Vec<f32> = match policy {
            BuiltinPolicy::Random => (0..env.action_dim()).map(|_| rng.random_range(-1.0f32..=1.0)).collect(),
            BuiltinPolicy::Oracle => env.oracle_action(),
        };
        let step = env.step(&action)?;
        hash_obs(&mut hasher, &step.observation);
        hasher.update(step.reward.to_le_bytes());
        hasher.update([step.terminated as u8, step.truncated as u8, step.info.success as u8]);
        ret += step.reward as f64;
        if step.terminated || step.truncated {
            returns.push(ret);
            successes.push(step.info.success);
            ret = 0.0;
            episode += 1;
            let obs = env.reset(episode_seed(seed, 0, episode))?;
            hash_obs(&mut hasher, &obs);
        }
    }
    let digest = hasher.finalize();
    Ok(RolloutReport {
        task: config.task.clone(),
        policy: format!("{policy:?}").to_lowercase(),
        seed,
        steps,
        episode_returns: returns,
        episode_successes: successes,
        trajectory_sha256: digest.iter().map(|b| format!("{b:02x}")).collect(),
    })
}

pub(super) fn rollout(args: &RolloutArgs) -> Result<()> {
    let config = args.task.load()?;
    let report = run_rollout(&config, args.policy, args.steps, args.seed)?;
    if args.json {
        return print_json(&report);
    }
    println!("task {}, policy {}, {} steps, seed {}", report.task, report.policy, report.steps, report.seed);
    for (i, (r, s)) in report.episode_returns.iter().zip(&report.episode_successes).enumerate() {
        println!("  episode {i:>3}  return {r:>8.3}  {}", if *s { "success" } else { "" });
    }
    println!("trajectory sha256 {}", report.trajectory_sha256);
    Ok(())
}
