//! PoseReach: position and jaw-plane angle both count.

use gesture_lab::cli::run_demo;
use gesture_lab::env::Env;
use gesture_lab::task::TaskConfig;

#[test]
fn oracle_succeeds_on_500_seeded_episodes() {
    let config = TaskConfig::builtin("pose-reach").unwrap();
    let report = run_demo(&config, 500, 11).unwrap();
    assert!(report.success_rate >= 0.95, "success rate {}", report.success_rate);
    assert!(report.mean_final_orientation_error_deg.unwrap() < 5.0);
    assert!(report.mean_final_tip_error_mm < 2.0);
}

#[test]
fn reaching_the_point_without_turning_the_wrist_is_not_enough() {
    let mut env = Env::from_task("pose-reach").unwrap();
    let (mut successes, mut far_angles) = (0, 0);
    for seed in 0..40 {
        env.reset(seed).unwrap();
        let mut last = None;
        for _ in 0..50 {
            let mut a = env.oracle_action();
            a[3] = 0.0; // keep the start yaw
            last = Some(env.step(&a).unwrap());
        }
        let last = last.unwrap();
        assert!(last.info.tip_error_mm < 2.0, "the position is reached");
        let angle = last.info.orientation_error_deg.unwrap();
        successes += last.info.success as usize;
        far_angles += (angle > 10.0) as usize;
        assert_eq!(last.info.success, angle <= 10.0, "success follows the angle ({angle} deg)");
    }
    // A uniform needle heading against a ±45° start yaw: most starts are off.
    assert!(far_angles >= 20, "{far_angles} of 40 started more than 10 degrees off");
    assert!(successes < 20);
}

#[test]
fn the_jaw_plane_angle_is_taken_modulo_a_half_turn() {
    let env = Env::from_task("pose-reach").unwrap();
    let task = env.task();
    let plane = |psi: f64| [0.01f32, 0.0075, -0.02, (2.0 * psi).cos() as f32, (2.0 * psi).sin() as f32];
    let goal = plane(0.4);
    assert!(task.is_success(&plane(0.4 + std::f64::consts::PI), &goal), "the same plane, turned over");
    assert!(task.is_success(&plane(0.4 + 0.15), &goal)); // 8.6 degrees
    assert!(!task.is_success(&plane(0.4 + 0.2), &goal)); // 11.5 degrees
    assert_eq!(task.compute_reward(&plane(0.4 + 0.2), &goal), -1.0);
    let mut far = plane(0.4);
    far[0] += 0.006;
    assert!(!task.is_success(&far, &goal), "6 mm away");
}
