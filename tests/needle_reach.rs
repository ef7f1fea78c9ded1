//! NeedleReach: the scripted oracle solves it, rewards follow the goal.

use gesture_lab::cli::run_demo;
use gesture_lab::env::Env;
use gesture_lab::task::{RewardMode, TaskConfig};

#[test]
fn oracle_succeeds_on_500_seeded_episodes() {
    let config = TaskConfig::builtin("needle-reach").unwrap();
    let report = run_demo(&config, 500, 7).unwrap();
    assert!(report.success_rate >= 0.99, "success rate {}", report.success_rate);
    assert!(report.mean_final_tip_error_mm <= 2.0, "mean error {} mm", report.mean_final_tip_error_mm);
    assert_eq!(report.physics_faults, 0);
    // The tip really travelled: it needs several 1 cm steps from its start.
    assert!(report.mean_steps_to_success >= 2.0, "{}", report.mean_steps_to_success);
}

#[test]
fn doing_nothing_does_not_reach_the_goal() {
    let mut env = Env::from_task("needle-reach").unwrap();
    let mut successes = 0;
    for seed in 0..20 {
        env.reset(seed).unwrap();
        let mut last = None;
        for _ in 0..50 {
            last = Some(env.step(&[0.0, 0.0, 0.0, 0.0, 0.0]).unwrap());
        }
        let last = last.unwrap();
        assert!(last.truncated);
        successes += last.info.success as usize;
        // The start is at least 2 cm above the pad, the goal 5 mm above the needle.
        assert!(last.info.tip_error_mm > 10.0, "{}", last.info.tip_error_mm);
    }
    assert_eq!(successes, 0);
}

#[test]
fn sparse_and_dense_rewards_follow_the_distance() {
    let mut config = TaskConfig::builtin("needle-reach").unwrap();
    let env = Env::new(config.clone()).unwrap();
    let task = env.task();
    let goal = [0.01f32, 0.0075, -0.02];
    assert_eq!(task.compute_reward(&goal, &goal), 0.0);
    assert_eq!(task.compute_reward(&[0.01, 0.0075, -0.016], &goal), 0.0); // 4 mm away
    assert_eq!(task.compute_reward(&[0.01, 0.0075, -0.014], &goal), -1.0); // 6 mm away
    assert!(task.is_success(&[0.013, 0.0075, -0.02], &goal));
    assert!(!task.is_success(&[0.016, 0.0075, -0.02], &goal));

    config.episode.reward = RewardMode::Dense;
    let env = Env::new(config).unwrap();
    let r = env.task().compute_reward(&[0.01, 0.0075, -0.05], &goal);
    assert!((r + 0.03).abs() < 1e-6, "{r}");
}

#[test]
fn the_tip_moves_by_motors_at_most_one_step_per_action() {
    let mut env = Env::from_task("needle-reach").unwrap();
    let obs = env.reset(11).unwrap();
    let mut tip = obs.achieved_goal.clone();
    for _ in 0..10 {
        let step = env.step(&[1.0, 1.0, 1.0, 0.0, 0.0]).unwrap();
        let next = step.observation.achieved_goal.clone();
        for k in 0..3 {
            // 1 cm setpoint move per axis; the servos follow with a small,
            // bounded lag that they make up later: nothing jumps.
            assert!((next[k] - tip[k]).abs() <= 0.0125, "axis {k}: {} -> {}", tip[k], next[k]);
        }
        tip = next;
    }
    // Held against the workspace corner.
    let c = &env.config().control;
    for k in 0..3 {
        assert!((tip[k] as f64 - c.workspace_max[k]).abs() < 1e-3, "axis {k}: {}", tip[k]);
    }
}
