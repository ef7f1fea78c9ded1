//! A policy bundle: the manifest (`policy.json`) with the weights it names.
//!
//! Input: the manifest's text, `\0`, then the weights' bytes. So that
//! mutated weights get past the checksum and reach the decoder, the
//! placeholders `@SHA@`, `@BYTES@` and `@FILE@` in the manifest stand for
//! the weights' real SHA-256, length and file name.
#![no_main]
#[path = "common.rs"]
mod common;

use gesture_lab::policy;
use gesture_lab::task::Observation;

libfuzzer_sys::fuzz_target!(init: common::let_caught_panics_unwind(), |data: &[u8]| {
    let (manifest, weights) = common::split_at_nul(data);
    let Ok(manifest) = std::str::from_utf8(manifest) else { return };
    let file = policy::weights_file_name(weights);
    let manifest = manifest.replace("@SHA@", &policy::sha256_hex(weights)).replace("@BYTES@", &weights.len().to_string()).replace("@FILE@", &file);
    let dir = common::scratch_dir("bundle");
    std::fs::write(dir.join("policy.json"), manifest).unwrap();
    std::fs::write(dir.join(&file), weights).unwrap();
    let result = policy::load(&dir, None);
    common::show(&result);
    if let Ok(loaded) = result {
        let m = &loaded.manifest;
        let obs = Observation { observation: vec![0.0; m.observation_dim], achieved_goal: vec![0.0; m.goal_dim], desired_goal: vec![0.0; m.goal_dim] };
        // Finite but extreme weights can still overflow to a non-finite
        // action: the env must refuse it with an error, not panic.
        let action = loaded.policy.act(&[obs]);
        if let Ok(mut env) = gesture_lab::env::Env::new(m.task_config.clone())
            && env.reset(0).is_ok()
        {
            let _ = env.step(&action);
        }
    }
});
