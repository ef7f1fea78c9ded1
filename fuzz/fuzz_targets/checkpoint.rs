//! A SAC+HER checkpoint directory (`--resume`).
//!
//! Input: files, each as a name, `\0`, a 4-byte little-endian length and
//! that many bytes. `state.json` is the envelope; its `files` checksums are
//! recomputed when its first byte is `{`, so that mutated parts reach their
//! decoders, and the task, config and seed the load expects are taken from
//! the checkpoint itself, so that the checks of sameness pass.
#![no_main]
#[path = "common.rs"]
mod common;

use gesture_lab::rl::checkpoint;
use gesture_lab::rl::sac::SacHerConfig;
use gesture_lab::task::TaskConfig;

libfuzzer_sys::fuzz_target!(init: common::let_caught_panics_unwind(), |data: &[u8]| {
    let root = common::scratch_dir("checkpoint");
    let dir = root.join("checkpoint");
    std::fs::create_dir_all(&dir).unwrap();
    let mut rest = data;
    let mut files = Vec::new();
    while !rest.is_empty() {
        let (name, after) = common::split_at_nul(rest);
        if after.len() < 4 {
            break;
        }
        let len = (u32::from_le_bytes(after[..4].try_into().unwrap()) as usize).min(after.len() - 4);
        let Ok(name) = std::str::from_utf8(name) else { return };
        // Short plain names only: the harness must not write outside its directory.
        if name.is_empty() || name.len() > 64 || name.contains(['/', '\\']) || name == "." || name == ".." {
            return;
        }
        files.push((name.to_string(), &after[4..4 + len]));
        rest = &after[4 + len..];
    }
    for (name, bytes) in &files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    let state_path = dir.join("state.json");
    let Ok(text) = std::fs::read_to_string(&state_path) else { return };
    let Ok(mut state) = serde_json::from_str::<serde_json::Value>(&text) else { return };
    if text.starts_with('{')
        && let Some(list) = state.get_mut("files").and_then(|f| f.as_array_mut())
    {
        for entry in list.iter_mut() {
            if let Some(name) = entry.get(0).and_then(|n| n.as_str()).map(str::to_string)
                && let Some((_, bytes)) = files.iter().find(|(n, _)| *n == name)
            {
                entry[1] = gesture_lab::policy::sha256_hex(bytes).into();
            }
        }
        std::fs::write(&state_path, serde_json::to_vec(&state).unwrap()).unwrap();
    }
    let inner = &state["state"];
    let (Ok(task), Ok(config)) = (serde_json::from_value::<TaskConfig>(inner["task"].clone()), serde_json::from_value::<SacHerConfig>(inner["config"].clone()))
    else {
        return;
    };
    let seed = inner["run"]["seed"].as_u64().unwrap_or(0);
    // The trainer validates both before it looks for a checkpoint.
    if task.validate("fuzz").is_err() || config.validate("fuzz").is_err() {
        return;
    }
    common::show(&checkpoint::load(&root, &task, &config, seed, None));
});
