//! A task config file (TOML), as `--task-config` reads it.
#![no_main]
#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(init: common::let_caught_panics_unwind(), |data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(config) = gesture_lab::task::TaskConfig::from_toml_str(text, "fuzz.toml") {
        common::step_a_little(config, 4);
    }
});
