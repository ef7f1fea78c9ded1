//! Checkpoints: a run killed with SIGKILL and resumed ends with exactly the
//! weights of a run never interrupted.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use gesture_lab::policy;
use gesture_lab::rl::sac::{self, Checkpointing, SacHerConfig};
use gesture_lab::task::TaskConfig;

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gesture-lab-resume-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn small() -> SacHerConfig {
    SacHerConfig::new().with_hidden(16).with_batch_size(32).with_random_steps(200).with_eval_interval(100_000).with_eval_episodes(2)
}

#[test]
fn resuming_from_a_checkpoint_gives_the_uninterrupted_weights() {
    let task = TaskConfig::builtin("needle-reach").unwrap();
    let whole = sac::train(&task, small(), 1200, 5, 1, &mut |_| {}).unwrap().learner.actor_parameters();

    let dir = temp("inproc");
    let cp = Checkpointing { dir: dir.clone(), every: 400, resume: true };
    // The first process stops after 800 steps (its last checkpoint)...
    sac::train_with_checkpoints(&task, small(), 800, 5, 1, Some(&cp), None, &mut |_| {}).unwrap();
    assert!(dir.join("checkpoint/state.json").exists());
    // ...the second picks up from there: its first report is after step 800
    // (a run that ignored the checkpoint would report from its first episodes).
    let backup = temp("inproc-backup");
    copy_dir(&dir.join("checkpoint"), &backup);
    let mut first_report = None;
    let resumed = sac::train_with_checkpoints(&task, small(), 1200, 5, 1, Some(&cp), None, &mut |p| {
        first_report.get_or_insert(p.env_steps);
    })
    .unwrap();
    assert_eq!(resumed.env_steps, 1200);
    assert!(first_report.unwrap() > 800, "resumed at step {:?}", first_report);
    assert_eq!(resumed.learner.actor_parameters(), whole);

    // A crash between the two renames of a save: the new checkpoint is still
    // `checkpoint.tmp` (half written), the previous one already `checkpoint.old`.
    let _ = std::fs::remove_dir_all(dir.join("checkpoint"));
    copy_dir(&backup, &dir.join("checkpoint.old"));
    std::fs::create_dir_all(dir.join("checkpoint.tmp")).unwrap();
    std::fs::write(dir.join("checkpoint.tmp/state.json"), "{\"files\": [").unwrap();
    let resumed = sac::train_with_checkpoints(&task, small(), 1200, 5, 1, Some(&cp), None, &mut |_| {}).unwrap();
    assert_eq!(resumed.learner.actor_parameters(), whole, "resumed from checkpoint.old");

    // A damaged checkpoint is refused, naming the file.
    let _ = std::fs::remove_dir_all(dir.join("checkpoint"));
    let _ = std::fs::remove_dir_all(dir.join("checkpoint.old"));
    copy_dir(&backup, &dir.join("checkpoint"));
    let part = std::fs::read_dir(dir.join("checkpoint")).unwrap().map(|e| e.unwrap().path()).find(|p| !p.ends_with("state.json")).unwrap();
    let mut bytes = std::fs::read(&part).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&part, &bytes).unwrap();
    let err = sac::train_with_checkpoints(&task, small(), 1200, 5, 1, Some(&cp), None, &mut |_| {}).err().unwrap().to_string();
    assert!(err.contains(&part.display().to_string()) && err.contains("damaged"), "{err}");
    let _ = std::fs::remove_dir_all(&backup);

    // A checkpoint of another seed is refused by name.
    let _ = std::fs::remove_dir_all(dir.join("checkpoint"));
    sac::train_with_checkpoints(&task, small(), 800, 5, 1, Some(&cp), None, &mut |_| {}).unwrap();
    let err = sac::train_with_checkpoints(&task, small(), 1200, 6, 1, Some(&cp), None, &mut |_| {}).err().unwrap();
    assert!(err.to_string().contains("seed 5, not 6"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The averaged policy (`policy_average_tau`) is part of the checkpoint: a
/// resumed run exports the policy an uninterrupted one does (with n-step
/// returns, which change nothing a checkpoint holds).
#[test]
fn a_resumed_run_exports_the_uninterrupted_averaged_policy() {
    let task = TaskConfig::builtin("needle-reach").unwrap();
    let config = || small().with_policy_average_tau(0.05).with_n_step_returns(3);
    let params = |t: &sac::Trained| t.learner.policy_actor().parameters();
    let whole = sac::train(&task, config(), 1200, 5, 1, &mut |_| {}).unwrap();
    assert_ne!(params(&whole), whole.learner.actor_parameters(), "the exported policy is the average, not the actor");
    let dir = temp("averaged");
    let cp = Checkpointing { dir: dir.clone(), every: 400, resume: true };
    sac::train_with_checkpoints(&task, config(), 800, 5, 1, Some(&cp), None, &mut |_| {}).unwrap();
    let resumed = sac::train_with_checkpoints(&task, config(), 1200, 5, 1, Some(&cp), None, &mut |_| {}).unwrap();
    assert_eq!(params(&resumed), params(&whole));
    assert_eq!(resumed.learner.actor_parameters(), whole.learner.actor_parameters());
    let _ = std::fs::remove_dir_all(&dir);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

fn train_cmd(out: &Path, config: &Path, resume: bool) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gesture-lab"));
    c.args(["train", "--task", "needle-reach", "--steps", "3000", "--seed", "2", "--threads", "1", "--quiet"]);
    c.args(["--checkpoint-every", "500", "--config"]).arg(config).arg("--out").arg(out);
    if resume {
        c.arg("--resume");
    }
    c
}

fn actor_of(dir: &Path) -> Vec<f32> {
    policy::load(dir, None).unwrap().policy.actor().parameters()
}

#[test]
fn a_run_killed_with_sigkill_resumes_to_the_same_final_weights() {
    let config = temp("config.toml");
    std::fs::write(&config, "hidden = 16\nbatch_size = 32\nrandom_steps = 200\neval_interval = 100000\neval_episodes = 2\n").unwrap();

    let straight = temp("straight");
    assert!(train_cmd(&straight, &config, false).status().unwrap().success());

    let killed = temp("killed");
    let mut child = train_cmd(&killed, &config, false).spawn().unwrap();
    let t0 = Instant::now();
    while !killed.join("checkpoint/state.json").exists() {
        assert!(t0.elapsed() < Duration::from_secs(120), "no checkpoint appeared");
        assert!(child.try_wait().unwrap().is_none(), "the run ended before a checkpoint was seen");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(!killed.join(policy::MANIFEST_FILE).exists(), "killed before the end");

    assert!(train_cmd(&killed, &config, true).status().unwrap().success());
    assert_eq!(actor_of(&killed), actor_of(&straight));
    for d in [&straight, &killed] {
        let _ = std::fs::remove_dir_all(d);
    }
    let _ = std::fs::remove_file(&config);
}

#[test]
fn ppo_resumes_from_its_checkpoint_to_the_uninterrupted_weights() {
    use gesture_lab::rl::ppo::{self, PpoConfig};
    let mut task = TaskConfig::builtin("needle-reach").unwrap();
    task.episode.reward = gesture_lab::task::RewardMode::Dense;
    // A constant learning rate, so that a shorter first run is a true prefix
    // of the long one (with annealing the schedule depends on --steps).
    let config = PpoConfig::new().with_envs(4).with_rollout_steps(50).with_hidden(16).with_anneal_lr(false).with_eval_interval(100_000).with_eval_episodes(2);
    let whole = ppo::train(&task, config.clone(), 1000, 7, 1, &mut |_| {}).unwrap().actor_parameters();

    let dir = temp("ppo");
    let cp = Checkpointing { dir: dir.clone(), every: 200, resume: true };
    ppo::train_with_checkpoints(&task, config.clone(), 600, 7, 1, Some(&cp), &mut |_| {}).unwrap();
    assert!(dir.join("checkpoint/state.json").exists());
    let resumed = ppo::train_with_checkpoints(&task, config.clone(), 1000, 7, 1, Some(&cp), &mut |_| {}).unwrap();
    assert_eq!(resumed.env_steps, 1000);
    assert_eq!(resumed.actor_parameters(), whole);

    // With annealing, resuming under another --steps is refused by name.
    let annealed = config.clone().with_anneal_lr(true);
    let dir2 = temp("ppo-anneal");
    let cp2 = Checkpointing { dir: dir2.clone(), every: 200, resume: true };
    ppo::train_with_checkpoints(&task, annealed.clone(), 600, 7, 1, Some(&cp2), &mut |_| {}).unwrap();
    let err = ppo::train_with_checkpoints(&task, annealed, 1000, 7, 1, Some(&cp2), &mut |_| {}).err().unwrap();
    assert!(err.to_string().contains("made for 3 rollouts, not 5"), "{err}");
    for d in [&dir, &dir2] {
        let _ = std::fs::remove_dir_all(d);
    }
}
