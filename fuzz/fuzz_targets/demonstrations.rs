//! A demonstration file (`demos record`, or the viewer's `--record`): loaded,
//! summarised, then checked against its task and loaded for training.
#![no_main]
#[path = "common.rs"]
mod common;

use gesture_lab::policy::demos::{Demonstrations, load_for_training};

libfuzzer_sys::fuzz_target!(init: common::let_caught_panics_unwind(), |data: &[u8]| {
    let path = common::scratch_dir("demos").join("demos.json");
    std::fs::write(&path, data).unwrap();
    let Ok(demos) = Demonstrations::load(&path) else { return };
    let _ = demos.summary();
    common::show(&load_for_training(&[path], &demos.task_config));
});
