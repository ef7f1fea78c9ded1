//! The `--perturb key=value,...` string, applied to needle-pick, whose env
//! is then built and stepped.
#![no_main]
#[path = "common.rs"]
mod common;

use gesture_lab::task::TaskConfig;

libfuzzer_sys::fuzz_target!(init: common::let_caught_panics_unwind(), |data: &[u8]| {
    let Ok(spec) = std::str::from_utf8(data) else { return };
    let mut config = TaskConfig::builtin("needle-pick").expect("built-in config");
    let Ok(perturb) = config.perturb.with_overrides(spec) else { return };
    config.perturb = perturb;
    common::step_a_little(config, 4);
});
