//! `demos record|info`: demonstration files for learning from demonstrations.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use super::{TaskArgs, print_json};
use crate::policy::{
    self,
    demos::{Demonstrations, RecoveryPerturbation, record_oracle_with_recovery},
};

#[derive(Subcommand, Debug)]
pub enum DemosCommand {
    /// Run the task's scripted oracle and keep its successful episodes (as SurRoL does)
    /// until N are kept; writes a demonstration file (the viewer's teleop format).
    Record(DemosRecordArgs),
    /// Print a demonstration file's task, grasp mode, episode count, success rate and mean length.
    Info {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Debug)]
pub struct DemosRecordArgs {
    #[command(flatten)]
    pub task: TaskArgs,
    /// Successful episodes to keep.
    #[arg(long, default_value_t = 100)]
    pub episodes: usize,
    /// Episode k runs on env seed episode_seed(seed, 0, k), as `eval --seed` does.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Give up after this many episodes (default 10 x --episodes + 10).
    #[arg(long)]
    pub max_tries: Option<u64>,
    /// Fraction of episodes in which the oracle is perturbed (--recovery-noise,
    /// --recovery-burst), so that the demonstrations also show it recovering:
    /// from a missed grasp, a blade wedged on the object, a dropped object.
    /// 0: the plain oracle.
    #[arg(long, default_value_t = 0.0)]
    pub recovery_rate: f64,
    /// In a perturbed episode: Gaussian noise of this standard deviation on
    /// each action component (action units, clipped to [-1, 1]); one value
    /// for all, or one per component, comma-separated (PSM: dx,dy,dz,yaw,jaw;
    /// noise on the jaw drops what it holds).
    #[arg(long, value_delimiter = ',')]
    pub recovery_noise: Vec<f64>,
    /// In a perturbed episode: this many uniformly random actions in a row,
    /// from a random step of the episode's first half.
    #[arg(long, default_value_t = 0)]
    pub recovery_burst: usize,
    /// The demonstration file (JSON) to write.
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long)]
    pub quiet: bool,
}

pub(super) fn run(cmd: DemosCommand) -> Result<()> {
    match cmd {
        DemosCommand::Record(args) => record(&args),
        DemosCommand::Info { file, json } => info(&file, json),
    }
}

fn record(args: &DemosRecordArgs) -> Result<()> {
    if args.episodes == 0 {
        bail!("--episodes 0: keep at least one episode");
    }
    let config = args.task.load()?;
    let recovery = RecoveryPerturbation { rate: args.recovery_rate, noise_std: args.recovery_noise.clone(), burst_steps: args.recovery_burst };
    recovery.validate().context("--recovery-rate, --recovery-noise, --recovery-burst")?;
    // Refuse an unwritable output now, not after the recording.
    policy::check_output_file(&args.out)?;
    let bar = if args.quiet { ProgressBar::hidden() } else { ProgressBar::new(args.episodes as u64) };
    bar.set_style(ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} kept | {msg}").expect("valid template").progress_chars("=> "));
    let max_tries = args.max_tries.unwrap_or(10 * args.episodes as u64 + 10);
    let demos = record_oracle_with_recovery(&config, args.episodes, args.seed, max_tries, recovery, &mut |kept, tried| {
        bar.set_position(kept as u64);
        bar.set_message(format!("{tried} tried"));
    })?;
    bar.finish_and_clear();
    demos.save(&args.out)?;
    let s = demos.summary();
    let mode = if s.grasp == "none" { String::new() } else { format!(" ({} grasp mode)", s.grasp) };
    println!(
        "recorded {} successful {} episodes{mode} of {} tried, mean {:.1} steps to success; written to {}",
        s.episodes,
        s.task,
        s.episodes_tried.unwrap_or(s.episodes as u64),
        s.mean_steps_to_success.unwrap_or(f64::NAN),
        args.out.display()
    );
    Ok(())
}

fn info(file: &std::path::Path, json: bool) -> Result<()> {
    let s = Demonstrations::load(file)?.summary();
    if json {
        return print_json(&s);
    }
    println!("{}", file.display());
    println!("  task                    {}", s.task);
    println!("  grasp mode              {}", s.grasp);
    println!("  source                  {}", s.source);
    match s.episodes_tried {
        Some(tried) => println!(
            "  episodes                {} (kept of {tried} tried: {:.1} % oracle success)",
            s.episodes,
            s.episodes as f64 / tried.max(1) as f64 * 100.0
        ),
        None => println!("  episodes                {}", s.episodes),
    }
    println!("  successful episodes     {} ({:.1} %)", s.successful_episodes, s.success_rate * 100.0);
    println!("  transitions             {} (mean episode {:.1} steps)", s.transitions, s.mean_episode_steps);
    if let Some(t) = s.mean_steps_to_success {
        println!("  mean steps to success   {t:.1}");
    }
    println!("  shapes                  observation {}, goal {}, action {}", s.observation_dim, s.goal_dim, s.action_dim);
    Ok(())
}
