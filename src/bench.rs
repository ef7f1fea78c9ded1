//! Layer 6: whole-program measurements — env throughput, the scripted
//! oracles, and `bench suite`, which runs every task's oracle and trains
//! every applicable algorithm over several seeds, then writes `report.json`,
//! `report.md` and one learning-curve PNG per task and algorithm.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use rand::RngExt;
use serde::{Deserialize, Serialize};

use crate::env::{ACTION_DIM, Env, VecEnv};
use crate::rng::episode_seed;
use crate::rl::sac::Evaluation;
use crate::rl::{Algo, AlgoConfig};
use crate::rng::rng_from_seed;
use crate::task::{TASKS, TaskConfig};

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
    let random_actions = |rng: &mut crate::rng::Rng, n: usize| -> Vec<f32> {
        (0..n * ACTION_DIM).map(|_| rng.random_range(-1.0f32..=1.0)).collect()
    };

    // One env on this thread, resets included.
    let mut env = Env::new(config.clone())?;
    env.reset(0)?;
    let actions = random_actions(&mut rng, 4096);
    let (mut steps, mut episodes, t0) = (0u64, 0u64, Instant::now());
    while t0.elapsed().as_secs_f64() < seconds {
        for a in actions.chunks(ACTION_DIM) {
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
    let a = vec![0.3f32, -0.2, 0.1, 0.5, 0.0];
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


/// One training entry of the suite: an algorithm on a task, for how long.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainingBudget {
    pub task: String,
    pub algo: Algo,
    /// Env steps per seed.
    pub env_steps: u64,
    /// Env steps between evaluations: the resolution of "steps to the bar".
    pub eval_interval: usize,
}

/// Every budget of `bench suite` in one place; `full()` and `quick()` are
/// the two the command line offers, and a library caller may set any field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SuiteBudgets {
    /// Training seeds per task and algorithm (seeds 0, 1, ...). Full: 3; quick: 2.
    pub seeds: usize,
    /// Seconds per throughput measurement (one thread, then all threads). Full: 3; quick: 0.5.
    pub throughput_seconds: f64,
    /// Envs in the parallel throughput measurement. Full: 128 (as `bench env`); quick: 64.
    pub throughput_envs: usize,
    /// Scripted-oracle episodes per task. Full: 500 (as the README's oracle table); quick: 50.
    pub oracle_episodes: u64,
    /// Deterministic episodes per evaluation during training. Full: 50 (as `train`); quick: 25.
    pub eval_episodes: usize,
    /// Evaluation success rate that counts as solving the task: 0.9. For
    /// gesture-trace an episode's success already means RMS <= 2 mm and max <= 5 mm.
    pub success_bar: f64,
    /// Which algorithms train on which task, in report order.
    pub training: Vec<TrainingBudget>,
}

impl SuiteBudgets {
    /// The full suite: the budgets the shipped policies and the README's
    /// learning figures were trained with.
    pub fn full() -> Self {
        let run = |task: &str, algo, env_steps, eval_interval| TrainingBudget { task: task.into(), algo, env_steps, eval_interval };
        Self {
            seeds: 3,
            throughput_seconds: 3.0,
            throughput_envs: 128,
            oracle_episodes: 500,
            eval_episodes: 50,
            success_bar: 0.9,
            training: vec![
                run("needle-reach", Algo::SacHer, 50_000, 2_000),
                // PPO evaluates every 8 rollouts (16 envs x 100 steps), as `bench train` does.
                run("needle-reach", Algo::Ppo, 400_000, 12_800),
                run("pose-reach", Algo::SacHer, 100_000, 4_000),
                run("pose-reach", Algo::Ppo, 400_000, 12_800),
                // Rollouts of 16 envs x 80 steps (assets/train/gesture-trace-ppo.toml): every 10.
                run("gesture-trace", Algo::Ppo, 300_000, 12_800),
                // No demonstrations: SurRoL reports that HER alone fails its grasp tasks.
                run("needle-pick", Algo::SacHer, 100_000, 5_000),
                run("gauze-retrieve", Algo::SacHer, 100_000, 5_000),
                run("peg-transfer", Algo::SacHer, 100_000, 5_000),
            ],
        }
    }

    /// A few minutes on 2 cores: fewer seeds, shorter runs and measurements.
    pub fn quick() -> Self {
        let mut b = Self::full();
        b.seeds = 2;
        b.throughput_seconds = 0.5;
        b.throughput_envs = 64;
        b.oracle_episodes = 50;
        b.eval_episodes = 25;
        for t in &mut b.training {
            (t.env_steps, t.eval_interval) = match (t.task.as_str(), t.algo) {
                ("needle-reach", Algo::SacHer) => (12_000, 2_000),
                ("needle-reach", Algo::Ppo) => (200_000, 12_800),
                ("pose-reach", Algo::SacHer) => (30_000, 3_000),
                ("pose-reach", Algo::Ppo) => (200_000, 12_800),
                ("gesture-trace", Algo::Ppo) => (200_000, 12_800),
                ("needle-pick", Algo::SacHer) => (20_000, 5_000),
                // Physics at 1 ms substeps makes these the slowest envs: half the needle's budget.
                ("gauze-retrieve" | "peg-transfer", Algo::SacHer) => (10_000, 5_000),
                _ => (t.env_steps / 5, t.eval_interval),
            };
        }
        b
    }

    pub fn validate(&self) -> Result<()> {
        if self.seeds == 0 {
            bail!("--seeds 0: train at least one seed");
        }
        if self.oracle_episodes == 0 || self.eval_episodes == 0 || self.throughput_envs == 0 {
            bail!("oracle_episodes, eval_episodes and throughput_envs must be at least 1");
        }
        if !(self.throughput_seconds.is_finite() && self.throughput_seconds > 0.0) {
            bail!("throughput_seconds = {} must be > 0", self.throughput_seconds);
        }
        if !(0.0..=1.0).contains(&self.success_bar) {
            bail!("success_bar = {} must lie in [0, 1]", self.success_bar);
        }
        for t in &self.training {
            crate::task::task_info(&t.task)?;
            if t.env_steps == 0 || t.eval_interval == 0 {
                bail!("{} {}: env_steps and eval_interval must be at least 1", t.task, t.algo.name());
            }
        }
        Ok(())
    }
}

/// The hyper-parameters the suite trains `algo` on `task` with: those the
/// shipped policies were trained with (`train` with `--config` where one was used).
pub fn suite_algo_config(task: &str, algo: Algo) -> Result<AlgoConfig> {
    let file = match (task, algo) {
        ("gesture-trace", Algo::Ppo) => Some((include_str!("../assets/train/gesture-trace-ppo.toml"), "assets/train/gesture-trace-ppo.toml")),
        _ => None,
    };
    Ok(AlgoConfig::new(algo, file)?)
}

/// Mean, standard deviation (population) and range of a few numbers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    pub n: usize,
    pub mean: f64,
    pub std: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    /// `None` for no numbers.
    pub fn of(values: &[f64]) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        let n = values.len();
        let mean = values.iter().sum::<f64>() / n as f64;
        let std = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Some(Self { n, mean, std, min, max })
    }

    /// `mean [min–max]` with `decimals` decimals (just the mean for one value).
    fn show(&self, decimals: usize) -> String {
        let (min, max) = (format!("{:.*}", decimals, self.min), format!("{:.*}", decimals, self.max));
        if min == max { format!("{:.*}", decimals, self.mean) } else { format!("{:.*} [{min}–{max}]", decimals, self.mean) }
    }
}

/// One seed's training run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeedRun {
    pub seed: u64,
    pub env_steps: u64,
    pub wall_s: f64,
    /// Env steps and wall seconds at the first evaluation at or above the bar.
    pub env_steps_to_bar: Option<u64>,
    pub wall_s_to_bar: Option<f64>,
    pub final_evaluation: Evaluation,
    pub curve: Vec<Evaluation>,
}

/// One algorithm on one task over all seeds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainingResult {
    pub task: String,
    pub algo: Algo,
    pub env_steps_budget: u64,
    pub success_bar: f64,
    /// Seeds that reached the bar within the budget.
    pub reached_bar: usize,
    /// Over the seeds that reached the bar.
    pub env_steps_to_bar: Option<Spread>,
    pub wall_s_to_bar: Option<Spread>,
    pub final_success_rate: Spread,
    pub final_tip_error_mm: Spread,
    /// Path tasks: mean tracking RMS / max error of the final evaluation.
    pub final_tracking_rms_mm: Option<Spread>,
    pub final_tracking_max_mm: Option<Spread>,
    /// Orientation tasks: mean final jaw-angle error (degrees).
    pub final_orientation_error_deg: Option<Spread>,
    pub wall_s: Spread,
    /// Env steps per wall second, updates and evaluations included.
    pub env_steps_per_s: Spread,
    /// The learning-curve PNG, relative to the report's directory.
    pub curve_png: String,
    pub runs: Vec<SeedRun>,
}

/// Everything measured on one task.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TaskBench {
    pub task: String,
    pub throughput: BenchEnvReport,
    pub oracle: DemoReport,
    pub training: Vec<TrainingResult>,
}

/// The machine the suite ran on.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Machine {
    /// Logical cores available to this process.
    pub cores: usize,
    pub cpu: Option<String>,
    pub os: String,
    pub arch: String,
}

impl Machine {
    pub fn this() -> Self {
        let cpu = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|text| {
            text.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split_once(':')).map(|(_, v)| v.trim().to_string())
        });
        Self {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu,
            os: std::env::consts::OS.into(),
            arch: std::env::consts::ARCH.into(),
        }
    }
}

pub const SUITE_FORMAT: &str = "gesture-lab-bench-suite-1";

/// `report.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SuiteReport {
    pub format: String,
    pub crate_version: String,
    pub machine: Machine,
    pub quick: bool,
    /// Threads of the env pools (training, parallel throughput).
    pub threads: usize,
    pub budgets: SuiteBudgets,
    pub wall_s: f64,
    pub tasks: Vec<TaskBench>,
}

/// How to run the suite.
#[derive(Clone, Debug)]
pub struct SuiteOptions {
    pub budgets: SuiteBudgets,
    /// Whether `budgets` are the quick ones (recorded in the report).
    pub quick: bool,
    /// Threads for env pools; 0 = one per core.
    pub threads: usize,
    /// Directory for report.json, report.md and the curve PNGs (created).
    pub out: PathBuf,
}

/// Runs the suite and writes its files; `on_line` receives one progress line
/// per measurement and per training run.
pub fn run_suite(options: &SuiteOptions, on_line: &mut dyn FnMut(&str)) -> Result<SuiteReport> {
    let budgets = &options.budgets;
    budgets.validate()?;
    let start = Instant::now();
    let out = &options.out;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let threads = if options.threads == 0 { Machine::this().cores } else { options.threads };
    let total_runs = budgets.training.len() * budgets.seeds;
    let mut run_no = 0;
    let mut tasks = Vec::new();
    for info in TASKS {
        let config = TaskConfig::builtin(info.name)?;
        let throughput = measure_env(&config, EnvDriver::default_for(&config), threads, budgets.throughput_envs, budgets.throughput_seconds)?;
        on_line(&format!(
            "{}: {:.0} env steps/s on 1 thread, {:.0} on {} threads",
            info.name, throughput.env_steps_per_s_1_thread, throughput.env_steps_per_s_threads, throughput.threads
        ));
        let oracle = run_demo(&config, budgets.oracle_episodes, 0)?;
        on_line(&format!(
            "{}: oracle {:.1} % success, mean final tip error {:.4} mm over {} episodes",
            info.name, oracle.success_rate * 100.0, oracle.mean_final_tip_error_mm, oracle.episodes
        ));
        let mut training = Vec::new();
        for budget in budgets.training.iter().filter(|t| t.task == info.name) {
            let mut algo_config = suite_algo_config(&budget.task, budget.algo)?;
            algo_config.set_eval_interval(budget.eval_interval);
            algo_config.set_eval_episodes(budgets.eval_episodes);
            let mut runs = Vec::new();
            for seed in 0..budgets.seeds as u64 {
                run_no += 1;
                let trained = crate::rl::train(&config, &algo_config, budget.env_steps, seed, options.threads, None, None, &mut |_| {})?;
                let run = seed_run(seed, &trained.curve, trained.env_steps, trained.wall_s, budgets.success_bar);
                on_line(&format!(
                    "[{run_no}/{total_runs}] {} {} seed {seed}: {}, final {:.0} % success, {:.2} mm, {:.1} s",
                    budget.task,
                    budget.algo.name(),
                    match (run.env_steps_to_bar, run.wall_s_to_bar) {
                        (Some(s), Some(w)) => format!("{:.0} % at {s} steps ({w:.1} s)", budgets.success_bar * 100.0),
                        _ => format!("{:.0} % not reached", budgets.success_bar * 100.0),
                    },
                    run.final_evaluation.success_rate * 100.0,
                    run.final_evaluation.mean_final_error_mm,
                    run.wall_s
                ));
                runs.push(run);
            }
            let result = summarise(budget, budgets.success_bar, runs);
            plot_runs(&out.join(&result.curve_png), &result)?;
            training.push(result);
        }
        tasks.push(TaskBench { task: info.name.into(), throughput, oracle, training });
    }
    let report = SuiteReport {
        format: SUITE_FORMAT.into(),
        crate_version: env!("CARGO_PKG_VERSION").into(),
        machine: Machine::this(),
        quick: options.quick,
        threads,
        budgets: budgets.clone(),
        wall_s: start.elapsed().as_secs_f64(),
        tasks,
    };
    let json = serde_json::to_string_pretty(&report)? + "\n";
    let json_path = out.join("report.json");
    crate::policy::write_atomic(&json_path, json.as_bytes()).with_context(|| format!("{}", json_path.display()))?;
    let md_path = out.join("report.md");
    crate::policy::write_atomic(&md_path, markdown(&report).as_bytes()).with_context(|| format!("{}", md_path.display()))?;
    Ok(report)
}

fn seed_run(seed: u64, curve: &[Evaluation], env_steps: u64, wall_s: f64, bar: f64) -> SeedRun {
    let reached = curve.iter().find(|e| e.success_rate >= bar);
    SeedRun {
        seed,
        env_steps,
        wall_s,
        env_steps_to_bar: reached.map(|e| e.env_steps),
        wall_s_to_bar: reached.map(|e| e.wall_s),
        final_evaluation: curve.last().cloned().expect("training ends with an evaluation"),
        curve: curve.to_vec(),
    }
}

fn summarise(budget: &TrainingBudget, bar: f64, runs: Vec<SeedRun>) -> TrainingResult {
    let of = |f: &dyn Fn(&SeedRun) -> Option<f64>| Spread::of(&runs.iter().filter_map(f).collect::<Vec<_>>());
    // A metric the task reports on every seed, or not at all.
    let each = |f: &dyn Fn(&Evaluation) -> Option<f64>| {
        let values: Option<Vec<f64>> = runs.iter().map(|r| f(&r.final_evaluation)).collect();
        values.and_then(|v| Spread::of(&v))
    };
    TrainingResult {
        task: budget.task.clone(),
        algo: budget.algo,
        env_steps_budget: budget.env_steps,
        success_bar: bar,
        reached_bar: runs.iter().filter(|r| r.env_steps_to_bar.is_some()).count(),
        env_steps_to_bar: of(&|r| r.env_steps_to_bar.map(|s| s as f64)),
        wall_s_to_bar: of(&|r| r.wall_s_to_bar),
        final_success_rate: of(&|r| Some(r.final_evaluation.success_rate)).expect("at least one seed"),
        final_tip_error_mm: of(&|r| Some(r.final_evaluation.mean_final_error_mm)).expect("at least one seed"),
        final_tracking_rms_mm: each(&|e| e.mean_tracking_rms_mm),
        final_tracking_max_mm: each(&|e| e.mean_tracking_max_mm),
        final_orientation_error_deg: each(&|e| e.mean_orientation_error_deg),
        wall_s: of(&|r| Some(r.wall_s)).expect("at least one seed"),
        env_steps_per_s: of(&|r| Some(r.env_steps as f64 / r.wall_s)).expect("at least one seed"),
        curve_png: format!("{}-{}.png", budget.task, budget.algo.name()),
        runs,
    }
}

/// The mean over seeds with a min–max band, per evaluation point. Seeds
/// share the evaluation schedule; should one curve be shorter, the points
/// all seeds have are drawn.
fn bands(runs: &[SeedRun], metric: &dyn Fn(&Evaluation) -> f64) -> crate::plot::Band {
    let len = runs.iter().map(|r| r.curve.len()).min().unwrap_or(0);
    let points = (0..len)
        .map(|i| {
            let values: Vec<f64> = runs.iter().map(|r| metric(&r.curve[i])).collect();
            let s = Spread::of(&values).expect("at least one seed");
            (runs[0].curve[i].env_steps as f64, s.mean, s.min, s.max)
        })
        .collect();
    crate::plot::Band { points }
}

fn plot_runs(path: &Path, result: &TrainingResult) -> Result<()> {
    let success = bands(&result.runs, &|e| 100.0 * e.success_rate);
    // Path tasks are judged on tracking; the others on the final tip error.
    let (error, error_label) = if result.final_tracking_rms_mm.is_some() {
        (bands(&result.runs, &|e| e.mean_tracking_rms_mm.unwrap_or(f64::NAN)), "tracking RMS error (mm)")
    } else {
        (bands(&result.runs, &|e| e.mean_final_error_mm), "final tip error (mm)")
    };
    let title = format!(
        "{} on {}: mean of {} seeds, band min-max ({} eval episodes)",
        result.algo.name(),
        result.task,
        result.runs.len(),
        result.runs[0].final_evaluation.episodes
    );
    let tmp = path.with_extension("tmp.png");
    crate::plot::learning_curve_band(&tmp, &title, &success, &error, error_label).map_err(anyhow::Error::msg)?;
    std::fs::rename(&tmp, path).with_context(|| format!("{}", path.display()))
}

/// `report.md`: the three tables.
pub fn markdown(report: &SuiteReport) -> String {
    let b = &report.budgets;
    let m = &report.machine;
    let mut s = format!(
        "# gesture-lab bench suite{}\n\ngesture-lab {}, {} cores ({}), {}/{}; {} threads; {} seeds; {:.0} s in all.\n\n",
        if report.quick { " (--quick)" } else { "" },
        report.crate_version,
        m.cores,
        m.cpu.as_deref().unwrap_or("unknown CPU"),
        m.os,
        m.arch,
        report.threads,
        b.seeds,
        report.wall_s
    );
    s += &format!("## Env throughput ({:.1} s per figure)\n\n", b.throughput_seconds);
    s += "| task | driven by | env steps/s, 1 thread | env steps/s, all threads | speed-up | physics µs/substep | real-time factor, 1 thread |\n|---|---|---|---|---|---|---|\n";
    for t in &report.tasks {
        let r = &t.throughput;
        let driver = match (r.driver, &r.grasp) {
            (EnvDriver::Oracle, Some(g)) => format!("oracle, {g} grasp"),
            (EnvDriver::Oracle, None) => "oracle".to_string(),
            (EnvDriver::Random, _) => "random actions".to_string(),
        };
        s += &format!(
            "| {} | {driver} | {:.0} | {:.0} ({} threads, {} envs) | {:.2}× | {:.2} | {:.0} |\n",
            t.task, r.env_steps_per_s_1_thread, r.env_steps_per_s_threads, r.threads, r.envs, r.speedup, r.physics_us_per_substep, r.real_time_factor_1_thread
        );
    }
    s += &format!("\n## Scripted oracles ({} episodes, seed 0)\n\n", b.oracle_episodes);
    s += "| task | success | mean final tip error (mm) | also |\n|---|---|---|---|\n";
    for t in &report.tasks {
        let o = &t.oracle;
        let mut also = Vec::new();
        if let Some(d) = o.mean_final_orientation_error_deg {
            also.push(format!("jaw angle error {d:.2}°"));
        }
        if let (Some(rms), Some(max)) = (o.mean_tracking_rms_mm, o.mean_tracking_max_mm) {
            also.push(format!("tracking RMS {rms:.2} mm, max {max:.2} mm"));
        }
        if let Some(g) = &o.grasp {
            also.push(format!("{g} grasp, median {:.1} steps to success", o.median_steps_to_success));
        }
        if let (Some(steps), Some(peak)) = (o.mean_collision_steps, o.peak_collision_force_n) {
            also.push(format!("instrument collisions {steps:.2} steps/episode, peak {peak:.3} N"));
        }
        s += &format!("| {} | {:.1} % | {:.4} | {} |\n", t.task, o.success_rate * 100.0, o.mean_final_tip_error_mm, also.join("; "));
    }
    s += &format!(
        "\n## Training (mean [min–max] over seeds; the bar is {:.0} % evaluation success on {} fixed episodes; steps and seconds to it are over the seeds that reached it)\n\n",
        b.success_bar * 100.0,
        b.eval_episodes
    );
    s += "| task | algo | budget (env steps) | seeds at bar | env steps to bar | wall s to bar | final success (%) | final tip error (mm) | tracking RMS (mm) | wall s | env steps/s | curve |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n";
    for t in report.tasks.iter().flat_map(|t| &t.training) {
        let dash = || "–".to_string();
        let pct = Spread { mean: t.final_success_rate.mean * 100.0, min: t.final_success_rate.min * 100.0, max: t.final_success_rate.max * 100.0, ..t.final_success_rate.clone() };
        s += &format!(
            "| {} | {} | {} | {}/{} | {} | {} | {} | {} | {} | {} | {} | [{}]({}) |\n",
            t.task,
            t.algo.name(),
            t.env_steps_budget,
            t.reached_bar,
            t.runs.len(),
            t.env_steps_to_bar.as_ref().map_or_else(dash, |v| v.show(0)),
            t.wall_s_to_bar.as_ref().map_or_else(dash, |v| v.show(1)),
            pct.show(0),
            t.final_tip_error_mm.show(2),
            t.final_tracking_rms_mm.as_ref().map_or_else(dash, |v| v.show(2)),
            t.wall_s.show(1),
            t.env_steps_per_s.show(0),
            t.curve_png,
            t.curve_png
        );
    }
    s
}
