//! The camera (ECM) tasks: their oracles, their episodes and their configs.

use gesture_lab::env::Env;
use gesture_lab::sim::camera::horizon_error;
use gesture_lab::task::TaskConfig;

/// Runs the oracle for `episodes` seeded episodes; returns the success rate
/// (success at the episode's last step, as evaluations count it).
fn oracle_success(task: &str, episodes: u64) -> f64 {
    let mut env = Env::from_task(task).unwrap();
    let mut successes = 0;
    for seed in 0..episodes {
        env.reset(seed).unwrap();
        loop {
            let s = env.step(&env.oracle_action()).unwrap();
            assert!(!s.info.physics_fault && !s.info.ik_failed, "{task} seed {seed}: {:?}", s.info);
            if s.terminated || s.truncated {
                successes += s.info.success as usize;
                break;
            }
        }
    }
    successes as f64 / episodes as f64
}

#[test]
fn every_camera_task_oracle_succeeds_in_99_percent_of_episodes() {
    for (task, episodes) in [("ecm-reach", 100), ("ecm-misorient", 100), ("ecm-static-track", 100), ("ecm-active-track", 20)] {
        let rate = oracle_success(task, episodes);
        assert!(rate >= 0.99, "{task}: oracle {:.0} %", rate * 100.0);
    }
}

#[test]
fn camera_tasks_drive_the_ecm_with_four_numbers_and_start_unsolved() {
    for task in ["ecm-reach", "ecm-misorient", "ecm-static-track", "ecm-active-track"] {
        let mut env = Env::from_task(task).unwrap();
        assert_eq!(env.action_dim(), 4, "{task}");
        assert_eq!(env.action_space().shape, vec![4]);
        let err = env.reset(3).map(|_| ()).and_then(|_| env.step(&[0.0; 5]).map(|_| ())).unwrap_err().to_string();
        assert!(err.contains("expected 4 numbers (dx, dy, dz, roll)"), "{err}");
        env.reset(3).unwrap();
        assert!(env.psm().is_none() && env.ecm().is_some());
        let s = env.step(&[0.0; 4]).unwrap();
        // The tracking task starts aimed at its target, by design; the others start unsolved.
        assert!(task == "ecm-active-track" || !s.info.success, "{task} starts solved");
        let camera = env.arm_state().camera.expect("the camera pose");
        // The camera the task sees is the simulated ECM's.
        let sim = env.ecm().unwrap().camera_pose(env.world());
        assert!((camera.translation.vector - sim.translation.vector).norm() < 1e-12);
    }
}

#[test]
fn the_misorient_task_starts_turned_and_rolling_levels_it() {
    let mut env = Env::from_task("ecm-misorient").unwrap();
    for seed in 0..20 {
        env.reset(seed).unwrap();
        let camera = env.arm_state().camera.unwrap();
        let start = horizon_error(&camera);
        assert!(start.abs() > 0.05, "seed {seed}: the horizon starts level ({start})");
        // The achieved goal is the horizon error the camera shows.
        let s = env.step(&[0.0; 4]).unwrap();
        let now = horizon_error(&env.arm_state().camera.unwrap());
        assert!((s.observation.achieved_goal[0] as f64 - now).abs() < 1e-6);
    }
}

#[test]
fn same_seed_same_camera_episode() {
    for task in ["ecm-reach", "ecm-static-track"] {
        let run = || {
            let mut env = Env::from_task(task).unwrap();
            let mut trace = vec![env.reset(11).unwrap().flat()];
            for k in 0..30 {
                let a = [0.3 * ((k % 3) as f32 - 1.0), 0.5, -0.2, 0.4 * ((k % 2) as f32 * 2.0 - 1.0)];
                trace.push(env.step(&a).unwrap().observation.flat());
            }
            trace
        };
        assert_eq!(run(), run(), "{task}");
    }
}

#[test]
fn a_camera_task_config_without_the_ecm_is_refused_by_field() {
    let config = TaskConfig::builtin("ecm-reach").unwrap();
    let text = toml::to_string(&config).unwrap().replace("instrument = \"ecm\"\n", "");
    let err = TaskConfig::from_toml_str(&text, "ecm-no-instrument.toml").unwrap_err().to_string();
    assert!(err.contains("instrument = \\\"ecm\\\"") || err.contains("instrument = \"ecm\""), "{err}");
    let bad = TaskConfig::builtin("ecm-static-track").unwrap();
    let text = toml::to_string(&bad).unwrap().replace("centre_tolerance = 0.01", "centre_tolerance = -1.0");
    let err = TaskConfig::from_toml_str(&text, "x.toml").unwrap_err().to_string();
    assert!(err.contains("ecm_static_track.centre_tolerance = -1"), "{err}");
}

#[test]
fn active_tracking_follows_a_moving_target_and_ends_when_it_is_lost() {
    // The oracle keeps the moving target in the band for whole 500-step episodes.
    let mut env = Env::from_task("ecm-active-track").unwrap();
    for seed in 0..5 {
        env.reset(seed).unwrap();
        let mut path = Vec::new();
        let s = loop {
            let s = env.step(&env.oracle_action()).unwrap();
            path.push(s.observation.observation[18..21].to_vec());
            if s.terminated || s.truncated {
                break s;
            }
        };
        assert!(s.truncated && !s.terminated && path.len() == 500, "seed {seed}: ended at step {}", path.len());
        let tracking = s.info.tracking.unwrap();
        assert!(tracking.centred_fraction.unwrap() >= 0.99, "seed {seed}: {tracking:?}");
        // The target really moved: centimetres over the episode, smoothly (no jump over 2 mm per step).
        let travel: f32 = path.windows(2).map(|w| (w[1][0] - w[0][0]).hypot(w[1][2] - w[0][2])).sum();
        let jump = path.windows(2).map(|w| (w[1][0] - w[0][0]).hypot(w[1][2] - w[0][2])).fold(0.0f32, f32::max);
        assert!(travel > 0.05 && jump < 0.002, "seed {seed}: travel {travel} m, largest step {jump} m");
    }
    // Swinging the camera sideways loses the target: the episode ends (terminated), early.
    env.reset(3).unwrap();
    let mut steps = 0;
    let s = loop {
        let s = env.step(&[1.0, 0.0, 0.0, 0.0]).unwrap();
        steps += 1;
        if s.terminated || s.truncated {
            break s;
        }
    };
    assert!(s.terminated && steps < 100, "ended after {steps} steps, terminated {}", s.terminated);
    assert!(!s.info.success);
    // With the ending off (how SAC+HER trains), the episode runs its 500 steps.
    let config = TaskConfig::builtin("ecm-active-track").unwrap();
    let overrides: toml::Table = toml::from_str("[ecm_active_track]\nend_when_lost = false\n").unwrap();
    let mut env = Env::new(config.with_overrides(&overrides).unwrap()).unwrap();
    env.reset(3).unwrap();
    let mut steps = 0;
    while !env.step(&[1.0, 0.0, 0.0, 0.0]).map(|s| s.terminated || s.truncated).unwrap() {
        steps += 1;
    }
    assert_eq!(steps + 1, 500);
}
