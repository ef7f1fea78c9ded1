//! What the targets share: a scratch directory per process, and a short
//! episode on whatever config a target managed to build.
#![allow(dead_code)]

use gesture_lab::env::Env;
use gesture_lab::task::TaskConfig;
use std::path::PathBuf;

/// An empty directory of this process's own (libFuzzer may run several jobs at once).
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gesture-lab-fuzz-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

/// Builds the env of an accepted config and runs a few steps of extreme
/// actions: a config that validates must give an env that steps.
pub fn step_a_little(config: TaskConfig, steps: usize) {
    let Ok(mut env) = Env::new(config) else { return };
    if env.reset(0).is_err() {
        return;
    }
    let actions: [[f32; 5]; 3] = [[1.0, -1.0, 1.0, -1.0, 1.0], [-1.0; 5], [0.0; 5]];
    for t in 0..steps {
        match env.step(&actions[t % actions.len()]) {
            Ok(step) if step.terminated || step.truncated => return,
            Ok(step) => assert!(step.observation.flat().iter().all(|v| v.is_finite()), "non-finite observation without a physics fault"),
            Err(_) => return,
        }
    }
}

/// Splits `data` at the first `\0`: (text before, bytes after).
pub fn split_at_nul(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

/// With `FUZZ_SHOW=1`, prints what the loader said (to check that the seed
/// corpus really loads, rather than stopping at the first check).
pub fn show<T, E: std::fmt::Display>(result: &Result<T, E>) {
    if std::env::var_os("FUZZ_SHOW").is_some() {
        match result {
            Ok(_) => eprintln!("loaded"),
            Err(e) => eprintln!("refused: {e}"),
        }
    }
}

/// libfuzzer-sys's panic hook aborts at once, even on a panic that
/// gesture-lab catches and turns into an error (`files::decode_guarded`,
/// around burn's record loaders). This hook prints the first few panics and
/// lets them unwind: one that nothing catches still reaches libfuzzer-sys,
/// which aborts, so it is still reported as a crash.
pub fn let_caught_panics_unwind() {
    static SHOWN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    std::panic::set_hook(Box::new(|info| {
        if SHOWN.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < 10 {
            eprintln!("panic (caught by gesture-lab, or a crash if libFuzzer reports one): {info}");
        }
    }));
}
