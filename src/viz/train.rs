//! Live training: the learner runs on its own thread at full speed and sends
//! its progress (with a policy snapshot at every evaluation) over a channel.
//! The viewer never waits on it: each frame drains what has arrived, updates
//! the curves and hands the newest snapshot to the display env.

use std::sync::Mutex;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;

use bevy::prelude::*;

use super::TrainOptions;
use super::sim::Sim;
use crate::rl::AlgoConfig;
use crate::rl::sac::{Evaluation, Progress};
use crate::task::TaskConfig;

/// What the training thread sends.
pub enum TrainEvent {
    Progress(Box<Progress>),
    /// Training ended: a summary line, or the error.
    Finished(Result<String, String>),
}

/// The training run as the viewer sees it.
#[derive(Resource)]
pub struct Training {
    events: Mutex<Receiver<TrainEvent>>,
    thread: Option<JoinHandle<()>>,
    /// Starts the training thread (sent once the viewer is up).
    go: Option<Sender<()>>,
    /// Frames rendered so far (training starts after [`START_AFTER_FRAMES`]).
    frames: u32,
    pub algorithm: &'static str,
    pub total_steps: u64,
    pub env_steps: u64,
    pub wall_s: f64,
    /// Evaluations so far (success rate and mean final tip error per point).
    pub curve: Vec<Evaluation>,
    /// Success rate of recent training episodes, against env steps.
    pub train_success: Vec<[f64; 2]>,
    pub finished: Option<Result<String, String>>,
    pub exit_when_done: bool,
}

impl Training {
    /// Starts the training thread.
    pub fn start(task: &TaskConfig, options: &TrainOptions, seed: u64) -> anyhow::Result<Self> {
        let toml = options.hyperparameters_toml.as_ref().map(|(text, origin)| (text.as_str(), origin.as_str()));
        let config = AlgoConfig::new(options.algo, toml)?.with_envs(options.envs)?;
        let run = Run { task: task.clone(), config, steps: options.steps, seed, threads: options.threads, out: options.out.clone() };
        let (sender, events) = channel();
        let (go, wait_for_go) = channel::<()>();
        let thread = std::thread::Builder::new().name("training".into()).spawn(move || {
            // Held until the viewer's start-up (shader compilation, which
            // keeps every core busy) is over, so it does not count against training.
            if wait_for_go.recv().is_ok() {
                run_training(run, sender);
            }
        })?;
        Ok(Self {
            events: Mutex::new(events),
            thread: Some(thread),
            go: Some(go),
            frames: 0,
            algorithm: options.algo.name(),
            total_steps: options.steps,
            env_steps: 0,
            wall_s: 0.0,
            curve: Vec::new(),
            train_success: Vec::new(),
            finished: None,
            exit_when_done: options.exit_when_done,
        })
    }

    /// Env steps per second of the learner so far.
    pub fn steps_per_second(&self) -> f64 {
        if self.wall_s > 0.0 { self.env_steps as f64 / self.wall_s } else { 0.0 }
    }
}

/// What the training thread runs.
struct Run {
    task: TaskConfig,
    config: AlgoConfig,
    steps: u64,
    seed: u64,
    threads: usize,
    out: Option<std::path::PathBuf>,
}

fn run_training(run: Run, events: Sender<TrainEvent>) {
    // A closed viewer drops the receiver; sends then fail and are ignored.
    let mut on_progress = |p: &Progress| {
        let _ = events.send(TrainEvent::Progress(Box::new(p.clone())));
    };
    let trained = crate::rl::train(&run.task, &run.config, run.steps, run.seed, run.threads, None, None, &mut on_progress);
    let result = trained.map_err(|e| e.to_string()).and_then(|trained| {
        let ev = trained.curve.last().expect("training ends with an evaluation");
        let mut summary = format!(
            "trained {} on {} for {} env steps in {:.1} s ({:.0} env steps/s): success {:.0} %, final tip error {:.2} mm",
            trained.algo.name(),
            trained.task.task,
            trained.env_steps,
            trained.wall_s,
            trained.env_steps as f64 / trained.wall_s,
            ev.success_rate * 100.0,
            ev.mean_final_error_mm
        );
        if let Some(dir) = &run.out {
            crate::policy::save_trained(dir, &trained, &run.config, run.seed).map_err(|e| e.to_string())?;
            summary.push_str(&format!("; policy written to {}", dir.display()));
        }
        Ok(summary)
    });
    let _ = events.send(TrainEvent::Finished(result));
}

pub struct TrainingPlugin;

impl Plugin for TrainingPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(PreUpdate, receive_training);
    }
}

/// Frames the viewer renders before training starts: by then the render
/// pipelines are compiled and the scene is on screen.
pub const START_AFTER_FRAMES: u32 = 20;

/// Drains the channel: counters, curves, and the newest snapshot for the display env.
pub fn receive_training(mut training: ResMut<Training>, mut sim: ResMut<Sim>, mut exit: MessageWriter<AppExit>) {
    training.frames += 1;
    if training.frames >= START_AFTER_FRAMES
        && let Some(go) = training.go.take()
    {
        let _ = go.send(());
    }
    let events: Vec<TrainEvent> = training.events.lock().expect("events lock").try_iter().collect();
    for event in events {
        match event {
            TrainEvent::Progress(p) => {
                let p = *p;
                training.env_steps = p.env_steps;
                training.wall_s = p.wall_s;
                if p.train_success_rate.is_finite() {
                    training.train_success.push([p.env_steps as f64, p.train_success_rate]);
                }
                if let Some(ev) = p.evaluation {
                    training.curve.push(ev);
                }
                if let Some(policy) = p.policy {
                    sim.offer_snapshot(policy, p.env_steps);
                }
            }
            TrainEvent::Finished(result) => {
                match &result {
                    Ok(summary) => {
                        info!("{summary}");
                        println!("{summary}");
                    }
                    Err(e) => {
                        error!("training failed: {e}");
                        eprintln!("training failed: {e}");
                    }
                }
                if let Some(thread) = training.thread.take() {
                    let _ = thread.join();
                }
                let failed = result.is_err();
                training.finished = Some(result);
                if training.exit_when_done {
                    exit.write(if failed { AppExit::error() } else { AppExit::Success });
                }
            }
        }
    }
}
