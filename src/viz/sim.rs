//! The display env and what drives it: a replayed policy bundle or the
//! task's scripted oracle. Pause, single steps and seeded resets come from the UI.

use std::sync::Mutex;

use bevy::prelude::*;

use super::ViewerOptions;
use crate::env::{Env, StepInfo, episode_seed};
use crate::rl::GoalPolicy;
use crate::task::{Observation, TaskConfig};

/// Who chooses the actions.
pub enum Driver {
    Policy(Box<GoalPolicy>),
    Oracle,
}

/// One point of the tip trail: position and tip error (m) at that step.
#[derive(Clone, Copy, Debug)]
pub struct TrailPoint {
    pub tip: Vec3,
    pub error_m: f32,
}

/// The display env and the episode being shown.
#[derive(Resource)]
pub struct Sim {
    /// Behind a mutex only so that the resource is `Sync`; one system writes it.
    env: Mutex<Env>,
    driver: Mutex<Driver>,
    pub task: String,
    pub driver_name: String,
    pub tolerance_m: f32,
    pub episode_steps: usize,
    /// Base seed of the run of episodes.
    pub seed: u64,
    /// Index of the episode shown.
    pub episode: u64,
    /// Bumped on every reset: plugins rebuild what they drew of the old world.
    pub generation: u64,
    pub obs: Observation,
    pub last: Option<StepInfo>,
    pub step: usize,
    pub done: bool,
    pub successes: u32,
    pub episodes_done: u32,
    /// Tip error (mm) after each step, index 0 is the start.
    pub errors_mm: Vec<f64>,
    pub trail: Vec<TrailPoint>,
    pub paused: bool,
    pub step_once: bool,
    /// Held by the recorder while pipelines warm up.
    pub hold: bool,
    pub steps_per_second: f64,
    /// Step exactly once per rendered frame (recording: reproducible frames).
    pub per_frame: bool,
    accumulator: f64,
    done_frames: u32,
    pub error: Option<String>,
}

impl Sim {
    pub fn new(options: &ViewerOptions) -> anyhow::Result<Self> {
        let (config, driver, driver_name) = match &options.policy {
            Some(path) => {
                let loaded = crate::policy::load(path, None)?;
                let name = format!("policy {} ({})", path.display(), loaded.manifest.algorithm);
                (loaded.manifest.task_config.clone(), Driver::Policy(Box::new(loaded.policy)), name)
            }
            None => (TaskConfig::builtin(&options.task)?, Driver::Oracle, "scripted oracle".to_string()),
        };
        let env = Env::new(config.clone())?;
        let mut sim = Self {
            task: env.task().name().to_string(),
            env: Mutex::new(env),
            driver: Mutex::new(driver),
            driver_name,
            tolerance_m: config.episode.success_tolerance_m as f32,
            episode_steps: config.episode.steps,
            seed: options.seed,
            episode: 0,
            generation: 0,
            obs: Observation::default(),
            last: None,
            step: 0,
            done: false,
            successes: 0,
            episodes_done: 0,
            errors_mm: Vec::new(),
            trail: Vec::new(),
            paused: false,
            step_once: false,
            hold: false,
            steps_per_second: options.steps_per_second,
            per_frame: options.record_frames.is_some(),
            accumulator: 0.0,
            done_frames: 0,
            error: None,
        };
        sim.reset_episode(0)?;
        Ok(sim)
    }

    /// Read access to the env (the scene plugin draws from it).
    pub fn env(&self) -> std::sync::MutexGuard<'_, Env> {
        self.env.lock().expect("env lock")
    }

    /// Starts episode `k` of the current seed.
    pub fn reset_episode(&mut self, k: u64) -> anyhow::Result<()> {
        let env = self.env.get_mut().expect("env lock");
        let obs = env.reset(episode_seed(self.seed, 0, k))?;
        let error = env.task().tip_error(&env.arm_state());
        self.episode = k;
        self.generation += 1;
        self.step = 0;
        self.done = false;
        self.last = None;
        self.done_frames = 0;
        self.errors_mm = vec![error * 1e3];
        self.trail = vec![TrailPoint { tip: super::vec3_from(&obs.achieved_goal), error_m: error as f32 }];
        self.obs = obs;
        Ok(())
    }

    /// One control step with the driver's action.
    pub fn advance(&mut self) -> anyhow::Result<()> {
        if self.done {
            return Ok(());
        }
        let env = self.env.get_mut().expect("env lock");
        let action = match &*self.driver.get_mut().expect("driver lock") {
            Driver::Policy(policy) => policy.act(std::slice::from_ref(&self.obs)),
            Driver::Oracle => env.oracle_action(),
        };
        let s = env.step(&action)?;
        self.step += 1;
        self.errors_mm.push(s.info.tip_error_mm);
        self.trail.push(TrailPoint { tip: super::vec3_from(&s.observation.achieved_goal), error_m: (s.info.tip_error_mm * 1e-3) as f32 });
        self.done = s.terminated || s.truncated;
        if self.done {
            self.episodes_done += 1;
            self.successes += s.info.success as u32;
        }
        self.obs = s.observation;
        self.last = Some(s.info);
        Ok(())
    }
}

pub struct SimPlugin;

impl Plugin for SimPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(Update, drive);
    }
}

/// Frames (per-frame mode) or seconds an ended episode stays on screen.
const HOLD_FRAMES: u32 = 8;
const HOLD_SECONDS: f64 = 1.0;

fn drive(mut sim: ResMut<Sim>, time: Res<Time>) {
    if sim.hold || sim.error.is_some() {
        return;
    }
    let result = (|| -> anyhow::Result<()> {
        if sim.done {
            // Show the end of the episode a moment, then the next one.
            if sim.paused && !sim.step_once {
                return Ok(());
            }
            sim.done_frames += 1;
            let hold = if sim.per_frame { HOLD_FRAMES } else { (HOLD_SECONDS * 60.0) as u32 };
            if sim.done_frames >= hold || sim.step_once {
                sim.step_once = false;
                let next = sim.episode + 1;
                sim.reset_episode(next)?;
            }
            return Ok(());
        }
        if sim.step_once {
            sim.step_once = false;
            return sim.advance();
        }
        if sim.paused {
            return Ok(());
        }
        if sim.per_frame {
            return sim.advance();
        }
        sim.accumulator += time.delta_secs_f64() * sim.steps_per_second;
        // Never more than a few steps per frame, so a slow frame does not jump.
        let mut n = 0;
        while sim.accumulator >= 1.0 && n < 4 && !sim.done {
            sim.accumulator -= 1.0;
            sim.advance()?;
            n += 1;
        }
        sim.accumulator = sim.accumulator.min(1.0);
        Ok(())
    })();
    if let Err(e) = result {
        error!("simulation stopped: {e:#}");
        sim.error = Some(format!("{e:#}"));
    }
}
