//! Layer 7: the `gesture-lab` command line. This file holds the command
//! tree, the arguments several commands share and the dispatch; each group
//! of commands (and its arguments and reports) lives in its own file.

mod bench;
mod demos;
mod episodes;
mod kinematics;
mod plot;
mod soak;
mod train;
#[cfg(feature = "viz")]
mod view;

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Serialize;

use crate::sim::physics::GraspMode;
use crate::task::{TASKS, TaskConfig, TaskSpec};

#[derive(Parser, Debug)]
#[command(name = "gesture-lab", version, about = "A simulated dVRK instrument that learns surgical gestures")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// List the tasks, one line each.
    Tasks,
    /// Run a task's scripted oracle headless and report how well it does.
    Demo(DemoArgs),
    /// Run a policy for a number of steps; print episode returns and a trajectory hash.
    Rollout(RolloutArgs),
    /// Train a policy and write it as a bundle (weights, manifest, curve).
    Train(TrainArgs),
    /// Evaluate a policy bundle on seeded episodes (deterministic actions).
    Eval(EvalArgs),
    /// Replay one deterministic episode of a policy: tip path, goal and error per step.
    Replay(ReplayArgs),
    /// Demonstrations: record the oracle's successful episodes, inspect a file.
    #[command(subcommand)]
    Demos(demos::DemosCommand),
    /// Measure whole-program speed.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Draw several bundles' learning curves in one PNG (seeds averaged per label).
    Plot(plot::PlotArgs),
    /// Forward and inverse kinematics of the PSM (dVRK base frame, metres).
    #[command(subcommand)]
    Kinematics(KinematicsCommand),
    /// Open the 3-D viewer: replay a policy (or the oracle), watch live training, or drive the arm.
    #[cfg(feature = "viz")]
    View(ViewArgs),
}

/// Which task, from its built-in config or a config file.
#[derive(Args, Debug, Clone)]
pub struct TaskArgs {
    /// Task id (see `gesture-lab tasks`); default needle-reach.
    #[arg(long)]
    pub task: Option<String>,
    /// A task config file (TOML) to use instead of the built-in one.
    #[arg(long)]
    pub task_config: Option<PathBuf>,
    /// Perturbations: key=value pairs (tremor_mm, tremor_noise_mm, obs_noise_mm,
    /// joint_noise, latency_steps, latency_max_steps, mass_spread, stiffness_spread, damping_spread,
    /// gravity_compensation_spread, fault_rate); `randomize` is the training preset.
    #[arg(long)]
    pub perturb: Option<String>,
    /// Grasp mode of tasks with objects: friction (contacts only) or assisted
    /// (SurRoL's weld); default: the task config's `physics.grasp`.
    #[arg(long, value_parser = parse_grasp_mode)]
    pub grasp: Option<GraspMode>,
}

pub fn parse_grasp_mode(s: &str) -> Result<GraspMode, String> {
    s.parse().map_err(|e: crate::Error| e.to_string())
}

impl TaskArgs {
    pub fn load(&self) -> Result<TaskConfig> {
        let spec =
            TaskSpec { task: self.task.clone(), config_file: self.task_config.clone(), overrides: None, perturb: self.perturb.clone(), grasp: self.grasp };
        Ok(spec.load()?)
    }
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuiltinPolicy {
    /// Uniform random actions in [−1, 1], seeded.
    Random,
    /// The task's scripted oracle.
    Oracle,
}

pub use crate::rl::Algo;

pub use crate::bench::{BenchEnvReport, DemoReport, run_demo};
pub use bench::{BenchCommand, BenchEnvArgs, BenchSuiteArgs, BenchTrainArgs, BenchTrainReport};
pub use demos::{DemosCommand, DemosRecordArgs};
pub use episodes::{DemoArgs, RolloutArgs, RolloutReport, run_rollout};
pub use kinematics::KinematicsCommand;
pub use soak::{BenchSoakArgs, SoakSuiteReport};
pub use train::{EvalArgs, ReplayArgs, TrainArgs};
#[cfg(feature = "viz")]
pub use view::ViewArgs;

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Tasks => {
            for t in TASKS {
                println!("{:<14} {}", t.name, t.summary);
            }
            Ok(())
        }
        Command::Demo(args) => episodes::demo(&args),
        Command::Rollout(args) => episodes::rollout(&args),
        Command::Train(args) => train::train(&args),
        Command::Eval(args) => train::eval(&args),
        Command::Replay(args) => train::replay(&args),
        Command::Bench(BenchCommand::Env(args)) => bench::bench_env(&args),
        Command::Bench(BenchCommand::Train(args)) => bench::bench_train(&args),
        Command::Bench(BenchCommand::Suite(args)) => bench::bench_suite(&args),
        Command::Bench(BenchCommand::Soak(args)) => soak::bench_soak(&args),
        Command::Demos(cmd) => demos::run(cmd),
        Command::Plot(args) => plot::plot(&args),
        Command::Kinematics(cmd) => kinematics::kinematics(cmd),
        #[cfg(feature = "viz")]
        Command::View(args) => view::view(args),
    }
}

pub(crate) fn print_json<T: Serialize>(value: &T) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

pub(crate) fn read_config_file(path: &Option<PathBuf>) -> Result<Option<(String, String)>> {
    path.as_ref().map(|p| Ok((std::fs::read_to_string(p).with_context(|| format!("{}", p.display()))?, p.display().to_string()))).transpose()
}
