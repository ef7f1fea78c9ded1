//! Demonstration files: recorded episodes round-trip through the file and
//! replay bit for bit; damaged or foreign files are refused by name.

use gesture_lab::env::Env;
use gesture_lab::policy::demos::{Demonstrations, RecoveryPerturbation, load_for_training, record_oracle, record_oracle_with_recovery, replay_episode};
use gesture_lab::sim::physics::GraspMode;
use gesture_lab::task::TaskConfig;

/// `episodes` successful oracle episodes of `task` (the viewer records teleop
/// episodes in the same format).
fn oracle_demos(task: &str, episodes: usize) -> Demonstrations {
    record_oracle(&TaskConfig::builtin(task).unwrap(), episodes, 7, 100, &mut |_, _| {}).unwrap()
}

#[test]
fn recorded_episodes_round_trip_and_replay_exactly() {
    let dir = std::env::temp_dir().join(format!("gl-demos-{}", std::process::id()));
    let path = dir.join("oracle.json");
    let demos = oracle_demos("needle-reach", 3);
    assert_eq!(demos.episodes.len(), 3);
    assert!(demos.episodes.iter().all(|e| e.success && !e.steps.is_empty()), "the oracle succeeds on NeedleReach");
    demos.save(&path).unwrap();
    let loaded = Demonstrations::load(&path).unwrap();
    // (Not assert_eq!: a failure would print every step.)
    assert!(loaded == demos, "the file does not hold exactly what was recorded");

    // Replaying the actions from the recorded seed reproduces every observation.
    let mut env = Env::new(loaded.task_config.clone()).unwrap();
    for episode in &loaded.episodes {
        let observations = replay_episode(&mut env, episode).unwrap();
        assert_eq!(observations.len(), episode.steps.len() + 1);
        for (t, step) in episode.steps.iter().enumerate() {
            assert_eq!(observations[t].observation, step.observation, "step {t}");
            assert_eq!(observations[t].desired_goal, step.desired_goal);
        }
        assert_eq!(observations.last().unwrap(), &episode.final_observation);
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn damaged_and_foreign_demonstration_files_are_refused() {
    let dir = std::env::temp_dir().join(format!("gl-demos-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.json");
    oracle_demos("pose-reach", 1).save(&good).unwrap();
    let bytes = std::fs::read(&good).unwrap();

    let truncated = dir.join("truncated.json");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let e = Demonstrations::load(&truncated).unwrap_err().to_string();
    assert!(e.contains("truncated.json") && e.contains("not a JSON"), "{e}");

    let foreign = dir.join("foreign.json");
    std::fs::write(&foreign, br#"{"format": "something-else", "episodes": []}"#).unwrap();
    let e = Demonstrations::load(&foreign).unwrap_err().to_string();
    assert!(e.contains("foreign.json") && e.contains("format"), "{e}");

    // A step whose action has the wrong length.
    let mut value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    value["episodes"][0]["steps"][0]["action"] = serde_json::json!([0.0, 0.0]);
    let short = dir.join("short-action.json");
    std::fs::write(&short, serde_json::to_vec(&value).unwrap()).unwrap();
    let e = Demonstrations::load(&short).unwrap_err().to_string();
    assert!(e.contains("short-action.json") && e.contains("episode 0 step 0"), "{e}");

    let e = Demonstrations::load(&dir.join("missing.json")).unwrap_err().to_string();
    assert!(e.contains("missing.json"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

/// A needle-pick whose episodes are too short for the oracle to finish every time.
fn short_needle_pick(steps: usize) -> TaskConfig {
    let mut config = TaskConfig::builtin("needle-pick").unwrap();
    config.episode.steps = steps;
    config
}

#[test]
fn the_oracle_recorder_keeps_only_successes_and_counts_what_it_tried() {
    // The oracle needs about 24 steps on needle-pick: with 21, many episodes fail.
    let config = short_needle_pick(21);
    let mut calls = 0;
    let demos = record_oracle(&config, 4, 3, 200, &mut |_, _| calls += 1).unwrap();
    assert_eq!(demos.episodes.len(), 4);
    assert!(demos.episodes.iter().all(|e| e.success && e.steps.len() == 21));
    let tried = demos.episodes_tried.unwrap();
    assert!(tried > 4, "some short episodes must fail (tried {tried})");
    assert_eq!(calls, tried);
    let s = demos.summary();
    assert_eq!((s.episodes, s.successful_episodes, s.task.as_str(), s.grasp.as_str()), (4, 4, "needle-pick", "friction"));
    // Kept episodes are the first successful seeds, in order, and replay.
    let mut env = Env::new(config.clone()).unwrap();
    let replayed = replay_episode(&mut env, &demos.episodes[0]).unwrap();
    assert_eq!(replayed.last().unwrap(), &demos.episodes[0].final_observation);

    // Too few tries: an error that says how many succeeded.
    let e = record_oracle(&short_needle_pick(5), 2, 3, 6, &mut |_, _| {}).unwrap_err().to_string();
    assert!(e.contains("only 0 of 6"), "{e}");
}

#[test]
fn perturbed_oracle_demonstrations_show_recoveries_repeat_and_replay() {
    let config = TaskConfig::builtin("needle-pick").unwrap();
    // Noise on the position and wrist actions of every episode, none on the jaw.
    let noisy = RecoveryPerturbation { rate: 1.0, noise_std: vec![0.1, 0.1, 0.1, 0.1, 0.0], burst_steps: 0 };
    let record = |p: &RecoveryPerturbation| record_oracle_with_recovery(&config, 2, 3, 50, p.clone(), &mut |_, _| {}).unwrap();
    let demos = record(&noisy);
    assert!(demos == record(&noisy), "the same seed and perturbation: the same demonstrations");
    assert!(demos.source.contains("perturbed"), "{}", demos.source);
    let plain = record_oracle(&config, 2, 3, 50, &mut |_, _| {}).unwrap();
    assert_ne!(demos.episodes[0].steps, plain.episodes[0].steps, "the perturbation changes the actions");
    let mut env = Env::new(config.clone()).unwrap();
    for episode in &demos.episodes {
        assert!(episode.success);
        // The jaw had no noise: its actions are the oracle's ±1.
        assert!(episode.steps.iter().all(|s| s.action[4].abs() == 1.0));
        // Noise on every other step: actions the plain oracle never gives.
        assert!(episode.steps.iter().any(|s| s.action[..3].iter().any(|&a| a != 0.0 && a.abs() != 1.0)));
        let replayed = replay_episode(&mut env, episode).unwrap();
        assert_eq!(replayed.last().unwrap(), &episode.final_observation, "the executed actions were recorded");
    }

    // A burst replaces the oracle's actions, jaw included, with uniform ones.
    let burst = RecoveryPerturbation { rate: 1.0, noise_std: vec![], burst_steps: 4 };
    let bursts = record(&burst);
    assert!(bursts.episodes.iter().all(|e| e.steps.iter().any(|s| s.action[4].abs() != 1.0)));

    // Impossible settings are refused by name.
    for (p, words) in [
        (RecoveryPerturbation { rate: 1.5, ..noisy.clone() }, "rate 1.5"),
        (RecoveryPerturbation { noise_std: vec![-0.1], ..noisy.clone() }, "noise -0.1"),
        (RecoveryPerturbation { noise_std: vec![0.1, 0.1], ..noisy.clone() }, "2 values"),
        (RecoveryPerturbation { noise_std: vec![], ..noisy.clone() }, "perturbs nothing"),
    ] {
        let e = record_oracle_with_recovery(&config, 1, 3, 5, p, &mut |_, _| {}).unwrap_err().to_string();
        assert!(e.contains(words), "{e}");
    }
}

#[test]
fn demonstrations_for_another_task_mode_or_shape_are_refused_by_field() {
    let dir = std::env::temp_dir().join(format!("gl-demos-check-{}", std::process::id()));
    let path = dir.join("needle-pick-friction.json");
    let config = TaskConfig::builtin("needle-pick").unwrap();
    record_oracle(&config, 1, 0, 10, &mut |_, _| {}).unwrap().save(&path).unwrap();
    let paths = [path.clone()];

    let (buffer, report) = load_for_training(&paths, &config).unwrap();
    assert_eq!((buffer.episodes().len(), buffer.len()), (1, 100));
    assert!(report.contains("1 episodes"), "{report}");

    let refused = |task: &TaskConfig, field: &str| {
        let e = load_for_training(&paths, task).expect_err("refused").to_string();
        assert!(e.contains("needle-pick-friction.json") && e.contains(&format!("`{field}`")), "{field}: {e}");
    };
    let mut assisted = config.clone();
    assisted.physics.grasp = GraspMode::Assisted;
    refused(&assisted, "task_config.physics.grasp");
    refused(&TaskConfig::builtin("needle-reach").unwrap(), "task");
    let mut history = config.clone();
    history.control.action_history = 2;
    refused(&history, "observation_dim");

    // A file whose episodes all failed gives nothing to learn from.
    let mut failed = Demonstrations::load(&path).unwrap();
    failed.episodes[0].success = false;
    let failed_path = dir.join("failed.json");
    failed.save(&failed_path).unwrap();
    let e = load_for_training(&[failed_path], &config).err().unwrap().to_string();
    assert!(e.contains("failed.json") && e.contains("no successful"), "{e}");

    // An action outside [-1, 1] (a hand-edited file) is refused where it is.
    let mut value: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    value["episodes"][0]["steps"][3]["action"][1] = serde_json::json!(7.5);
    let wild = dir.join("wild.json");
    std::fs::write(&wild, serde_json::to_vec(&value).unwrap()).unwrap();
    let e = Demonstrations::load(&wild).unwrap_err().to_string();
    assert!(e.contains("wild.json") && e.contains("episode 0 step 3") && e.contains("`action`"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}
