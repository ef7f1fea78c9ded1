//! Faults a long run meets on a shared machine: the process killed while it
//! writes its bundle, and outputs that cannot be written, found before the
//! work rather than after it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gesture_lab::policy;

const BIN: &str = env!("CARGO_BIN_EXE_gesture-lab");

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gesture-lab-faults-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn train(out: &Path, config: &Path, seed: u64) -> Command {
    let mut c = Command::new(BIN);
    c.args(["train", "--task", "needle-reach", "--steps", "300", "--threads", "1", "--quiet", "--seed", &seed.to_string(), "--config"]);
    c.arg(config).arg("--out").arg(out).stdout(Stdio::null()).stderr(Stdio::null());
    c
}

/// Runs `gesture-lab ARGS`: (success, stderr).
fn run(args: &[&str]) -> (bool, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn a_bundle_killed_while_it_is_written_is_never_seen_half_written() {
    let dir = temp("sigkill");
    let config = dir.join("sac.toml");
    std::fs::write(&config, "hidden = 16\nbatch_size = 32\nrandom_steps = 100\neval_interval = 100000\neval_episodes = 2\n").unwrap();
    let out = dir.join("bundle");
    // A first whole run, timed: the kills below fall across the whole of a
    // run like it, the bundle's save at its end included.
    let t0 = Instant::now();
    assert!(train(&out, &config, 1).status().unwrap().success());
    let whole = t0.elapsed();
    let first = policy::load(&out, None).unwrap().manifest.weights_sha256;
    let (mut kept_old, mut got_new) = (0, 0);
    for i in 0..24u32 {
        let mut child = train(&out, &config, 2 + u64::from(i)).spawn().unwrap();
        // From half the run to its end and a little beyond, in even steps.
        std::thread::sleep(whole.mul_f64(0.5 + 0.6 * f64::from(i) / 23.0));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        // Whatever the moment, the output name holds a whole bundle: the
        // last one committed, whose weights match its manifest.
        let loaded = policy::load(&out, None).unwrap_or_else(|e| panic!("after the kill {i}: {e}"));
        if loaded.manifest.weights_sha256 == first { kept_old += 1 } else { got_new += 1 }
    }
    eprintln!("24 kills: {kept_old} left the first bundle, {got_new} found a newer one committed");
    // Stray files a kill leaves are temporaries, never another manifest.
    let manifests = std::fs::read_dir(&out).unwrap().filter(|e| e.as_ref().unwrap().file_name() == policy::MANIFEST_FILE).count();
    assert_eq!(manifests, 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unwritable_outputs_are_refused_before_the_work_starts() {
    let dir = temp("unwritable");
    let file = dir.join("a-file");
    std::fs::write(&file, b"in the way").unwrap();
    let under_file = file.join("out.json");
    let t0 = Instant::now();
    for (args, named) in [
        (vec!["demos", "record", "--task", "needle-reach", "--episodes", "100", "--out", under_file.to_str().unwrap()], under_file.clone()),
        (vec!["bench", "soak", "--task", "needle-reach", "--steps", "100000000", "--out", file.to_str().unwrap()], file.clone()),
        (vec!["train", "--steps", "100000000", "--out", file.to_str().unwrap()], file.clone()),
    ] {
        let (ok, err) = run(&args);
        assert!(!ok && err.contains(&named.display().to_string()), "{args:?}: {err}");
    }
    // Refused at once: none of those runs started (each would take minutes).
    assert!(t0.elapsed() < Duration::from_secs(60), "{:?}", t0.elapsed());
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(feature = "viz")]
#[test]
fn the_viewer_refuses_unwritable_outputs_before_its_window_opens() {
    let dir = temp("viewer-outputs");
    let file = dir.join("a-file");
    std::fs::write(&file, b"in the way").unwrap();
    let under_file = file.join("teleop.json");
    for (args, named) in [
        (vec!["view", "--record-frames", file.to_str().unwrap()], file.clone()),
        (vec!["view", "--teleop", "--record", under_file.to_str().unwrap()], under_file.clone()),
        (vec!["view", "--train", "--out", file.to_str().unwrap()], file.clone()),
    ] {
        // No display is needed: the check comes before the window.
        let out = Command::new(BIN).args(&args).env_remove("DISPLAY").env_remove("WAYLAND_DISPLAY").output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(&named.display().to_string()), "{args:?}: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
