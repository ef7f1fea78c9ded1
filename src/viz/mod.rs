//! The 3-D viewer (cargo feature `viz`): bevy plugins that draw the state of
//! an [`Env`](crate::env::Env). The viewer never runs physics of its own: the
//! [`sim`] plugin steps one display env with a policy (or the scripted
//! oracle), and every other plugin only reads that env.
//!
//! World frame: Y up, metres, origin at the centre of the tray's top surface,
//! the same convention as bevy's, so poses are copied without conversion.

pub mod camera;
pub mod material;
pub mod record;
pub mod scene;
pub mod sim;
pub mod teleop;
pub mod train;
pub mod ui;

use std::path::PathBuf;

use bevy::prelude::*;
use bevy::window::WindowResolution;

use crate::task::TaskConfig;

/// Who drives the instrument in the viewer.
#[derive(Clone, Debug)]
pub enum Mode {
    /// Replay a policy bundle episode after episode, or the task's scripted
    /// oracle when there is none.
    Replay { policy: Option<PathBuf> },
    /// Train on a thread of its own; the viewer plays the latest snapshot.
    Train(TrainOptions),
    /// Drive the tip from the keyboard; optionally save the episodes.
    Teleop { record: Option<PathBuf> },
}

/// Live training: what to train and where to save the result.
#[derive(Clone, Debug)]
pub struct TrainOptions {
    pub algo: crate::rl::Algo,
    pub steps: u64,
    /// Hyper-parameters (TOML text and its origin), or the defaults.
    pub hyperparameters_toml: Option<(String, String)>,
    pub envs: Option<usize>,
    /// Training threads (0 = one per core).
    pub threads: usize,
    /// Write the trained policy here when training ends.
    pub out: Option<PathBuf>,
    /// Close the viewer once training has ended (for measurements).
    pub exit_when_done: bool,
}

/// What `gesture-lab view` asks of the viewer.
#[derive(Clone, Debug)]
pub struct ViewerOptions {
    pub mode: Mode,
    /// The task (a replayed bundle carries its own config and ignores this).
    pub task: TaskConfig,
    /// Base seed: episode k runs with `episode_seed(seed, 0, k)`.
    pub seed: u64,
    /// Control steps per second in interactive mode (20 = real time).
    pub steps_per_second: f64,
    /// Save numbered PNG screenshots of every frame into this folder.
    pub record_frames: Option<PathBuf>,
    /// Exit after this many frames (recorded frames with `record_frames`).
    pub frames: Option<u32>,
    /// Frames rendered before recording or stepping starts (pipelines compile).
    pub warmup_frames: u32,
    pub width: u32,
    pub height: u32,
    /// 4× multisampling (smoother edges; costly on a software rasteriser).
    pub msaa: bool,
    /// Frame-rate cap (0 = none). Live training defaults to a low cap so the
    /// renderer leaves the cores to the learner.
    pub max_fps: f64,
    /// The viewpoint the camera starts from.
    pub viewpoint: camera::Viewpoint,
}

impl Default for ViewerOptions {
    fn default() -> Self {
        Self {
            mode: Mode::Replay { policy: None },
            task: TaskConfig::builtin("needle-reach").expect("built-in task"),
            seed: 0,
            steps_per_second: 20.0,
            record_frames: None,
            frames: None,
            warmup_frames: 30,
            width: 1280,
            height: 720,
            msaa: false,
            max_fps: 0.0,
            viewpoint: camera::Viewpoint::Overview,
        }
    }
}

/// Opens the viewer window and runs until it is closed (or `frames` are done).
pub fn run_viewer(options: ViewerOptions) -> anyhow::Result<()> {
    let sim = sim::Sim::new(&options)?;
    if let Some(dir) = &options.record_frames {
        std::fs::create_dir_all(dir)?;
    }
    // Live training starts first, on a thread that keeps the normal priority;
    // every thread the viewer starts afterwards (bevy's pools, the software
    // rasteriser's workers) runs in SCHED_IDLE, so rendering only uses the
    // cycles training leaves.
    let training = match &options.mode {
        Mode::Train(train) => Some(train::Training::start(&options.task, train, options.seed)?),
        _ => None,
    };
    if training.is_some() {
        lower_this_threads_priority();
    }
    let mut app = App::new();
    app.insert_resource(ClearColor(Color::srgb(0.13, 0.14, 0.16)))
        .add_plugins(DefaultPlugins.set(WindowPlugin {
            primary_window: Some(Window {
                title: "gesture-lab viewer".into(),
                resolution: WindowResolution::new(options.width, options.height),
                present_mode: bevy::window::PresentMode::AutoNoVsync,
                ..default()
            }),
            ..default()
        }))
        .insert_resource(sim)
        .insert_resource(ui::ViewerSettings(options.clone()))
        .add_plugins((
            sim::SimPlugin,
            scene::ScenePlugin,
            camera::OrbitCameraPlugin { msaa: options.msaa, viewpoint: options.viewpoint },
            record::RecordPlugin::new(&options),
            teleop::TeleopPlugin,
        ));
    if options.max_fps > 0.0 {
        // Not winit's reactive mode: egui asks for a redraw whenever its
        // text changes, which is every frame here.
        app.insert_resource(FrameCap { period: std::time::Duration::from_secs_f64(1.0 / options.max_fps), last: None }).add_systems(Last, cap_frame_rate);
    }
    app.add_plugins((bevy_egui::EguiPlugin::default(), ui::UiPlugin));
    if let Some(training) = training {
        app.insert_resource(training).add_plugins(train::TrainingPlugin);
    }
    match app.run() {
        AppExit::Success => Ok(()),
        AppExit::Error(code) => anyhow::bail!("viewer exited with code {code}"),
    }
}

/// The shortest time between two frames (`--max-fps`).
#[derive(Resource)]
struct FrameCap {
    period: std::time::Duration,
    last: Option<std::time::Instant>,
}

/// Sleeps the rest of the frame period away, so the renderer idles instead
/// of competing with training for the cores.
fn cap_frame_rate(mut cap: ResMut<FrameCap>) {
    if let Some(last) = cap.last {
        let elapsed = last.elapsed();
        if elapsed < cap.period {
            std::thread::sleep(cap.period - elapsed);
        }
    }
    cap.last = Some(std::time::Instant::now());
}

/// Puts the calling thread (and every thread it starts later) in Linux's
/// SCHED_IDLE class: it runs only on cycles no normal thread wants. A nice
/// value was not enough: PPO's parallel rollouts wait at every step for their
/// slowest worker, so even a short preemption by a render thread stalled them
/// (measured: nice 10 still cost PPO 19 %). Best effort: on failure, nothing changes.
fn lower_this_threads_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: plain syscalls on the calling thread's id with a valid parameter block.
    unsafe {
        let tid = libc::gettid();
        let param = libc::sched_param { sched_priority: 0 };
        if libc::sched_setscheduler(tid, libc::SCHED_IDLE, &param) != 0 {
            warn!("could not lower the viewer's priority: training may slow down more");
        }
    }
}

/// A nalgebra pose (f64) as a bevy transform.
pub fn transform_from(iso: &rapier3d::na::Isometry3<f64>) -> Transform {
    let t = iso.translation.vector;
    let q = iso.rotation.quaternion();
    Transform {
        translation: Vec3::new(t.x as f32, t.y as f32, t.z as f32),
        rotation: Quat::from_xyzw(q.i as f32, q.j as f32, q.k as f32, q.w as f32).normalize(),
        scale: Vec3::ONE,
    }
}

/// A rapier (glam f32) pose as a bevy transform.
pub fn transform_from_pose(pose: &rapier3d::math::Pose) -> Transform {
    transform_from(&crate::sim::convert::from_pose(pose))
}

pub fn vec3_from(v: &[f32]) -> Vec3 {
    Vec3::new(v[0], v[1], v[2])
}
