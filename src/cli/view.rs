//! `gesture-lab view`: the 3-D viewer's arguments.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;

use super::*;

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
    /// The viewpoint to start from (the panel switches it); `endoscope` rides
    /// the simulated endoscope in the camera (ECM) tasks.
    #[arg(long, default_value = "overview", value_parser = ["overview", "endoscope", "side", "top"])]
    pub viewpoint: String,
    /// Frame-rate cap (0 = none; with --train the default is 5: PPO then keeps 96 % of its headless speed).
    #[arg(long)]
    pub max_fps: Option<f64>,
}

#[cfg(feature = "viz")]
pub(super) fn view(args: ViewArgs) -> Result<()> {
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
    // Outputs are proved writable before the window opens, not when the
    // first frame, the teleop session or the training ends.
    if let Some(dir) = &args.record_frames {
        crate::files::check_output_dir(dir)?;
    }
    if let Some(file) = &args.record {
        crate::files::check_output_file(file)?;
    }
    if let Some(dir) = &args.out {
        crate::files::check_output_dir(dir)?;
    }
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
        viewpoint: crate::viz::camera::Viewpoint::named(&args.viewpoint).expect("clap checked the name"),
    })
}
