//! `bench soak`: millions of random-action steps per task, or one long
//! training, with the resident memory sampled; a JSON report, a Markdown
//! table and an RSS plot.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use serde::Serialize;

use super::Algo;
use crate::bench::{MemoryCurve, SoakReport, SoakTrainReport, soak_random, soak_train};
use crate::files::{check_output_dir, write_atomic};
use crate::plot::{Series, line_plot};
use crate::sim::physics::GraspMode;
use crate::task::{TASKS, TaskSpec};

#[derive(Args, Debug)]
pub struct BenchSoakArgs {
    /// Tasks, comma-separated (default: every task).
    #[arg(long = "task", value_delimiter = ',')]
    pub tasks: Vec<String>,
    /// Grasp mode of tasks with objects (default: each config's).
    #[arg(long, value_parser = super::parse_grasp_mode)]
    pub grasp: Option<GraspMode>,
    /// Env steps per task (or of the training, with --train).
    #[arg(long, default_value_t = 10_000_000)]
    pub steps: u64,
    /// Envs in the VecEnv of the random-action soak.
    #[arg(long, default_value_t = 64)]
    pub envs: usize,
    /// Threads (0 = one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Instead of random actions, train this algorithm (its default config) for --steps.
    #[arg(long, value_enum)]
    pub train: Option<Algo>,
    /// With --train: hyper-parameters (TOML), as `train --config`. A SAC+HER
    /// soak wants a `buffer_size` below --steps, so that the buffer is full
    /// for most of the run and memory must then stay flat.
    #[arg(long, requires = "train")]
    pub config: Option<PathBuf>,
    /// Directory for soak.json, soak.md and rss.png, checked before the run
    /// and rewritten after each task, so a long run keeps what it finished.
    #[arg(long, default_value = "soak-report")]
    pub out: PathBuf,
}

/// Everything one `bench soak` measured.
#[derive(Serialize, Debug, Default)]
pub struct SoakSuiteReport {
    pub random: Vec<SoakReport>,
    pub training: Vec<SoakTrainReport>,
}

pub(super) fn bench_soak(args: &BenchSoakArgs) -> Result<()> {
    check_output_dir(&args.out)?;
    let names: Vec<String> = if args.tasks.is_empty() { TASKS.iter().map(|t| t.name.to_string()).collect() } else { args.tasks.clone() };
    // Every config is loaded before the first long run, so a typo fails at once.
    let configs =
        names.iter().map(|name| TaskSpec { task: Some(name.clone()), grasp: args.grasp, ..TaskSpec::default() }.load()).collect::<crate::Result<Vec<_>>>()?;
    let hyper = super::read_config_file(&args.config)?;
    let algo_config = args.train.map(|algo| crate::rl::AlgoConfig::new(algo, hyper.as_ref().map(|(t, o)| (t.as_str(), o.as_str())))).transpose()?;
    let mut report = SoakSuiteReport::default();
    for config in &configs {
        if let Some(algo_config) = &algo_config {
            eprintln!("soak: training {} on {} for {} env steps", algo_config.algo().name(), config.task, args.steps);
            report.training.push(soak_train(config, algo_config, args.steps, args.threads, args.seed)?);
        } else {
            eprintln!("soak: {} random-action steps on {}", args.steps, config.task);
            let mut next = 0u64;
            let r = soak_random(config, args.steps, args.envs, args.threads, args.seed, &mut |done| {
                if done >= next {
                    eprintln!("  {} {done} steps", config.task);
                    next += (args.steps / 10).max(1);
                }
            })?;
            report.random.push(r);
        }
        write_report(&args.out, &report)?;
    }
    println!("{}", markdown(&report));
    println!("report written to {}", args.out.join("soak.json").display());
    Ok(())
}

fn write_report(out: &std::path::Path, report: &SoakSuiteReport) -> Result<()> {
    let io = |p: PathBuf, e| crate::Error::io(&p, e);
    let json = serde_json::to_string_pretty(report)?;
    write_atomic(&out.join("soak.json"), json.as_bytes()).map_err(|e| io(out.join("soak.json"), e))?;
    write_atomic(&out.join("soak.md"), markdown(report).as_bytes()).map_err(|e| io(out.join("soak.md"), e))?;
    let curves: Vec<(String, &MemoryCurve)> = report
        .random
        .iter()
        .map(|r| (r.task.clone(), &r.memory))
        .chain(report.training.iter().map(|t| (format!("{} {}", t.algo, t.task), &t.memory)))
        .collect();
    let series: Vec<Series> = curves
        .iter()
        .map(|(name, m)| Series {
            name,
            points: m.samples.iter().map(|s| (100.0 * s.env_steps as f64 / m.samples.last().map_or(1, |l| l.env_steps.max(1)) as f64, s.rss_mib)).collect(),
        })
        .collect();
    line_plot(&out.join("rss.png"), "resident memory during the soak", "% of the run's env steps", "RSS (MiB)", &series).map_err(anyhow::Error::msg)
}

/// The report as Markdown tables.
pub fn markdown(report: &SoakSuiteReport) -> String {
    let mut s = String::new();
    if !report.random.is_empty() {
        s += "| task | grasp | env steps | envs / threads | wall (s) | steps/s | episodes | physics faults | non-finite outputs | RSS warm → end (MiB) | growth after warm-up | growth, 2nd half |\n";
        s += "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
        for r in &report.random {
            let m = &r.memory;
            s += &format!(
                "| {} | {} | {} | {} / {} | {:.0} | {:.0} | {} | {} | {} | {:.1} → {:.1} | {:.2} % | {:.2} % |\n",
                r.task,
                r.grasp.as_deref().unwrap_or("-"),
                r.env_steps,
                r.envs,
                r.threads,
                r.wall_s,
                r.env_steps_per_s,
                r.episodes,
                r.physics_faults,
                r.non_finite_outputs,
                m.warm_rss_mib,
                m.end_rss_mib,
                m.growth_after_warmup_pct,
                m.growth_second_half_pct
            );
        }
    }
    if !report.training.is_empty() {
        s += "\n| training | task | env steps | wall (s) | steps/s | final success | RSS warm → end (MiB) | growth after warm-up | growth, 2nd half |\n";
        s += "|---|---|---:|---:|---:|---:|---:|---:|---:|\n";
        for t in &report.training {
            let m = &t.memory;
            s += &format!(
                "| {} | {} | {} | {:.0} | {:.0} | {:.0} % | {:.1} → {:.1} | {:.2} % | {:.2} % |\n",
                t.algo,
                t.task,
                t.env_steps,
                t.wall_s,
                t.env_steps_per_s,
                100.0 * t.final_success_rate,
                m.warm_rss_mib,
                m.end_rss_mib,
                m.growth_after_warmup_pct,
                m.growth_second_half_pct
            );
        }
    }
    s
}
