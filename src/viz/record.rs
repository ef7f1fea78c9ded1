//! `--record-frames DIR --frames N`: numbered PNG screenshots of the primary
//! window, then exit; `--frames N` alone runs N frames and reports the frame rate.

use std::path::PathBuf;
use std::time::Instant;

use bevy::prelude::*;
use bevy::render::view::screenshot::{Capturing, Screenshot, save_to_disk};

use super::ViewerOptions;
use super::sim::Sim;

pub struct RecordPlugin {
    dir: Option<PathBuf>,
    frames: Option<u32>,
    warmup: u32,
}

impl RecordPlugin {
    pub fn new(options: &ViewerOptions) -> Self {
        let bounded = options.frames.is_some() || options.record_frames.is_some();
        Self { dir: options.record_frames.clone(), frames: options.frames, warmup: if bounded { options.warmup_frames } else { 0 } }
    }
}

#[derive(Resource)]
struct Recorder {
    dir: Option<PathBuf>,
    frames: Option<u32>,
    warmup: u32,
    /// Frames rendered so far (warm-up included).
    frame: u32,
    /// Frames counted after the warm-up.
    counted: u32,
    started: Option<Instant>,
    finished: Option<Instant>,
    waited: u32,
}

impl Plugin for RecordPlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(Recorder {
            dir: self.dir.clone(),
            frames: self.frames.or(self.dir.as_ref().map(|_| 60)),
            warmup: self.warmup,
            frame: 0,
            counted: 0,
            started: None,
            finished: None,
            waited: 0,
        })
        .add_systems(Startup, hold_for_warmup)
        .add_systems(Last, record);
    }
}

fn hold_for_warmup(rec: Res<Recorder>, mut sim: ResMut<Sim>) {
    sim.hold = rec.warmup > 0;
}

fn record(mut commands: Commands, mut rec: ResMut<Recorder>, mut sim: ResMut<Sim>, capturing: Query<(), With<Capturing>>, mut exit: MessageWriter<AppExit>) {
    rec.frame += 1;
    if rec.frame <= rec.warmup {
        if rec.frame == rec.warmup {
            sim.hold = false;
        }
        return;
    }
    let Some(frames) = rec.frames else { return };
    if rec.finished.is_none() {
        let started = *rec.started.get_or_insert_with(Instant::now);
        if let Some(dir) = &rec.dir {
            let path = dir.join(format!("frame_{:04}.png", rec.counted));
            commands.spawn(Screenshot::primary_window()).observe(save_to_disk(path));
        }
        rec.counted += 1;
        if rec.counted >= frames {
            let now = Instant::now();
            rec.finished = Some(now);
            let secs = (now - started).as_secs_f64();
            // Frames between the first and the last counted frame.
            let fps = (rec.counted.saturating_sub(1)) as f64 / secs.max(1e-9);
            info!("{} frames in {:.2} s: {:.2} frames/s{}", rec.counted, secs, fps, if rec.dir.is_some() { " (saving screenshots)" } else { "" });
            println!("frames: {}, seconds: {:.3}, fps: {:.2}", rec.counted, secs, fps);
        }
        return;
    }
    // Wait until every screenshot has been written (bounded), then exit.
    rec.waited += 1;
    if capturing.is_empty() || rec.waited > 600 {
        if rec.waited > 600 {
            warn!("some screenshots were not captured");
        }
        exit.write(AppExit::Success);
    }
}
