//! Demonstration files: recorded episodes round-trip through the file and
//! replay bit for bit; damaged or foreign files are refused by name.

use gesture_lab::env::Env;
use gesture_lab::rng::episode_seed;
use gesture_lab::policy::demos::{Demonstrations, EpisodeRecorder, replay_episode};
use gesture_lab::task::TaskConfig;

/// Records `episodes` oracle episodes of `task`, as the viewer's teleop mode records keys.
fn record_oracle(task: &str, episodes: u64) -> Demonstrations {
    let config = TaskConfig::builtin(task).unwrap();
    let mut env = Env::new(config.clone()).unwrap();
    let mut demos = None;
    for k in 0..episodes {
        let seed = episode_seed(7, 0, k);
        let mut obs = env.reset(seed).unwrap();
        let demos = demos.get_or_insert_with(|| Demonstrations::new(&config, obs.observation.len(), obs.desired_goal.len(), "scripted oracle"));
        let mut recorder = EpisodeRecorder::new(seed);
        loop {
            let action = env.oracle_action();
            let step = env.step(&action).unwrap();
            recorder.record(&obs, &action, &step);
            obs = step.observation.clone();
            if step.terminated || step.truncated {
                demos.episodes.push(recorder.finish(&step));
                break;
            }
        }
    }
    demos.unwrap()
}

#[test]
fn recorded_episodes_round_trip_and_replay_exactly() {
    let dir = std::env::temp_dir().join(format!("gl-demos-{}", std::process::id()));
    let path = dir.join("oracle.json");
    let demos = record_oracle("needle-reach", 3);
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
    record_oracle("pose-reach", 1).save(&good).unwrap();
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
