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
    for task in ["ecm-reach", "ecm-misorient", "ecm-static-track"] {
        let rate = oracle_success(task, 100);
        assert!(rate >= 0.99, "{task}: oracle {:.0} %", rate * 100.0);
    }
}

#[test]
fn camera_tasks_drive_the_ecm_with_four_numbers_and_start_unsolved() {
    for task in ["ecm-reach", "ecm-misorient", "ecm-static-track"] {
        let mut env = Env::from_task(task).unwrap();
        assert_eq!(env.action_dim(), 4, "{task}");
        assert_eq!(env.action_space().shape, vec![4]);
        let err = env.reset(3).map(|_| ()).and_then(|_| env.step(&[0.0; 5]).map(|_| ())).unwrap_err().to_string();
        assert!(err.contains("expected 4 numbers (dx, dy, dz, roll)"), "{err}");
        env.reset(3).unwrap();
        assert!(env.psm().is_none() && env.ecm().is_some());
        let s = env.step(&[0.0; 4]).unwrap();
        assert!(!s.info.success, "{task} starts solved");
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
