//! Layer 7: the `gesture-lab` command line.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use rand::RngExt;
use rapier3d::na::{Isometry3, Quaternion, Translation3, UnitQuaternion};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::env::{ACTION_DIM, Env};
use crate::rng::episode_seed;
use crate::policy;
use crate::rl::ppo::{self, PpoConfig};
use crate::rl::sac::{self, SacHerConfig};
use indicatif::{ProgressBar, ProgressStyle};
use crate::sim::description::RobotDescription;
use crate::sim::physics::GraspMode;
use crate::sim::kinematics::{ARM_DOF, PsmKinematics, tool_down_rotation};
use crate::rng::rng_from_seed;
use crate::task::{TASKS, TaskConfig};

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
    /// Measure whole-program speed.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Forward and inverse kinematics of the PSM (dVRK base frame, metres).
    #[command(subcommand)]
    Kinematics(KinematicsCommand),
    /// Open the 3-D viewer: replay a policy (or the oracle), watch live training, or drive the arm.
    #[cfg(feature = "viz")]
    View(ViewArgs),
}

#[cfg(feature = "viz")]
#[derive(Args, Debug)]
pub struct ViewArgs {
    /// Policy bundle to replay; without it (and without --train or --teleop)
    /// the task's scripted oracle drives the arm.
    #[arg(long, conflicts_with_all = ["train", "teleop"])]
    pub policy: Option<PathBuf>,
    #[command(flatten)]
    pub task: TaskArgs,
    /// Train live: the learner runs on its own thread, the viewer plays its latest snapshot.
    #[arg(long, conflicts_with = "teleop")]
    pub train: bool,
    /// Algorithm for --train.
    #[arg(long, value_enum, default_value = "sac-her", requires = "train")]
    pub algo: Algo,
    /// Env steps for --train.
    #[arg(long, default_value_t = 50_000, requires = "train")]
    pub steps: u64,
    /// Hyper-parameters (TOML) for --train.
    #[arg(long, requires = "train")]
    pub config: Option<PathBuf>,
    /// Parallel envs for --train (overrides the hyper-parameters).
    #[arg(long, requires = "train")]
    pub envs: Option<usize>,
    /// Training threads (0 = one per core).
    #[arg(long, default_value_t = 0, requires = "train")]
    pub threads: usize,
    /// Write the trained policy bundle here when --train ends.
    #[arg(long, requires = "train")]
    pub out: Option<PathBuf>,
    /// Close the viewer when --train ends (prints the training figures).
    #[arg(long, requires = "train")]
    pub exit_when_trained: bool,
    /// Drive the tip with the keyboard (W/S A/D R/F, Q/E yaw, Space jaw, Shift fine).
    #[arg(long)]
    pub teleop: bool,
    /// Save the teleoperated episodes to this JSON file (a demonstration file, see README).
    #[arg(long, value_name = "FILE", requires = "teleop")]
    pub record: Option<PathBuf>,
    /// Base seed: episode k uses env seed episode_seed(seed, 0, k), as `eval --seed` does.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Control steps per second (20 = real time).
    #[arg(long, default_value_t = 20.0)]
    pub steps_per_second: f64,
    /// Save every frame as DIR/frame_NNNN.png (one control step per frame) and exit after --frames.
    #[arg(long, value_name = "DIR")]
    pub record_frames: Option<PathBuf>,
    /// Exit after N frames (default 60 with --record-frames); prints the frame rate.
    #[arg(long, value_name = "N")]
    pub frames: Option<u32>,
    /// Frames rendered before stepping and recording start (shader compilation).
    /// (Bevy compiles pipelines asynchronously: on llvmpipe meshes appear after ~20 frames.)
    #[arg(long, default_value_t = 30)]
    pub warmup_frames: u32,
    #[arg(long, default_value_t = 1280)]
    pub width: u32,
    #[arg(long, default_value_t = 720)]
    pub height: u32,
    /// 4x multisampling (smoother edges, slower on a software rasteriser).
    #[arg(long)]
    pub msaa: bool,
    /// Frame-rate cap (0 = none; with --train the default is 5: PPO then keeps 96 % of its headless speed).
    #[arg(long)]
    pub max_fps: Option<f64>,
}

#[cfg(feature = "viz")]
fn view(args: ViewArgs) -> Result<()> {
    use crate::viz::{Mode, TrainOptions, ViewerOptions};
    if !(args.steps_per_second.is_finite() && args.steps_per_second > 0.0) {
        bail!("--steps-per-second {}: must be a positive number", args.steps_per_second);
    }
    if args.train && args.steps == 0 {
        bail!("--steps 0: train for at least one step");
    }
    let mode = if args.train {
        Mode::Train(TrainOptions {
            algo: args.algo,
            steps: args.steps,
            hyperparameters_toml: read_config_file(&args.config)?,
            envs: args.envs,
            threads: args.threads,
            out: args.out.clone(),
            exit_when_done: args.exit_when_trained,
        })
    } else if args.teleop {
        Mode::Teleop { record: args.record.clone() }
    } else {
        Mode::Replay { policy: args.policy.clone() }
    };
    let max_fps = args.max_fps.unwrap_or(if args.train { 5.0 } else { 0.0 });
    if !(max_fps.is_finite() && max_fps >= 0.0) {
        bail!("--max-fps {max_fps}: must be >= 0");
    }
    crate::viz::run_viewer(ViewerOptions {
        mode,
        task: args.task.load()?,
        seed: args.seed,
        steps_per_second: args.steps_per_second,
        record_frames: args.record_frames,
        frames: args.frames,
        warmup_frames: args.warmup_frames,
        width: args.width,
        height: args.height,
        msaa: args.msaa,
        max_fps,
    })
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
    /// gravity_compensation_spread); `randomize` is the training preset.
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
        let mut config = self.load_unperturbed()?;
        if let Some(spec) = &self.perturb {
            config.perturb = config.perturb.with_overrides(spec)?;
        }
        if let Some(mode) = self.grasp {
            config.physics.grasp = mode;
        }
        Ok(config)
    }

    fn load_unperturbed(&self) -> Result<TaskConfig> {
        match (&self.task, &self.task_config) {
            (_, None) => Ok(TaskConfig::builtin(self.task.as_deref().unwrap_or("needle-reach"))?),
            (task, Some(path)) => {
                let config = TaskConfig::load(path)?;
                if let Some(task) = task.as_ref().filter(|t| **t != config.task) {
                    bail!("--task {task} but {} configures task `{}`", path.display(), config.task);
                }
                Ok(config)
            }
        }
    }
}

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

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuiltinPolicy {
    /// Uniform random actions in [−1, 1], seeded.
    Random,
    /// The task's scripted oracle.
    Oracle,
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

pub use crate::rl::Algo;

#[derive(Args, Debug)]
pub struct TrainArgs {
    #[command(flatten)]
    pub task: TaskArgs,
    #[arg(long, value_enum, default_value = "sac-her")]
    pub algo: Algo,
    /// Env steps to train for.
    #[arg(long, default_value_t = 50_000)]
    pub steps: u64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Parallel envs (overrides the algorithm config).
    #[arg(long)]
    pub envs: Option<usize>,
    /// Hyper-parameters (TOML): any field of the algorithm's config.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Bundle directory (default policies/TASK-ALGO-seedS).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Threads for the env pool (0 = one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Env steps between checkpoints (written atomically under OUT/checkpoint).
    #[arg(long, default_value_t = 10_000)]
    pub checkpoint_every: u64,
    /// Continue from the checkpoint in OUT, if any.
    #[arg(long)]
    pub resume: bool,
    /// Train under the perturbation preset (tremor, noise, latency, dynamics);
    /// `--perturb` adjusts it.
    #[arg(long)]
    pub randomize: bool,
    /// Observe the last K actions (control.action_history). Default: the task
    /// config's, raised to the largest training latency.
    #[arg(long, value_name = "K")]
    pub action_history: Option<usize>,
    /// No progress bar (for logs).
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Policy bundle directory.
    #[arg(long)]
    pub policy: PathBuf,
    /// Refuse the policy unless it was trained for this task.
    #[arg(long)]
    pub task: Option<String>,
    #[arg(long, default_value_t = 100)]
    pub episodes: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Evaluate under perturbations (key=value pairs, or `randomize`); by
    /// default none, whatever the policy was trained under.
    #[arg(long)]
    pub perturb: Option<String>,
    /// Grasp mode (friction or assisted); default: the one the policy was trained in.
    #[arg(long, value_parser = parse_grasp_mode)]
    pub grasp: Option<GraspMode>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct ReplayArgs {
    #[arg(long)]
    pub policy: PathBuf,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Grasp mode (friction or assisted); default: the one the policy was trained in.
    #[arg(long, value_parser = parse_grasp_mode)]
    pub grasp: Option<GraspMode>,
    /// Write the trajectory (JSON) here instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Env throughput: steps/s on one thread and on T threads, physics cost, real-time factor.
    Env(BenchEnvArgs),
    /// Training speed and sample efficiency: SPS, update and inference µs, steps and seconds to 90 %.
    Train(BenchTrainArgs),
    /// Every task: env throughput, the oracle, and training with each applicable algorithm over
    /// several seeds; writes report.json, report.md and learning-curve PNGs.
    Suite(BenchSuiteArgs),
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

#[derive(Subcommand, Debug)]
pub enum KinematicsCommand {
    /// Tip pose for joint values q1..q6 (rad, insertion q3 in m).
    Fk {
        #[arg(long, value_delimiter = ',', allow_hyphen_values = true, num_args = 1)]
        joints: Vec<f64>,
        #[arg(long)]
        json: bool,
    },
    /// Joint values for a tip pose: x,y,z (tool pointing down), x,y,z,yaw (rad),
    /// or x,y,z,qx,qy,qz,qw.
    Ik {
        #[arg(long, value_delimiter = ',', allow_hyphen_values = true, num_args = 1)]
        pose: Vec<f64>,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Tasks => {
            for t in TASKS {
                println!("{:<14} {}", t.name, t.summary);
            }
            Ok(())
        }
        Command::Demo(args) => demo(&args),
        Command::Rollout(args) => rollout(&args),
        Command::Train(args) => train(&args),
        Command::Eval(args) => eval(&args),
        Command::Replay(args) => replay(&args),
        Command::Bench(BenchCommand::Env(args)) => bench_env(&args),
        Command::Bench(BenchCommand::Train(args)) => bench_train(&args),
        Command::Bench(BenchCommand::Suite(args)) => bench_suite(&args),
        Command::Kinematics(cmd) => kinematics(cmd),
        #[cfg(feature = "viz")]
        Command::View(args) => view(args),
    }
}

fn print_json<T: Serialize>(value: &T) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

pub use crate::bench::{DemoReport, run_demo};

fn demo(args: &DemoArgs) -> Result<()> {
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
        println!("  mean final jaw angle error {o:.2} deg");
    }
    if let (Some(rms), Some(max)) = (report.mean_tracking_rms_mm, report.mean_tracking_max_mm) {
        println!("  path tracking error     RMS {rms:.3} mm, max {max:.3} mm (means over episodes)");
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
            BuiltinPolicy::Random => (0..ACTION_DIM).map(|_| rng.random_range(-1.0f32..=1.0)).collect(),
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

fn rollout(args: &RolloutArgs) -> Result<()> {
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

pub use crate::bench::BenchEnvReport;

fn bench_env(args: &BenchEnvArgs) -> Result<()> {
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
    println!("  substeps per control step    {:>10} x {} s, {} solver iteration(s)", report.substeps_per_control_step, report.substep_s, report.solver_iterations);
    println!("  real-time factor, 1 thread   {:>10.0}", report.real_time_factor_1_thread);
    Ok(())
}

fn bench_suite(args: &BenchSuiteArgs) -> Result<()> {
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
struct PoseReport {
    frame: &'static str,
    joints: Vec<f64>,
    position_m: [f64; 3],
    /// Quaternion x, y, z, w.
    quaternion_xyzw: [f64; 4],
    rotation_matrix: [[f64; 3]; 3],
}

fn pose_report(joints: &[f64], pose: &Isometry3<f64>) -> PoseReport {
    let t = pose.translation.vector;
    let q = pose.rotation.quaternion();
    let m = pose.rotation.to_rotation_matrix();
    PoseReport {
        frame: "dVRK PSM base frame (origin at the RCM), tip = DH frame 6",
        joints: joints.to_vec(),
        position_m: [t.x, t.y, t.z],
        quaternion_xyzw: [q.i, q.j, q.k, q.w],
        rotation_matrix: std::array::from_fn(|r| std::array::from_fn(|c| m[(r, c)])),
    }
}

fn print_pose(report: &PoseReport) {
    println!("frame     {}", report.frame);
    println!("joints    {}", report.joints.iter().map(|v| format!("{v:.6}")).collect::<Vec<_>>().join(", "));
    let p = report.position_m;
    println!("position  {:.6} {:.6} {:.6} m", p[0], p[1], p[2]);
    let q = report.quaternion_xyzw;
    println!("quat xyzw {:.6} {:.6} {:.6} {:.6}", q[0], q[1], q[2], q[3]);
    for (i, row) in report.rotation_matrix.iter().enumerate() {
        println!("{}{:>10.6} {:>10.6} {:>10.6}", if i == 0 { "rotation " } else { "         " }, row[0], row[1], row[2]);
    }
}

fn kinematics(cmd: KinematicsCommand) -> Result<()> {
    let kin = PsmKinematics::new(&RobotDescription::psm());
    match cmd {
        KinematicsCommand::Fk { joints, json } => {
            if joints.len() != ARM_DOF {
                bail!("--joints needs {ARM_DOF} values q1..q6, got {}", joints.len());
            }
            if let Some((i, v)) = joints.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                bail!("--joints: q{} = {v} is not a finite number", i + 1);
            }
            let q: [f64; ARM_DOF] = std::array::from_fn(|i| joints[i]);
            kin.within_limits(&q).context("--joints")?;
            let report = pose_report(&joints, &kin.forward(&q));
            if json { print_json(&report) } else { print_pose(&report); Ok(()) }
        }
        KinematicsCommand::Ik { pose, json } => {
            if let Some((i, v)) = pose.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                bail!("--pose: value {} = {v} is not a finite number", i + 1);
            }
            let rotation = match pose.len() {
                3 => tool_down_rotation(0.0),
                4 => tool_down_rotation(pose[3]),
                7 => UnitQuaternion::from_quaternion(Quaternion::new(pose[6], pose[3], pose[4], pose[5])),
                n => bail!("--pose needs x,y,z or x,y,z,yaw or x,y,z,qx,qy,qz,qw; got {n} values"),
            };
            let target = Isometry3::from_parts(Translation3::new(pose[0], pose[1], pose[2]), rotation);
            let q = kin
                .inverse(&target, &[0.0, 0.0, 0.12, 0.0, 0.0, 0.0])
                .with_context(|| format!("no joint solution for pose {pose:?}"))?;
            let report = pose_report(&q, &kin.forward(&q));
            if json { print_json(&report) } else { print_pose(&report); Ok(()) }
        }
    }
}

fn read_config_file(path: &Option<PathBuf>) -> Result<Option<(String, String)>> {
    path.as_ref()
        .map(|p| Ok((std::fs::read_to_string(p).with_context(|| format!("{}", p.display()))?, p.display().to_string())))
        .transpose()
}

fn train(args: &TrainArgs) -> Result<()> {
    let mut task = args.task.load()?;
    if args.randomize {
        let preset = crate::task::perturb::PerturbConfig::randomize_preset();
        task.perturb = preset.with_overrides(args.task.perturb.as_deref().unwrap_or(""))?;
    }
    // Under latency the policy must see the actions still on their way;
    // the bundle's task config records this, so eval and replay observe the same.
    let latency = task.perturb.max_latency_steps();
    match args.action_history {
        Some(k) => {
            task.control.action_history = k;
            task.validate("--action-history")?;
            if k < latency {
                eprintln!("warning: --action-history {k} hides some of the up to {latency} pending action(s) from the policy");
            }
        }
        None if latency > task.control.action_history => {
            task.control.action_history = latency;
            eprintln!("note: training with up to {latency} step(s) of latency: the observation carries the last {latency} action(s) (control.action_history)");
        }
        None => {}
    }
    if args.steps == 0 {
        bail!("--steps 0: train for at least one step");
    }
    let algo = args.algo.name();
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from(format!("policies/{}-{algo}-seed{}", task.task, args.seed)));
    let config_text = read_config_file(&args.config)?;

    let bar = if args.quiet { ProgressBar::hidden() } else { ProgressBar::new(args.steps) };
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} steps {per_sec} | {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let mut last_train = String::new();
    let mut last_eval = String::new();
    let mut on_progress = |p: &sac::Progress| {
        bar.set_position(p.env_steps);
        match &p.evaluation {
            Some(e) => {
                last_eval = format!("eval success {:.0} % err {:.2} mm", e.success_rate * 100.0, e.mean_final_error_mm);
                if args.quiet {
                    eprintln!("{:>8} steps {:>7.1} s  {last_eval}", p.env_steps, p.wall_s);
                }
            }
            None => last_train = format!("train success {:.0} % err {:.1} mm", p.train_success_rate * 100.0, p.train_final_error_mm),
        }
        bar.set_message(format!("{last_train} | {last_eval}"));
    };

    let config = crate::rl::AlgoConfig::new(args.algo, config_text.as_ref().map(|(t, o)| (t.as_str(), o.as_str())))?.with_envs(args.envs)?;
    if let crate::rl::AlgoConfig::Ppo(ppo) = &config
        && ppo.rollout_steps % task.episode.steps != 0
    {
        eprintln!(
            "note: rollout_steps = {} is not a multiple of the episode length {}: checkpoints are only written when a rollout ends on an episode boundary",
            ppo.rollout_steps, task.episode.steps
        );
    }
    let checkpointing = sac::Checkpointing { dir: out.clone(), every: args.checkpoint_every.max(1), resume: args.resume };
    let outcome = crate::rl::train(&task, &config, args.steps, args.seed, args.threads, Some(&checkpointing), &mut on_progress)?;
    bar.finish();

    let final_eval = outcome.curve.last().cloned().expect("training ends with an evaluation");
    policy::save_trained(&out, &outcome, &config, args.seed)?;
    println!(
        "trained {} on {} for {} env steps in {:.1} s ({:.0} env steps/s, {} updates)",
        algo, outcome.task.task, outcome.env_steps, outcome.wall_s, outcome.env_steps as f64 / outcome.wall_s, outcome.updates
    );
    println!(
        "evaluation ({} episodes): success {:.1} %, mean final tip error {:.2} mm",
        final_eval.episodes, final_eval.success_rate * 100.0, final_eval.mean_final_error_mm
    );
    print_task_metrics(&final_eval, &outcome.task);
    println!("policy written to {}", out.display());
    Ok(())
}

fn eval(args: &EvalArgs) -> Result<()> {
    if args.episodes == 0 {
        bail!("--episodes 0: evaluate at least one episode");
    }
    let loaded = policy::load(&args.policy, args.task.as_deref())?;
    let mut config = loaded.manifest.task_config.clone();
    config.perturb = crate::task::perturb::PerturbConfig::default().with_overrides(args.perturb.as_deref().unwrap_or(""))?;
    if let Some(mode) = args.grasp {
        config.physics.grasp = mode;
    }
    let ev = sac::evaluate(&loaded.policy, &config, args.episodes, args.seed, args.threads)?;
    if args.json {
        return print_json(&ev);
    }
    println!("policy {} ({} on {}), {} episodes, seed {}", args.policy.display(), loaded.manifest.algorithm, loaded.manifest.task, ev.episodes, args.seed);
    println!("  success rate            {:.1} %", ev.success_rate * 100.0);
    let what = if ev.held_at_end_rate.is_some() { "object error" } else { "tip error   " };
    println!("  mean final {what} {:.3} mm", ev.mean_final_error_mm);
    println!("  mean steps to success   {:.1}", ev.mean_steps_to_success);
    print_task_metrics(&ev, &config);
    Ok(())
}

/// The evaluation lines only some tasks have: orientation, path tracking, grasping, collisions.
fn print_task_metrics(ev: &sac::Evaluation, task: &TaskConfig) {
    if let Some(o) = ev.mean_orientation_error_deg {
        println!("  mean final jaw angle error {o:.2} deg");
    }
    if let (Some(rms), Some(max)) = (ev.mean_tracking_rms_mm, ev.mean_tracking_max_mm) {
        println!("  path tracking error     RMS {rms:.3} mm, max {max:.3} mm (means over episodes)");
    }
    if let Some(held) = ev.held_at_end_rate {
        println!("  grasp mode              {} (object held at the end in {:.1} % of episodes)", task.physics.grasp, held * 100.0);
    }
    if let (Some(steps), Some(peak)) = (ev.mean_collision_steps, ev.peak_collision_force_n) {
        println!("  instrument collisions   {steps:.2} steps per episode, peak {peak:.3} N (links other than the blades)");
    }
}

#[derive(Serialize, Debug)]
struct ReplayStep {
    step: usize,
    action: Vec<f32>,
    tip_m: Vec<f32>,
    tip_error_mm: f64,
    success: bool,
}

#[derive(Serialize, Debug)]
struct ReplayTrajectory {
    policy: String,
    task: String,
    seed: u64,
    frame: &'static str,
    goal_m: Vec<f32>,
    start_tip_m: Vec<f32>,
    steps: Vec<ReplayStep>,
    success: bool,
    final_tip_error_mm: f64,
}

fn replay(args: &ReplayArgs) -> Result<()> {
    let loaded = policy::load(&args.policy, None)?;
    let mut config = loaded.manifest.task_config.clone();
    if let Some(mode) = args.grasp {
        config.physics.grasp = mode;
    }
    let mut env = Env::new(config)?;
    // Episode 0 of env 0 for this seed: the first episode `eval --seed S` runs.
    let first = env.reset(episode_seed(args.seed, 0, 0))?;
    let mut obs = first.clone();
    let mut steps = Vec::new();
    loop {
        let action = loaded.policy.act(std::slice::from_ref(&obs));
        let s = env.step(&action)?;
        steps.push(ReplayStep {
            step: steps.len() + 1,
            action,
            tip_m: s.observation.achieved_goal.clone(),
            tip_error_mm: s.info.tip_error_mm,
            success: s.info.success,
        });
        obs = s.observation;
        if s.terminated || s.truncated {
            break;
        }
    }
    let last = steps.last().expect("an episode has steps");
    let traj = ReplayTrajectory {
        policy: args.policy.display().to_string(),
        task: loaded.manifest.task.clone(),
        seed: args.seed,
        frame: "world (Y up, origin at the tray centre), metres",
        goal_m: first.desired_goal.clone(),
        start_tip_m: first.achieved_goal.clone(),
        success: last.success,
        final_tip_error_mm: last.tip_error_mm,
        steps,
    };
    let json = serde_json::to_string_pretty(&traj)? + "\n";
    match &args.out {
        Some(path) => {
            policy::write_atomic(path, json.as_bytes()).with_context(|| format!("{}", path.display()))?;
            println!("episode seed {}: success {}, final tip error {:.3} mm; trajectory written to {}", args.seed, traj.success, traj.final_tip_error_mm, path.display());
        }
        None => print!("{json}"),
    }
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
}

fn median_us(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn bench_train(args: &BenchTrainArgs) -> Result<()> {
    let mut task = args.task.load()?;
    let time = |f: &mut dyn FnMut()| -> f64 {
        median_us((0..300).map(|_| { let t = Instant::now(); f(); t.elapsed().as_secs_f64() * 1e6 }).collect())
    };
    let (algo, curve, env_steps, wall_s, updates, update, policy) = match args.algo {
        Algo::SacHer => {
            let mut trained = sac::train(&task, SacHerConfig::new(), args.steps, args.seed, args.threads, &mut |_| {})?;
            // Updates on the trained learner's replay buffer.
            let reward_task = task.build_task();
            let reward = |a: &[f32], g: &[f32]| reward_task.compute_reward(a, g);
            let updates = trained.learner.updates;
            let update = median_us((0..200).map(|_| { let t = Instant::now(); trained.learner.update(&reward); t.elapsed().as_secs_f64() * 1e6 }).collect());
            ("sac-her", trained.curve.clone(), trained.env_steps, trained.wall_s, updates, update, trained.learner.policy())
        }
        Algo::Ppo => {
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
    let one = time(&mut || { std::hint::black_box(policy.act(std::slice::from_ref(&obs))); });
    let many = time(&mut || { std::hint::black_box(policy.act(&batch)); });

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
    };
    if args.json {
        return print_json(&report);
    }
    println!("task {}, {} for {} env steps", report.task, report.algo, report.env_steps);
    println!("  wall time                    {:>10.1} s ({:.0} env steps/s, {} updates)", report.wall_s, report.env_steps_per_s, report.updates);
    println!("  update                       {:>10.0} us ({})", report.update_us, if report.algo == "ppo" { "wall time per minibatch update, rollouts included" } else { "one SAC step, batch 256" });
    println!("  inference, 1 observation     {:>10.1} us", report.inference_1_obs_us);
    println!("  inference, 256 observations  {:>10.1} us", report.inference_batch_256_us);
    match (report.env_steps_to_90, report.wall_s_to_90) {
        (Some(s), Some(w)) => println!("  90 % success reached at      {s:>10} env steps, {w:.1} s"),
        _ => println!("  90 % success not reached"),
    }
    println!("  final success                {:>10.1} % (error {:.2} mm)", report.final_success_rate * 100.0, report.final_error_mm);
    Ok(())
}
