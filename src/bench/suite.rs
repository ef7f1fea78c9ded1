//! `bench suite`: the budgets, the runs over seeds, and what they give.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::report::{markdown, plot_runs};
use super::{BenchEnvReport, DemoReport, EnvDriver, measure_env, run_demo};
use crate::rl::sac::Evaluation;
use crate::rl::{Algo, AlgoConfig};
use crate::task::{TASKS, TaskConfig};

/// One training entry of the suite: an algorithm on a task, for how long,
/// with what.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainingBudget {
    pub task: String,
    pub algo: Algo,
    /// Env steps per seed (behaviour cloning, which takes none: gradient updates).
    pub env_steps: u64,
    /// Env steps (BC: updates) between evaluations: the resolution of "steps to the bar".
    pub eval_interval: usize,
    /// Scripted-oracle demonstrations recorded for each seed's run, as
    /// `demos record --episodes N --seed S` does (0 = none): SAC+HER learns
    /// from them, behaviour cloning clones them.
    #[serde(default)]
    pub demonstrations: usize,
    /// The algorithm's config (TOML, as `train --config` reads it); none = its defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
    /// Names the row where one algorithm trains a task more than once ("no Q-filter").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// Values merged into the task's config for training only (TOML, table
    /// by table); the oracle and the throughput run the built-in config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_overrides: Option<String>,
}

impl TrainingBudget {
    pub fn new(task: &str, algo: Algo, env_steps: u64, eval_interval: usize) -> Self {
        Self { task: task.into(), algo, env_steps, eval_interval, demonstrations: 0, config: None, variant: None, task_overrides: None }
    }

    /// Learning from `n` oracle demonstrations, with `config`, in a row named `variant`.
    pub fn with_demonstrations(self, n: usize, config: &str, variant: &str) -> Self {
        Self { demonstrations: n, config: Some(config.into()), variant: Some(variant.into()), ..self }
    }

    /// "sac-her" or "sac-her (no Q-filter)": how the report names the row.
    pub fn label(&self) -> String {
        row_label(self.algo, self.variant.as_deref())
    }

    /// The row's curve PNG: task, algorithm and variant, in file-name characters.
    fn curve_file(&self) -> String {
        let name = format!("{}-{}", self.task, self.label());
        let slug: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c.to_ascii_lowercase() } else { '-' }).collect();
        let parts: Vec<&str> = slug.split('-').filter(|p| !p.is_empty()).collect();
        format!("{}.png", parts.join("-"))
    }

    /// The hyper-parameters: `config` over the algorithm's defaults.
    pub fn algo_config(&self) -> Result<AlgoConfig> {
        let origin = format!("bench suite budget {} {}", self.task, self.label());
        Ok(AlgoConfig::new(self.algo, self.config.as_deref().map(|text| (text, origin.as_str())))?)
    }
}

/// "sac-her", or "sac-her (no Q-filter)" for a variant.
fn row_label(algo: Algo, variant: Option<&str>) -> String {
    match variant {
        Some(v) => format!("{} ({v})", algo.name()),
        None => algo.name().into(),
    }
}

/// The configs the suite's rows train with: those the shipped policies and
/// the README's runs used (`train --config`).
const GESTURE_TRACE_PPO: &str = include_str!("../../assets/train/gesture-trace-ppo.toml");
const GRASP_DEMOS: &str = include_str!("../../assets/train/grasp-demos.toml");
/// Needle-pick's: three-step returns (`policies/needle-pick`).
const GRASP_DEMOS_NSTEP: &str = include_str!("../../assets/train/grasp-demos-nstep.toml");
const ECM_STATIC_TRACK: &str = include_str!("../../assets/train/ecm-static-track.toml");
/// The assisted grasp mode (SurRoL's weld after a real two-blade contact), as task overrides.
const ASSISTED: &str = "[physics]\ngrasp = \"assisted\"\n";
/// Behaviour cloning on the grasp tasks: 256 wide (64 wide cloned needle-pick 42 %, 256 wide 62 %),
/// with the goal-offset input of the SAC recipes.
const GRASP_BC: &str = "hidden = 256\ngoal_offset_input = true\n";

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
        let run = TrainingBudget::new;
        let assisted = |b: TrainingBudget| TrainingBudget { task_overrides: Some(ASSISTED.into()), ..b };
        let no_q_filter = format!("{GRASP_DEMOS_NSTEP}\nq_filter = false\n");
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
                TrainingBudget { config: Some(GESTURE_TRACE_PPO.into()), ..run("gesture-trace", Algo::Ppo, 300_000, 12_800) },
                // No demonstrations: SurRoL reports that HER alone fails its grasp tasks.
                run("needle-pick", Algo::SacHer, 100_000, 5_000),
                // With 100 oracle demonstrations (SurRoL's HER+DEMO), half SurRoL's budget, with
                // the shipped policies' recipes; on needle-pick also the ablations: BC alone,
                // no Q-filter, 10 demonstrations. Then each in the assisted grasp mode.
                run("needle-pick", Algo::SacHer, 50_000, 5_000).with_demonstrations(100, GRASP_DEMOS_NSTEP, "100 demos"),
                run("needle-pick", Algo::Bc, 15_000, 1_000).with_demonstrations(100, GRASP_BC, "100 demos"),
                run("needle-pick", Algo::SacHer, 50_000, 5_000).with_demonstrations(100, &no_q_filter, "100 demos, no Q-filter"),
                run("needle-pick", Algo::SacHer, 50_000, 5_000).with_demonstrations(10, GRASP_DEMOS_NSTEP, "10 demos"),
                assisted(run("needle-pick", Algo::SacHer, 50_000, 5_000).with_demonstrations(100, GRASP_DEMOS, "100 demos, assisted grasp")),
                run("gauze-retrieve", Algo::SacHer, 100_000, 5_000),
                run("gauze-retrieve", Algo::SacHer, 50_000, 5_000).with_demonstrations(100, GRASP_DEMOS, "100 demos"),
                assisted(run("gauze-retrieve", Algo::SacHer, 50_000, 5_000).with_demonstrations(100, GRASP_DEMOS, "100 demos, assisted grasp")),
                run("peg-transfer", Algo::SacHer, 100_000, 5_000),
                run("peg-transfer", Algo::SacHer, 50_000, 5_000).with_demonstrations(100, GRASP_DEMOS, "100 demos"),
                assisted(run("peg-transfer", Algo::SacHer, 50_000, 5_000).with_demonstrations(100, GRASP_DEMOS, "100 demos, assisted grasp")),
                // The two-PSM tasks from 100 oracle demonstrations, in the assisted grasp mode
                // (friction: README), with the budgets.
                assisted(run("needle-regrasp", Algo::SacHer, 100_000, 5_000).with_demonstrations(100, GRASP_DEMOS, "100 demos")),
                assisted(run("bi-peg-transfer", Algo::SacHer, 200_000, 10_000).with_demonstrations(100, GRASP_DEMOS, "100 demos")),
                // The camera tasks, SAC+HER without demonstrations (SurRoL's HER solves its ECM goal tasks).
                run("ecm-reach", Algo::SacHer, 50_000, 2_000),
                run("ecm-misorient", Algo::SacHer, 50_000, 2_000),
                TrainingBudget { config: Some(ECM_STATIC_TRACK.into()), ..run("ecm-static-track", Algo::SacHer, 50_000, 2_000) },
                // SAC+HER replays whole fixed-length episodes: it trains with the lost-target
                // ending off; the policy is then judged with it on (README).
                TrainingBudget {
                    // The settings its figures were measured with (the static-track recipe before
                    // its lower target entropy).
                    config: Some("updates_per_step = 1.0\ngamma = 0.95\n".into()),
                    task_overrides: Some("[ecm_active_track]\nend_when_lost = false\n".into()),
                    ..run("ecm-active-track", Algo::SacHer, 50_000, 2_000)
                },
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
                ("ecm-reach" | "ecm-misorient" | "ecm-static-track", Algo::SacHer) => (12_000, 2_000),
                ("ecm-active-track", Algo::SacHer) => (10_000, 5_000),
                ("needle-pick", Algo::SacHer) if t.demonstrations == 0 => (20_000, 5_000),
                // Physics at 1 ms substeps makes these the slowest envs: half the needle's budget.
                ("gauze-retrieve" | "peg-transfer", Algo::SacHer) if t.demonstrations == 0 => (10_000, 5_000),
                // With demonstrations: the start (BC pre-training and critic warm-up) and 5,000 steps.
                (_, Algo::SacHer) => (5_000, 2_500),
                (_, Algo::Bc) => (5_000, 1_000),
                _ => (t.env_steps / 5, t.eval_interval),
            };
        }
        // The quick suite keeps one demonstration row per grasp task; the ablations are full-suite only.
        b.training.retain(|t| t.demonstrations == 0 || (t.algo == Algo::SacHer && t.demonstrations == 100 && t.variant.as_deref() == Some("100 demos")));
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
                bail!("{} {}: env_steps and eval_interval must be at least 1", t.task, t.label());
            }
            match (t.algo, t.demonstrations) {
                (Algo::Bc, 0) => bail!("{} {}: behaviour cloning needs demonstrations", t.task, t.label()),
                (Algo::Ppo, n) if n > 0 => bail!("{} {}: PPO does not learn from demonstrations", t.task, t.label()),
                _ => {}
            }
            t.algo_config()?;
        }
        Ok(())
    }
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
    pub(super) fn show(&self, decimals: usize) -> String {
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
    /// The budget's variant name and demonstrations per run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(default)]
    pub demonstrations: usize,
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

impl TrainingResult {
    /// "sac-her" or "sac-her (no Q-filter)", as the budget names it.
    pub fn label(&self) -> String {
        row_label(self.algo, self.variant.as_deref())
    }
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
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|text| text.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split_once(':')).map(|(_, v)| v.trim().to_string()));
        Self { cores: std::thread::available_parallelism().map_or(1, |n| n.get()), cpu, os: std::env::consts::OS.into(), arch: std::env::consts::ARCH.into() }
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
            info.name,
            oracle.success_rate * 100.0,
            oracle.mean_final_tip_error_mm,
            oracle.episodes
        ));
        let mut training = Vec::new();
        for budget in budgets.training.iter().filter(|t| t.task == info.name) {
            let config = match &budget.task_overrides {
                Some(text) => config.with_overrides(&toml::from_str(text).with_context(|| format!("{} {}: task_overrides", budget.task, budget.label()))?)?,
                None => config.clone(),
            };
            let mut algo_config = budget.algo_config()?;
            algo_config.set_eval_interval(budget.eval_interval);
            algo_config.set_eval_episodes(budgets.eval_episodes);
            let mut runs = Vec::new();
            for seed in 0..budgets.seeds as u64 {
                run_no += 1;
                let demos = record_demonstrations(&config, budget.demonstrations, seed)?;
                let trained = crate::rl::train(&config, &algo_config, budget.env_steps, seed, options.threads, None, demos.as_ref(), &mut |_| {})?;
                let run = seed_run(seed, &trained.curve, trained.env_steps, trained.wall_s, budgets.success_bar);
                on_line(&format!(
                    "[{run_no}/{total_runs}] {} {} seed {seed}: {}, final {:.0} % success, {:.2} mm, {:.1} s",
                    budget.task,
                    budget.label(),
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

/// `n` successful oracle episodes for the run of `seed` (none for 0): the
/// episodes `demos record --episodes n --seed seed` keeps.
fn record_demonstrations(config: &TaskConfig, n: usize, seed: u64) -> Result<Option<crate::rl::her::DemoBuffer>> {
    if n == 0 {
        return Ok(None);
    }
    let demos = crate::policy::demos::record_oracle(config, n, seed, 10 * n as u64, &mut |_, _| {})?;
    let buffer = crate::rl::her::DemoBuffer::new(demos.observation_dim, demos.goal_dim, demos.action_dim, demos.successful_episodes())?;
    Ok(Some(buffer))
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
        variant: budget.variant.clone(),
        demonstrations: budget.demonstrations,
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
        curve_png: budget.curve_file(),
        runs,
    }
}
