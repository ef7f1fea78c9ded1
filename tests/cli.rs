//! The command line, run as a user would.

use std::process::Command;

fn run(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gesture-lab")).args(args).output().unwrap();
    (out.status.success(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

fn json(args: &[&str]) -> serde_json::Value {
    let (ok, out, err) = run(args);
    assert!(ok, "{args:?} failed: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {out}"))
}

#[test]
fn tasks_lists_needle_reach() {
    let (ok, out, _) = run(&["tasks"]);
    assert!(ok);
    assert!(out.lines().any(|l| l.starts_with("needle-reach")), "{out}");
}

#[test]
fn demo_reports_the_oracle() {
    let v = json(&["demo", "--task", "needle-reach", "--episodes", "20", "--seed", "1", "--json"]);
    assert_eq!(v["episodes"], 20);
    assert!(v["success_rate"].as_f64().unwrap() >= 0.95);
    assert!(v["mean_final_tip_error_mm"].as_f64().unwrap() < 2.0);
}

#[test]
fn rollout_hash_repeats_for_a_seed_and_changes_with_it() {
    let args = |seed: &'static str| ["rollout", "--task", "needle-reach", "--policy", "random", "--steps", "120", "--seed", seed, "--json"];
    let a = json(&args("4"));
    let b = json(&args("4"));
    let c = json(&args("5"));
    assert_eq!(a["trajectory_sha256"], b["trajectory_sha256"]);
    assert_ne!(a["trajectory_sha256"], c["trajectory_sha256"]);
    assert_eq!(a["episode_returns"].as_array().unwrap().len(), 2);
}

#[test]
fn kinematics_fk_and_ik_round_trip() {
    let fk = json(&["kinematics", "fk", "--joints", "0.2,-0.3,0.15,0.5,0.3,-0.2", "--json"]);
    let p = &fk["position_m"];
    let q = &fk["quaternion_xyzw"];
    let pose = format!("{},{},{},{},{},{},{}", p[0], p[1], p[2], q[0], q[1], q[2], q[3]);
    let ik = json(&["kinematics", "ik", "--pose", &pose, "--json"]);
    for k in 0..3 {
        let d = ik["position_m"][k].as_f64().unwrap() - p[k].as_f64().unwrap();
        assert!(d.abs() < 1e-8, "axis {k}: {d}");
    }
    // The zero configuration points the shaft down the base −z axis.
    let zero = json(&["kinematics", "fk", "--joints", "0,0,0.1,0,0,0", "--json"]);
    assert!((zero["position_m"][2].as_f64().unwrap() + 0.0935).abs() < 1e-9, "{zero}");
}

#[test]
fn a_reader_that_closes_the_pipe_ends_the_output_quietly() {
    // As `gesture-lab tasks | head -1` does: the reader goes before the writer writes.
    let mut child = Command::new(env!("CARGO_BIN_EXE_gesture-lab"))
        .args(["kinematics", "fk", "--joints", "0,0,0.1,0,0,0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn ecm_kinematics_fk_and_ik_round_trip() {
    let fk = json(&["kinematics", "fk", "--arm", "ecm", "--joints", "0.2,0.5,0.1,-0.3", "--json"]);
    assert!(fk["frame"].as_str().unwrap().contains("ECM"), "{fk}");
    let p = &fk["position_m"];
    let q = &fk["quaternion_xyzw"];
    let pose = format!("{},{},{},{},{},{},{}", p[0], p[1], p[2], q[0], q[1], q[2], q[3]);
    let ik = json(&["kinematics", "ik", "--arm", "ecm", "--pose", &pose, "--json"]);
    for (k, expected) in [0.2, 0.5, 0.1, -0.3].iter().enumerate() {
        let d = ik["joints"][k].as_f64().unwrap() - expected;
        assert!(d.abs() < 1e-8, "joint {k}: {d}");
    }
    // A tip and a roll: the camera tip lands there, the roll joint takes the angle.
    let ik = json(&["kinematics", "ik", "--arm", "ecm", "--pose", "0.03,-0.1,-0.15,0.3", "--json"]);
    for (k, expected) in [0.03, -0.1, -0.15].iter().enumerate() {
        assert!((ik["position_m"][k].as_f64().unwrap() - expected).abs() < 1e-9, "{ik}");
    }
    assert!((ik["joints"][3].as_f64().unwrap() - 0.3).abs() < 1e-12, "{ik}");
    let (ok, _, err) = run(&["kinematics", "fk", "--arm", "ecm", "--joints", "0,0,0.1,0,0,0"]);
    assert!(!ok && err.contains("4 values"), "{err}");
    let (ok, _, err) = run(&["kinematics", "ik", "--arm", "ecm", "--pose", "0,0,-0.5"]);
    assert!(!ok && err.contains("`insertion`"), "{err}");
}

#[test]
fn bad_input_exits_non_zero_with_a_clear_message() {
    let (ok, _, err) = run(&["demo", "--task", "needle-grab"]);
    assert!(!ok);
    assert!(err.contains("unknown task `needle-grab`"), "{err}");
    let (ok, _, err) = run(&["kinematics", "fk", "--joints", "0,0,0.1"]);
    assert!(!ok && err.contains("6 values"), "{err}");
    let (ok, _, err) = run(&["kinematics", "fk", "--joints", "0,0,0.5,0,0,0"]);
    assert!(!ok && err.contains("outer_insertion"), "{err}");
    let (ok, _, err) = run(&["kinematics", "ik", "--pose", "0,0,-2"]);
    assert!(!ok && err.contains("no joint solution"), "{err}");
    let (ok, _, err) = run(&["demo", "--task-config", "/nonexistent/x.toml"]);
    assert!(!ok && err.contains("/nonexistent/x.toml"), "{err}");
    let (ok, _, err) = run(&["bench", "suite", "--seeds", "0", "--out", "/nonexistent/never-written"]);
    assert!(!ok && err.contains("--seeds 0: train at least one seed"), "{err}");
    let (ok, _, err) = run(&["train", "--steps", "1", "--action-history", "11", "--out", "/nonexistent/never-written"]);
    assert!(!ok && err.contains("action_history = 11 is more than 10"), "{err}");
}

#[test]
fn eval_and_replay_work_on_the_shipped_policy() {
    let policy = concat!(env!("CARGO_MANIFEST_DIR"), "/policies/needle-reach");
    let v = json(&["eval", "--policy", policy, "--episodes", "10", "--seed", "4", "--json"]);
    assert!(v["success_rate"].as_f64().unwrap() >= 0.9, "{v}");

    let dir = std::env::temp_dir().join(format!("gesture-lab-cli-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (a, b) = (dir.join("a.json"), dir.join("b.json"));
    for out in [&a, &b] {
        let (ok, _, err) = run(&["replay", "--policy", policy, "--seed", "3", "--out", out.to_str().unwrap()]);
        assert!(ok, "{err}");
    }
    let (a, b) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    assert_eq!(a, b, "the same seed gives a byte-identical trajectory");
    let traj: serde_json::Value = serde_json::from_slice(&a).unwrap();
    assert_eq!(traj["steps"].as_array().unwrap().len(), 50);
    assert!(traj["final_tip_error_mm"].as_f64().unwrap() < 5.0);

    let (ok, _, err) = run(&["eval", "--policy", policy, "--task", "peg-transfer"]);
    assert!(!ok && err.contains("trained for task `needle-reach`"), "{err}");
    let (ok, _, err) = run(&["replay", "--policy", "/nonexistent/bundle"]);
    assert!(!ok && err.contains("/nonexistent/bundle/policy.json"), "{err}");
}

#[test]
fn demos_record_info_and_behaviour_cloning_from_the_command_line() {
    let dir = std::env::temp_dir().join(format!("gl-cli-demos-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let file = dir.join("reach.json");
    let f = file.to_str().unwrap();
    let (ok, out, err) = run(&["demos", "record", "--task", "needle-reach", "--episodes", "5", "--seed", "2", "--out", f, "--quiet"]);
    assert!(ok, "{err}");
    assert!(out.contains("recorded 5 successful needle-reach episodes"), "{out}");
    let info = json(&["demos", "info", f, "--json"]);
    assert_eq!((info["task"].as_str(), info["episodes"].as_u64(), info["success_rate"].as_f64()), (Some("needle-reach"), Some(5), Some(1.0)));
    assert_eq!(info["mean_episode_steps"].as_f64(), Some(50.0));

    let bundle = dir.join("bc");
    let (ok, out, err) = run(&["train", "--task", "needle-reach", "--algo", "bc", "--demos", f, "--steps", "50", "--out", bundle.to_str().unwrap(), "--quiet"]);
    assert!(ok, "{err}");
    assert!(out.contains("50 gradient updates") && err.contains("5 episodes, 250 transitions"), "{out}\n{err}");
    let ev = json(&["eval", "--policy", bundle.to_str().unwrap(), "--episodes", "2", "--json"]);
    assert_eq!(ev["episodes"], 2);
    let manifest = |dir: &std::path::Path| -> serde_json::Value { serde_json::from_str(&std::fs::read_to_string(dir.join("policy.json")).unwrap()).unwrap() };
    assert_eq!(manifest(&bundle)["kept"], "last");

    // --keep best: the bundle holds the weights of the best evaluation on the
    // way, and evaluating them on the evaluation seeds gives that evaluation again.
    let config = dir.join("bc.toml");
    std::fs::write(&config, "eval_interval = 10\neval_episodes = 8\n").unwrap();
    let best = dir.join("bc-best");
    let args = ["train", "--task", "needle-reach", "--algo", "bc", "--demos", f, "--steps", "60", "--config", config.to_str().unwrap(), "--quiet"];
    let (ok, out, err) = run(&[&args[..], &["--keep", "best", "--out", best.to_str().unwrap()]].concat());
    assert!(ok && out.contains("kept the best evaluation's weights"), "{out}\n{err}");
    let m = manifest(&best);
    assert_eq!(m["kept"], "best");
    let kept = &m["evaluation"];
    // Every evaluation of the run (curve.csv: success rate, then error, to 4 decimals).
    let curve: Vec<(f64, f64)> = std::fs::read_to_string(best.join("curve.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let v: Vec<f64> = l.split(',').map(|x| x.parse().unwrap()).collect();
            (v[2], v[3])
        })
        .collect();
    assert_eq!(curve.len(), 7, "evaluations at 0, 10, ..., 60 updates");
    let top = curve.iter().map(|c| c.0).fold(0.0, f64::max);
    let least_error = curve.iter().filter(|c| c.0 == top).map(|c| c.1).fold(f64::INFINITY, f64::min);
    assert_eq!(kept["success_rate"].as_f64().unwrap(), top, "{kept}");
    assert!((kept["mean_final_error_mm"].as_f64().unwrap() - least_error).abs() < 1e-4, "{kept} against {curve:?}");
    let seed = gesture_lab::rl::sac::EVAL_SEED.to_string();
    let again = json(&["eval", "--policy", best.to_str().unwrap(), "--episodes", "8", "--seed", &seed, "--json"]);
    assert_eq!((&again["success_rate"], &again["mean_final_error_mm"]), (&kept["success_rate"], &kept["mean_final_error_mm"]), "{kept}");

    // Refusals, each naming what is wrong, before any work is done.
    let (ok, _, err) = run(&["train", "--task", "needle-reach", "--algo", "bc", "--steps", "50", "--out", bundle.to_str().unwrap()]);
    assert!(!ok && err.contains("--demos"), "{err}");
    let (ok, _, err) = run(&["train", "--task", "pose-reach", "--algo", "sac-her", "--demos", f, "--steps", "50", "--out", bundle.to_str().unwrap()]);
    assert!(!ok && err.contains("reach.json") && err.contains("`task`"), "{err}");
    std::fs::write(dir.join("a-file"), b"").unwrap();
    let blocked = dir.join("a-file/demos.json");
    let (ok, _, err) = run(&["demos", "record", "--task", "needle-reach", "--episodes", "1", "--out", blocked.to_str().unwrap()]);
    assert!(!ok && err.contains("a-file"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `plot` averages the bundles under each label and writes one PNG; curves of
/// other schedules, foreign files and a bad output path are refused by name.
#[test]
fn plot_draws_averaged_curves_and_refuses_what_it_cannot_average() {
    let dir = std::env::temp_dir().join(format!("gl-cli-plot-{}", std::process::id()));
    let bundle = |name: &str, csv: &str| {
        let d = dir.join(name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("curve.csv"), csv).unwrap();
        d.to_str().unwrap().to_string()
    };
    let header = "env_steps,wall_s,success_rate,mean_final_error_mm,mean_steps_to_success\n";
    let a = bundle("a", &format!("{header}0,1.0,0.2000,9.0,30.0\n5000,9.0,0.8000,3.0,25.0\n"));
    let b = bundle("b", &format!("{header}0,1.2,0.4000,7.0,30.0\n5000,9.5,1.0000,1.0,25.0\n"));
    let other = bundle("c", &format!("{header}0,1.0,0.0000,9.0,0.0\n4000,8.0,0.5000,4.0,25.0\n"));
    let foreign = bundle("d", "step,reward\n0,1\n");
    let out = dir.join("curves.png");
    let out_s = out.to_str().unwrap();

    let (ok, stdout, err) = run(&["plot", "--out", out_s, &format!("recipe={a},{b}"), &format!("other={other}")]);
    assert!(ok, "{err}");
    assert!(stdout.contains("2 curves"), "{stdout}");
    let png = std::fs::read(&out).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "{} bytes", png.len());
    assert!(std::fs::read_dir(&dir).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().contains("partial")));

    let (ok, _, err) = run(&["plot", "--out", out_s, &format!("mixed={a},{other}")]);
    assert!(!ok && err.contains("other env steps") && err.contains("mixed"), "{err}");
    let (ok, _, err) = run(&["plot", "--out", out_s, &format!("x={foreign}")]);
    assert!(!ok && err.contains("not a gesture-lab learning curve") && err.contains("curve.csv"), "{err}");
    let (ok, _, err) = run(&["plot", "--out", out_s, "no-label"]);
    assert!(!ok && err.contains("LABEL=DIR"), "{err}");
    let (ok, _, err) = run(&["plot", "--out", dir.join("nowhere/x.png").to_str().unwrap(), &format!("a={a}")]);
    assert!(!ok && err.contains("does not exist"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
