//! The grasp tasks' own tables: TOML merged over needle-pick, gauze-retrieve
//! or peg-transfer (the first byte picks the task and the grasp mode), then
//! the scripted oracle drives the env for a few steps.
#![no_main]
#[path = "common.rs"]
mod common;

use gesture_lab::env::Env;
use gesture_lab::sim::physics::GraspMode;
use gesture_lab::task::TaskConfig;

const TASKS: [&str; 3] = ["needle-pick", "gauze-retrieve", "peg-transfer"];

libfuzzer_sys::fuzz_target!(init: common::let_caught_panics_unwind(), |data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let Ok(overrides) = text.parse::<toml::Table>() else { return };
    let mut base = TaskConfig::builtin(TASKS[pick as usize % 3]).expect("built-in config");
    base.physics.grasp = if pick & 0x80 != 0 { GraspMode::Assisted } else { GraspMode::Friction };
    let Ok(config) = base.with_overrides(&overrides) else { return };
    let Ok(mut env) = Env::new(config) else { return };
    if env.reset(u64::from(pick)).is_err() {
        return;
    }
    for _ in 0..6 {
        let action = env.oracle_action();
        match env.step(&action) {
            Ok(step) if step.terminated || step.truncated => return,
            Ok(step) => assert!(step.observation.flat().iter().all(|v| v.is_finite()), "non-finite observation without a physics fault"),
            Err(_) => return,
        }
    }
});
