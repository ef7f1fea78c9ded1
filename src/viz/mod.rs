//! The 3-D viewer (cargo feature `viz`): bevy plugins that draw the state of
//! an [`Env`](crate::env::Env). The viewer never runs physics of its own: the
//! [`sim`] plugin steps one display env with a policy (or the scripted
//! oracle), and every other plugin only reads that env.
//!
//! World frame: Y up, metres, origin at the centre of the tray's top surface,
//! the same convention as bevy's, so poses are copied without conversion.

pub mod camera;
pub mod record;
pub mod scene;
pub mod sim;
pub mod ui;

use std::path::PathBuf;

use bevy::prelude::*;
use bevy::window::WindowResolution;

/// What `gesture-lab view` asks of the viewer.
#[derive(Clone, Debug)]
pub struct ViewerOptions {
    /// A policy bundle to replay; `None` replays the task's scripted oracle.
    pub policy: Option<PathBuf>,
    /// Task (only without a policy; a bundle carries its own task config).
    pub task: String,
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
}

impl Default for ViewerOptions {
    fn default() -> Self {
        Self {
            policy: None,
            task: "needle-reach".into(),
            seed: 0,
            steps_per_second: 20.0,
            record_frames: None,
            frames: None,
            warmup_frames: 30,
            width: 1280,
            height: 720,
            msaa: false,
        }
    }
}

/// Opens the viewer window and runs until it is closed (or `frames` are done).
pub fn run_viewer(options: ViewerOptions) -> anyhow::Result<()> {
    let sim = sim::Sim::new(&options)?;
    if let Some(dir) = &options.record_frames {
        std::fs::create_dir_all(dir)?;
    }
    let exit = App::new()
        .insert_resource(ClearColor(Color::srgb(0.13, 0.14, 0.16)))
        .add_plugins(DefaultPlugins.set(WindowPlugin {
            primary_window: Some(Window {
                title: "gesture-lab viewer".into(),
                resolution: WindowResolution::new(options.width, options.height),
                ..default()
            }),
            ..default()
        }))
        .add_plugins(bevy_egui::EguiPlugin::default())
        .insert_resource(sim)
        .add_plugins((
            sim::SimPlugin,
            scene::ScenePlugin,
            camera::OrbitCameraPlugin { msaa: options.msaa },
            ui::UiPlugin,
            record::RecordPlugin::new(&options),
        ))
        .run();
    match exit {
        AppExit::Success => Ok(()),
        AppExit::Error(code) => anyhow::bail!("viewer exited with code {code}"),
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
