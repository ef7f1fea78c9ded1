//! The display env and what drives it: a replayed policy bundle, the task's
//! scripted oracle, the latest snapshot of a live training run, or the
//! keyboard. Pause, single steps and seeded resets come from the UI.

use std::path::PathBuf;
use std::sync::Mutex;

use bevy::prelude::*;

use super::{Mode, ViewerOptions};
use crate::env::{Env, PSM_ACTION_DIM, StepInfo};
use crate::policy::demos::{Demonstrations, EpisodeRecorder};
use crate::rl::GoalPolicy;
use crate::rng::episode_seed;
use crate::task::Observation;

/// Who chooses the actions.
pub enum Driver {
    Policy(Box<GoalPolicy>),
    Oracle,
    /// Live training: the snapshot playing now (none before the first
    /// evaluation: the arm holds still) and the env steps it was taken at.
    Training {
        snapshot: Option<(Box<GoalPolicy>, u64)>,
    },
    /// The keyboard (see `teleop`): `Sim::teleop_action` each step.
    Teleop,
}

/// One point of the tip trail: position and tip error (m) at that step.
#[derive(Clone, Copy, Debug)]
pub struct TrailPoint {
    pub tip: Vec3,
    pub error_m: f32,
}

/// Where teleoperated episodes are saved.
pub struct DemoRecording {
    pub path: PathBuf,
    pub demos: Demonstrations,
    pub current: EpisodeRecorder,
    /// The last save's outcome, for the panel.
    pub status: String,
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
    pub last_return: Option<f64>,
    episode_return: f64,
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
    done_seconds: f64,
    pub error: Option<String>,
    /// The newest training snapshot, played from the next episode on.
    pending_snapshot: Option<(Box<GoalPolicy>, u64)>,
    /// The keyboard's action for the next step (teleop), for the instrument `teleop_arm`.
    pub teleop_action: [f32; PSM_ACTION_DIM],
    /// Which instrument the keys drive, in action order (Tab switches).
    pub teleop_arm: usize,
    /// The jaw command each instrument keeps while the keys drive another
    /// (closed at first: a PSM that starts holding a needle keeps it).
    teleop_jaws: Vec<f32>,
    pub recording: Option<DemoRecording>,
}

/// Teleoperated episodes last at least this many control steps (20 s at
/// real time): a person needs longer than a policy.
pub const TELEOP_MIN_EPISODE_STEPS: usize = 400;

impl Sim {
    pub fn new(options: &ViewerOptions) -> anyhow::Result<Self> {
        let mut config = options.task.clone();
        let (driver, driver_name, record) = match &options.mode {
            Mode::Replay { policy: Some(path) } => {
                let loaded = crate::policy::load(path, None)?;
                let name = format!("policy {} ({})", path.display(), loaded.manifest.algorithm);
                config = loaded.manifest.task_config.clone();
                (Driver::Policy(Box::new(loaded.policy)), name, None)
            }
            Mode::Replay { policy: None } => (Driver::Oracle, "scripted oracle".to_string(), None),
            Mode::Train(t) => {
                // Shown on the reward the algorithm learns from.
                config = t.algo.learning_task(&config);
                (Driver::Training { snapshot: None }, format!("live training ({})", t.algo.name()), None)
            }
            Mode::Teleop { record } => {
                config.episode.steps = config.episode.steps.max(TELEOP_MIN_EPISODE_STEPS);
                (Driver::Teleop, "keyboard (teleop)".to_string(), record.clone())
            }
        };
        let env = Env::new(config.clone())?;
        let recording = record.map(|path| DemoRecording {
            path,
            demos: Demonstrations::new(&config, env.observation_dim(), env.goal_dim(), "teleop (keyboard)"),
            current: EpisodeRecorder::new(0),
            status: "no episode saved yet".into(),
        });
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
            last_return: None,
            episode_return: 0.0,
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
            done_seconds: 0.0,
            error: None,
            pending_snapshot: None,
            teleop_action: [0.0; PSM_ACTION_DIM],
            teleop_arm: 0,
            teleop_jaws: Vec::new(),
            recording,
        };
        sim.reset_episode(0)?;
        Ok(sim)
    }

    /// Instruments of the task (teleop switches between them).
    pub fn instrument_count(&self) -> usize {
        self.env().config().robot.instruments().len()
    }

    /// Gives the keys to the next instrument; the one they leave keeps its
    /// jaw as it was. Returns whether the new one's jaw is open.
    pub fn switch_teleop_arm(&mut self) -> bool {
        let n = self.instrument_count();
        self.teleop_jaws.resize(n, -1.0);
        self.teleop_jaws[self.teleop_arm] = self.teleop_action[crate::env::PSM_ACTION_DIM - 1];
        self.teleop_arm = (self.teleop_arm + 1) % n;
        self.teleop_jaws[self.teleop_arm] > 0.0
    }

    /// Read access to the env (the scene plugin draws from it).
    pub fn env(&self) -> std::sync::MutexGuard<'_, Env> {
        self.env.lock().expect("env lock")
    }

    /// Hands over a new training snapshot; it drives from the next episode on,
    /// so that every episode on screen is played by one policy.
    pub fn offer_snapshot(&mut self, policy: GoalPolicy, env_steps: u64) {
        self.pending_snapshot = Some((Box::new(policy), env_steps));
    }

    /// Env steps of the training snapshot driving the current episode.
    pub fn snapshot_steps(&self) -> Option<u64> {
        match &*self.driver.lock().expect("driver lock") {
            Driver::Training { snapshot } => snapshot.as_ref().map(|(_, s)| *s),
            _ => None,
        }
    }

    pub fn is_teleop(&self) -> bool {
        matches!(&*self.driver.lock().expect("driver lock"), Driver::Teleop)
    }

    /// Starts episode `k` of the current seed.
    pub fn reset_episode(&mut self, k: u64) -> anyhow::Result<()> {
        if let Some(snapshot) = self.pending_snapshot.take() {
            *self.driver.get_mut().expect("driver lock") = Driver::Training { snapshot: Some(snapshot) };
        }
        let seed = episode_seed(self.seed, 0, k);
        let env = self.env.get_mut().expect("env lock");
        let obs = env.reset(seed)?;
        let error = env.task().tip_error(&env.arm_state());
        if let Some(r) = &mut self.recording {
            r.current = EpisodeRecorder::new(seed);
        }
        self.episode = k;
        self.generation += 1;
        self.step = 0;
        self.done = false;
        self.last = None;
        self.episode_return = 0.0;
        self.done_frames = 0;
        self.done_seconds = 0.0;
        self.errors_mm = vec![error * 1e3];
        self.trail = vec![TrailPoint { tip: traced(self.env.get_mut().expect("env lock"), &obs), error_m: error as f32 }];
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
            Driver::Training { snapshot: Some((policy, _)) } => policy.act(std::slice::from_ref(&self.obs)),
            Driver::Training { snapshot: None } => vec![0.0; env.action_dim()],
            Driver::Oracle => env.oracle_action(),
            Driver::Teleop => teleop_env_action(env, &self.teleop_action, self.teleop_arm, &self.teleop_jaws),
        };
        let s = env.step(&action)?;
        if let Some(r) = &mut self.recording {
            r.current.record(&self.obs, &action, &s);
        }
        self.step += 1;
        self.episode_return += s.reward as f64;
        self.errors_mm.push(s.info.tip_error_mm);
        self.trail.push(TrailPoint { tip: traced(env, &s.observation), error_m: (s.info.tip_error_mm * 1e-3) as f32 });
        self.done = s.terminated || s.truncated;
        if self.done {
            self.episodes_done += 1;
            self.successes += s.info.success as u32;
            self.last_return = Some(self.episode_return);
            if let Some(r) = &mut self.recording {
                let recorder = std::mem::replace(&mut r.current, EpisodeRecorder::new(0));
                r.demos.episodes.push(recorder.finish(&s));
                r.status = match r.demos.save(&r.path) {
                    Ok(()) => format!("{} episodes saved to {}", r.demos.episodes.len(), r.path.display()),
                    Err(e) => format!("saving failed: {e}"),
                };
                info!("{}", r.status);
            }
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

/// Time per frame spent stepping at "unlimited" speed.
const UNLIMITED_STEP_BUDGET: std::time::Duration = std::time::Duration::from_millis(15);

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
            sim.done_seconds += time.delta_secs_f64();
            // Faster than real time, the pause shrinks with the speed.
            let hold_seconds = HOLD_SECONDS * (20.0 / sim.steps_per_second).min(1.0);
            let held = if sim.per_frame { sim.done_frames >= HOLD_FRAMES } else { sim.done_seconds >= hold_seconds };
            if held || sim.step_once {
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
        if sim.steps_per_second.is_infinite() {
            // Unlimited: as many steps as fit in a slice of the frame.
            let started = std::time::Instant::now();
            while !sim.done && started.elapsed() < UNLIMITED_STEP_BUDGET {
                sim.advance()?;
            }
            return Ok(());
        }
        sim.accumulator += time.delta_secs_f64() * sim.steps_per_second;
        // A slow frame does not make the arm jump: at most a tenth of a
        // second of steps per frame.
        let most = (sim.steps_per_second / 10.0).ceil().max(1.0) as u32;
        let mut n = 0;
        while sim.accumulator >= 1.0 && n < most && !sim.done {
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

/// The point the trail follows: the task's traced point (the tip, or the
/// object a grasp task carries), else the instrument's tip.
fn traced(env: &Env, obs: &crate::task::Observation) -> Vec3 {
    let p = env.task().traced_point(&obs.achieved_goal).unwrap_or_else(|| env.arm_state().tip);
    Vec3::new(p.x as f32, p.y as f32, p.z as f32)
}

/// The whole env action of a teleop step: the keys' action for instrument
/// `arm` (the ECM takes its first four numbers: the tip's motion, and the
/// yaw keys roll the scope); every other instrument holds still, each PSM
/// with its jaw as the keys last left it (`jaws`, closed by default).
fn teleop_env_action(env: &Env, keys: &[f32; PSM_ACTION_DIM], arm: usize, jaws: &[f32]) -> Vec<f32> {
    let mut action = Vec::with_capacity(env.action_dim());
    for (k, kind) in env.instrument_kinds().into_iter().enumerate() {
        let dim = kind.action_dim();
        if k == arm {
            action.extend_from_slice(&keys[..dim]);
        } else {
            let mut still = vec![0.0; dim];
            if kind == crate::task::InstrumentKind::Psm {
                still[PSM_ACTION_DIM - 1] = jaws.get(k).copied().unwrap_or(-1.0);
            }
            action.extend(still);
        }
    }
    action
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::viz::ViewerOptions;

    #[test]
    fn teleop_episodes_are_saved_as_demonstrations_that_replay() {
        let path = std::env::temp_dir().join(format!("gl-teleop-{}/demo.json", std::process::id()));
        let options = ViewerOptions { mode: Mode::Teleop { record: Some(path.clone()) }, seed: 5, ..Default::default() };
        let mut sim = Sim::new(&options).unwrap();
        for episode in 0..2 {
            // Hold "down and toward the goal" at a fixed action: the episode runs to its end.
            while !sim.done {
                sim.teleop_action = [0.05, -0.05, 0.0, 0.1, if episode == 0 { 1.0 } else { -1.0 }];
                sim.advance().unwrap();
            }
            let next = sim.episode + 1;
            sim.reset_episode(next).unwrap();
        }
        let demos = Demonstrations::load(&path).unwrap();
        assert_eq!(demos.episodes.len(), 2);
        assert_eq!(demos.source, "teleop (keyboard)");
        assert_eq!(demos.observation_dim, sim.obs.observation.len());
        assert_eq!(demos.episodes[0].seed, episode_seed(5, 0, 0));
        assert_eq!(demos.episodes[0].steps.len(), demos.task_config.episode.steps);
        assert_eq!(demos.episodes[0].steps[0].action[4], 1.0);
        let mut env = Env::new(demos.task_config.clone()).unwrap();
        let replayed = crate::policy::demos::replay_episode(&mut env, &demos.episodes[1]).unwrap();
        assert_eq!(replayed.last().unwrap(), &demos.episodes[1].final_observation, "the recorded actions replay exactly");
        std::fs::remove_dir_all(path.parent().unwrap()).ok();
    }

    #[test]
    fn tab_gives_the_keys_to_the_other_psm_and_the_first_keeps_its_needle() {
        let task = crate::task::TaskConfig::builtin("needle-regrasp").unwrap();
        let options = ViewerOptions { task, mode: Mode::Teleop { record: None }, seed: 2, ..Default::default() };
        let mut sim = Sim::new(&options).unwrap();
        assert_eq!(sim.instrument_count(), 2);
        let state = |sim: &Sim| sim.env().arm_state();
        let start = state(&sim);
        // The keys drive PSM1 first: "up", jaw closed, lifts PSM1 and the needle it holds.
        sim.teleop_action = [0.0, 1.0, 0.0, 0.0, -1.0];
        for _ in 0..3 {
            sim.advance().unwrap();
        }
        let lifted = state(&sim);
        assert!(lifted.tip.y - start.tip.y > 0.002 && (lifted.others[0].tip - start.others[0].tip).norm() < 5e-4);
        // Tab: PSM2 takes the keys, its jaw as it was (closed); PSM1 holds still, closed on the needle.
        assert!(!sim.switch_teleop_arm());
        assert_eq!(sim.teleop_arm, 1);
        sim.teleop_action = [1.0, 0.0, 0.0, 0.0, 1.0];
        for _ in 0..3 {
            sim.advance().unwrap();
        }
        let after = state(&sim);
        assert!(after.others[0].tip.x - lifted.others[0].tip.x > 0.002, "PSM2 did not move");
        assert!((after.tip - lifted.tip).norm() < 5e-4, "PSM1 moved while the keys drove PSM2");
        assert!(after.objects[0].hold.grasped, "PSM1 let go of the needle");
        // Tab again: back to PSM1, whose jaw is still closed; PSM2 keeps its open jaw.
        assert!(!sim.switch_teleop_arm());
        assert_eq!(sim.teleop_arm, 0);
        assert_eq!(teleop_env_action(&sim.env(), &[0.0; PSM_ACTION_DIM], sim.teleop_arm, &sim.teleop_jaws)[9], 1.0);
    }

    /// A scripted "person" at the keyboard: the keys that point at the goal,
    /// fine (Shift) in the last 4 mm, as `teleop.rs` maps them.
    fn keyboard_toward_goal(sim: &Sim) -> [f32; PSM_ACTION_DIM] {
        use crate::viz::teleop::{TeleopKeys, teleop_action};
        let tip = crate::viz::vec3_from(&sim.obs.achieved_goal);
        let goal = crate::viz::vec3_from(&sim.obs.desired_goal);
        let d = goal - tip;
        let key = |v: f32| if v.abs() < 2e-4 { 0.0 } else { v.signum() };
        let keys = TeleopKeys { forward: key(-d.z), right: key(d.x), up: key(d.y), fine: d.length() < 0.004, ..Default::default() };
        teleop_action(keys, 0.0)
    }

    #[test]
    fn a_policy_cloned_from_a_teleop_recording_reaches_the_goal() {
        // The file the viewer writes must feed learning, not only oracle demonstrations.
        let path = std::env::temp_dir().join(format!("gl-teleop-bc-{}/teleop.json", std::process::id()));
        let options = ViewerOptions { mode: Mode::Teleop { record: Some(path.clone()) }, seed: 8, ..Default::default() };
        let mut sim = Sim::new(&options).unwrap();
        for k in 0..TELEOP_BC_EPISODES {
            while !sim.done {
                sim.teleop_action = keyboard_toward_goal(&sim);
                sim.advance().unwrap();
            }
            sim.reset_episode(k + 1).unwrap();
        }
        let recorded = Demonstrations::load(&path).unwrap();
        assert_eq!(recorded.source, "teleop (keyboard)");
        let task = recorded.task_config.clone();
        let (demos, report) = crate::policy::demos::load_for_training(std::slice::from_ref(&path), &task).unwrap();
        assert!(demos.episodes().len() as u64 >= TELEOP_BC_EPISODES - 2, "{report}");
        let config = crate::rl::bc::BcConfig::new().with_eval_interval(1_000_000).with_eval_episodes(2);
        let cloned = crate::rl::bc::train(&task, config, &demos, 3000, 0, 1, &mut |_| {}).unwrap();
        let ev = crate::rl::sac::evaluate(&cloned.policy(), &task, 20, 3, 1).unwrap();
        assert!(ev.success_rate >= 0.6, "cloned from {report}: {:.0} % success, {:.1} mm", ev.success_rate * 100.0, ev.mean_final_error_mm);
        std::fs::remove_dir_all(path.parent().unwrap()).ok();
    }

    /// Teleop episodes recorded for the behaviour-cloning test.
    const TELEOP_BC_EPISODES: u64 = 60;
}
