//! `train`, `eval` and `replay`: making and using policy bundles.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde::Serialize;

use super::*;
use crate::env::Env;
use crate::policy;
use crate::policy::training::{self, KeepWeights, TrainRequest};
use crate::rl::sac;
use crate::rng::episode_seed;
use crate::sim::physics::GraspMode;
use crate::task::TaskConfig;
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Args, Debug)]
pub struct TrainArgs {
    #[command(flatten)]
    pub task: TaskArgs,
    #[arg(long, value_enum, default_value = "sac-her")]
    pub algo: Algo,
    /// Env steps to train for (bc: gradient updates).
    #[arg(long, default_value_t = 50_000)]
    pub steps: u64,
    /// Demonstration files (`demos record` or the viewer's `--record`) to learn
    /// from: bc clones them, sac-her samples them into every batch.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub demos: Vec<PathBuf>,
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
    /// Which weights the bundle keeps: those at the end of training, or
    /// those of the best evaluation on the way (highest success, then lowest
    /// error; the evaluation episodes' seeds are never trained on).
    #[arg(long, value_enum, default_value = "last")]
    pub keep: KeepWeights,
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

pub(super) fn train(args: &TrainArgs) -> Result<()> {
    let mut task = args.task.load()?;
    if args.randomize {
        let preset = crate::task::perturb::PerturbConfig::randomize_preset();
        task.perturb = preset.with_overrides(args.task.perturb.as_deref().unwrap_or(""))?;
    }
    if args.steps == 0 {
        bail!("--steps 0: train for at least one step");
    }
    let algo = args.algo.name();
    let out = args.out.clone().unwrap_or_else(|| training::default_out(&task.task, args.algo, args.seed));
    let request = TrainRequest {
        task,
        action_history: args.action_history,
        algo: args.algo,
        steps: args.steps,
        seed: args.seed,
        envs: args.envs,
        config: read_config_file(&args.config)?,
        demos: args.demos.clone(),
        out: out.clone(),
        threads: args.threads,
        checkpoint_every: args.checkpoint_every,
        resume: args.resume,
        keep: args.keep,
    };

    let bar = if args.quiet { ProgressBar::hidden() } else { ProgressBar::new(args.steps) };
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} steps {per_sec} | {msg}").expect("valid template").progress_chars("=> "),
    );
    let mut last_train = String::new();
    let mut last_eval = String::new();
    let mut last_learner = String::new();
    let mut on_progress = |p: &sac::Progress| {
        // BC takes no env steps: its bar counts gradient updates.
        bar.set_position(p.evaluation.as_ref().and_then(|e| e.updates).unwrap_or(p.env_steps));
        match &p.evaluation {
            Some(e) => {
                last_eval = format!("eval success {:.0} % err {:.2} mm", e.success_rate * 100.0, e.mean_final_error_mm);
                if args.quiet {
                    match e.updates.filter(|_| p.env_steps == 0) {
                        Some(u) => eprintln!("{u:>8} updates {:>7.1} s  {last_eval}", p.wall_s),
                        None => eprintln!("{:>8} steps {:>7.1} s  {last_eval}{last_learner}", p.env_steps, p.wall_s),
                    }
                }
            }
            None => {
                last_train = format!("train success {:.0} % err {:.1} mm", p.train_success_rate * 100.0, p.train_final_error_mm);
                if let Some(l) = &p.learner {
                    last_learner = format!(" | critic loss {:.3}, alpha {:.4}", l.critic_loss, l.alpha);
                    if !args.demos.is_empty() {
                        last_learner += &format!(", bc loss {:.4}, Q-filter pass {:.0} %", l.bc_loss, l.q_filter_pass * 100.0);
                    }
                }
            }
        }
        bar.set_message(format!("{last_train} | {last_eval}"));
    };
    let trained = request.run(&mut |note| eprintln!("{note}"), &mut on_progress)?;
    bar.finish();

    let outcome = &trained.outcome;
    let final_eval = outcome.curve.last().cloned().expect("training ends with an evaluation");
    if outcome.env_steps == 0 {
        println!("trained {} on {} with {} gradient updates (no env steps) in {:.1} s", algo, outcome.task.task, outcome.updates, outcome.wall_s);
    } else {
        println!(
            "trained {} on {} for {} env steps in {:.1} s ({:.0} env steps/s, {} updates)",
            algo,
            outcome.task.task,
            outcome.env_steps,
            outcome.wall_s,
            outcome.env_steps as f64 / outcome.wall_s,
            outcome.updates
        );
    }
    if let crate::rl::AlgoConfig::SacHer(c) = &trained.config
        && let Some(target) = c.stop_at_success.filter(|_| outcome.env_steps < args.steps)
    {
        println!(
            "stopped at the first evaluation with success >= {:.1} % (stop_at_success), {} env steps before the budget",
            target * 100.0,
            args.steps - outcome.env_steps
        );
    }
    println!(
        "evaluation ({} episodes): success {:.1} %, mean final tip error {:.2} mm",
        final_eval.episodes,
        final_eval.success_rate * 100.0,
        final_eval.mean_final_error_mm
    );
    print_task_metrics(&final_eval, &outcome.task);
    if args.keep == KeepWeights::Best {
        let e = &trained.kept;
        println!(
            "kept the best evaluation's weights: {} env steps, success {:.1} %, error {:.2} mm",
            e.env_steps,
            e.success_rate * 100.0,
            e.mean_final_error_mm
        );
    }
    println!("policy written to {}", out.display());
    Ok(())
}

pub(super) fn eval(args: &EvalArgs) -> Result<()> {
    if args.episodes == 0 {
        bail!("--episodes 0: evaluate at least one episode");
    }
    let loaded = policy::load(&args.policy, args.task.as_deref())?;
    let config = training::evaluation_config(&loaded.manifest.task_config, args.perturb.as_deref(), args.grasp)?;
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
        println!("  mean final {} {o:.2} deg", crate::task::orientation_label(&task.task));
    }
    if let (Some(rms), Some(max)) = (ev.mean_tracking_rms_mm, ev.mean_tracking_max_mm) {
        println!("  path tracking error     RMS {rms:.3} mm, max {max:.3} mm (means over episodes)");
    }
    if let Some(f) = ev.mean_centred_fraction {
        println!("  target in the band      {:.1} % of steps (mean over episodes)", f * 100.0);
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
    /// What the policy saw before acting (the task's observation layout).
    observation: Vec<f32>,
    /// Grasp tasks: how the jaws hold the object after the step.
    #[serde(skip_serializing_if = "Option::is_none")]
    grasp: Option<crate::env::GraspInfo>,
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

pub(super) fn replay(args: &ReplayArgs) -> Result<()> {
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
            observation: obs.observation.clone(),
            grasp: s.info.grasp.clone(),
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
            println!(
                "episode seed {}: success {}, final tip error {:.3} mm; trajectory written to {}",
                args.seed,
                traj.success,
                traj.final_tip_error_mm,
                path.display()
            );
        }
        None => print!("{json}"),
    }
    Ok(())
}
