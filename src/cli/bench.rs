//! `bench env|train|suite`: whole-program speed and learning figures.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::{Args, Subcommand};
use serde::Serialize;

use super::*;
use crate::env::Env;
use crate::rl::ppo::{self, PpoConfig};
use crate::rl::sac::{self, SacHerConfig};

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Env throughput: steps/s on one thread and on T threads, physics cost, real-time factor.
    Env(BenchEnvArgs),
    /// Training speed and sample efficiency: SPS, update and inference µs, steps and seconds to 90 %.
    Train(BenchTrainArgs),
    /// Every task: env throughput, the oracle, and training with each applicable algorithm over
    /// several seeds; writes report.json, report.md and learning-curve PNGs.
    Suite(BenchSuiteArgs),
    /// Long runs: random actions for millions of steps per task (or one long
    /// training) with resident memory sampled; faults counted, RSS plotted.
    Soak(super::BenchSoakArgs),
}

#[derive(Args, Debug)]
pub struct BenchSuiteArgs {
    /// Training seeds per task and algorithm (default 3; 2 with --quick).
    #[arg(long)]
    pub seeds: Option<usize>,
    /// Directory for report.json, report.md and the curve PNGs.
    #[arg(long, default_value = "bench-report")]
    pub out: PathBuf,
    /// Small budgets and short measurements: a few minutes on 2 cores.
    #[arg(long)]
    pub quick: bool,
    /// Threads for the env pools (0 = one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

#[derive(Args, Debug)]
pub struct BenchTrainArgs {
    #[command(flatten)]
    pub task: TaskArgs,
    #[arg(long, value_enum, default_value = "sac-her")]
    pub algo: Algo,
    #[arg(long, default_value_t = 50_000)]
    pub steps: u64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// SAC+HER: first train with the one-core update schedule of earlier
    /// versions (`parallel_update` and `overlap_env_steps` off), then as
    /// configured, and report both speeds and their ratio.
    #[arg(long)]
    pub compare_sequential: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct BenchEnvArgs {
    #[command(flatten)]
    pub task: TaskArgs,
    /// Threads for the parallel measurement (0 = one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Envs in the parallel VecEnv.
    #[arg(long, default_value_t = 128)]
    pub envs: usize,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 3.0)]
    pub seconds: f64,
    /// What drives the envs; default: the oracle on tasks with arm contacts
    /// (so contacts are active), random actions on the others.
    #[arg(long, value_enum)]
    pub policy: Option<BuiltinPolicy>,
    #[arg(long)]
    pub json: bool,
}

pub(super) fn bench_env(args: &BenchEnvArgs) -> Result<()> {
    let config = args.task.load()?;
    use crate::bench::EnvDriver;
    let driver = match args.policy {
        Some(BuiltinPolicy::Random) => EnvDriver::Random,
        Some(BuiltinPolicy::Oracle) => EnvDriver::Oracle,
        None => EnvDriver::default_for(&config),
    };
    let report = crate::bench::measure_env(&config, driver, args.threads, args.envs, args.seconds)?;
    if args.json {
        return print_json(&report);
    }
    let grasp = report.grasp.as_ref().map(|g| format!(", grasp {g}")).unwrap_or_default();
    println!("task {} (driven by {:?}{grasp})", report.task, report.driver);
    println!("  env steps/s, 1 thread        {:>10.0}", report.env_steps_per_s_1_thread);
    println!("  env steps/s, {} threads ({} envs) {:>8.0}  ({:.2}x)", report.threads, report.envs, report.env_steps_per_s_threads, report.speedup);
    println!("  physics per substep          {:>10.2} us", report.physics_us_per_substep);
    println!(
        "  substeps per control step    {:>10} x {} s, {} solver iteration(s)",
        report.substeps_per_control_step, report.substep_s, report.solver_iterations
    );
    println!("  real-time factor, 1 thread   {:>10.0}", report.real_time_factor_1_thread);
    Ok(())
}

pub(super) fn bench_suite(args: &BenchSuiteArgs) -> Result<()> {
    let mut budgets = if args.quick { crate::bench::SuiteBudgets::quick() } else { crate::bench::SuiteBudgets::full() };
    if let Some(seeds) = args.seeds {
        budgets.seeds = seeds;
    }
    budgets.validate()?;
    let options = crate::bench::SuiteOptions { budgets, quick: args.quick, threads: args.threads, out: args.out.clone() };
    let report = crate::bench::run_suite(&options, &mut |line| eprintln!("{line}"))?;
    println!("{}", crate::bench::markdown(&report));
    println!("report written to {}", args.out.join("report.json").display());
    Ok(())
}

#[derive(Serialize, Debug)]
pub struct BenchTrainReport {
    pub task: String,
    pub algo: String,
    pub env_steps: u64,
    pub wall_s: f64,
    /// Env steps per wall second over the whole run, updates and evaluations included.
    pub env_steps_per_s: f64,
    pub updates: u64,
    /// SAC: median of one gradient step (batch 256). PPO: run wall time per
    /// minibatch update, rollouts and evaluations included.
    pub update_us: f64,
    pub inference_1_obs_us: f64,
    pub inference_batch_256_us: f64,
    /// First evaluation at or above 90 % success.
    pub env_steps_to_90: Option<u64>,
    pub wall_s_to_90: Option<f64>,
    pub final_success_rate: f64,
    pub final_error_mm: f64,
    /// With `--compare-sequential`: the same training on the one-core update
    /// schedule, run just before in the same process.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequential: Option<SequentialRun>,
}

/// The one-core schedule's run beside the configured one.
#[derive(Serialize, Debug)]
pub struct SequentialRun {
    pub wall_s: f64,
    pub env_steps_per_s: f64,
    pub final_success_rate: f64,
    /// Configured SPS over this run's.
    pub speedup: f64,
}

fn median_us(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

pub(super) fn bench_train(args: &BenchTrainArgs) -> Result<()> {
    let mut task = args.task.load()?;
    let time = |f: &mut dyn FnMut()| -> f64 {
        median_us(
            (0..300)
                .map(|_| {
                    let t = Instant::now();
                    f();
                    t.elapsed().as_secs_f64() * 1e6
                })
                .collect(),
        )
    };
    let mut sequential = None;
    let (algo, curve, env_steps, wall_s, updates, update, policy) = match args.algo {
        Algo::SacHer => {
            if args.compare_sequential {
                let config = SacHerConfig::new().with_parallel_update(false).with_overlap_env_steps(false);
                let trained = sac::train(&task, config, args.steps, args.seed, args.threads, &mut |_| {})?;
                let final_success_rate = trained.curve.last().map_or(0.0, |e| e.success_rate);
                sequential = Some((trained.wall_s, trained.env_steps as f64 / trained.wall_s, final_success_rate));
            }
            let mut trained = sac::train(&task, SacHerConfig::new(), args.steps, args.seed, args.threads, &mut |_| {})?;
            // Updates on the trained learner's replay buffer.
            let reward_task = task.build_task();
            let reward = |a: &[f32], g: &[f32]| reward_task.compute_reward(a, g);
            let updates = trained.learner.updates;
            let update = median_us(
                (0..200)
                    .map(|_| {
                        let t = Instant::now();
                        trained.learner.update(&reward);
                        t.elapsed().as_secs_f64() * 1e6
                    })
                    .collect(),
            );
            ("sac-her", trained.curve.clone(), trained.env_steps, trained.wall_s, updates, update, trained.learner.policy())
        }
        Algo::Bc => bail!("bench train measures algorithms that step envs; bc takes no env steps (time it with `train --algo bc`)"),
        Algo::Ppo => {
            if args.compare_sequential {
                bail!("--compare-sequential compares SAC+HER's update schedules; PPO has one");
            }
            task.episode.reward = crate::task::RewardMode::Dense;
            // Evaluate often enough to see when 90 % is reached.
            let config = PpoConfig::new().with_eval_interval(12_800);
            let trained = ppo::train(&task, config, args.steps, args.seed, args.threads, &mut |_| {})?;
            let per_update = trained.wall_s * 1e6 / trained.updates as f64;
            ("ppo", trained.curve.clone(), trained.env_steps, trained.wall_s, trained.updates, per_update, trained.policy())
        }
    };
    let to_90 = curve.iter().find(|e| e.success_rate >= 0.9);
    let last = curve.last().cloned().expect("a final evaluation");

    // Inference: one observation, and a batch, through the trained policy.
    let mut env = Env::new(task.clone())?;
    let obs = env.reset(1)?;
    let batch = vec![obs.clone(); 256];
    let one = time(&mut || {
        std::hint::black_box(policy.act(std::slice::from_ref(&obs)));
    });
    let many = time(&mut || {
        std::hint::black_box(policy.act(&batch));
    });

    let report = BenchTrainReport {
        task: task.task.clone(),
        algo: algo.into(),
        env_steps,
        wall_s,
        env_steps_per_s: env_steps as f64 / wall_s,
        updates,
        update_us: update,
        inference_1_obs_us: one,
        inference_batch_256_us: many,
        env_steps_to_90: to_90.map(|e| e.env_steps),
        wall_s_to_90: to_90.map(|e| e.wall_s),
        final_success_rate: last.success_rate,
        final_error_mm: last.mean_final_error_mm,
        sequential: sequential.map(|(sequential_wall_s, sequential_sps, final_success_rate)| SequentialRun {
            wall_s: sequential_wall_s,
            env_steps_per_s: sequential_sps,
            final_success_rate,
            speedup: env_steps as f64 / wall_s / sequential_sps,
        }),
    };
    if args.json {
        return print_json(&report);
    }
    println!("task {}, {} for {} env steps", report.task, report.algo, report.env_steps);
    println!("  wall time                    {:>10.1} s ({:.0} env steps/s, {} updates)", report.wall_s, report.env_steps_per_s, report.updates);
    println!(
        "  update                       {:>10.0} us ({})",
        report.update_us,
        if report.algo == "ppo" { "wall time per minibatch update, rollouts included" } else { "one SAC step, batch 256" }
    );
    println!("  inference, 1 observation     {:>10.1} us", report.inference_1_obs_us);
    println!("  inference, 256 observations  {:>10.1} us", report.inference_batch_256_us);
    match (report.env_steps_to_90, report.wall_s_to_90) {
        (Some(s), Some(w)) => println!("  90 % success reached at      {s:>10} env steps, {w:.1} s"),
        _ => println!("  90 % success not reached"),
    }
    println!("  final success                {:>10.1} % (error {:.2} mm)", report.final_success_rate * 100.0, report.final_error_mm);
    if let Some(s) = &report.sequential {
        println!(
            "  one-core update schedule     {:>10.1} s ({:.0} env steps/s, final success {:.1} %)",
            s.wall_s,
            s.env_steps_per_s,
            s.final_success_rate * 100.0
        );
        println!("  speed-up over it             {:>10.2}x", s.speedup);
    }
    Ok(())
}
