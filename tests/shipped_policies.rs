//! The policies shipped in `policies/` still load and still do their job,
//! so the files and the code never drift apart.

use std::path::Path;

use gesture_lab::policy;
use gesture_lab::rl::sac::evaluate;

#[test]
fn shipped_needle_reach_policy_succeeds_on_seeded_episodes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/needle-reach");
    let loaded = policy::load(&dir, Some("needle-reach")).unwrap();
    assert_eq!(loaded.manifest.algorithm, "sac-her");
    let ev = evaluate(&loaded.policy, &loaded.manifest.task_config, 50, 2024, 0).unwrap();
    assert!(ev.success_rate >= 0.9, "success {}", ev.success_rate);
    assert!(ev.mean_final_error_mm < 5.0, "error {} mm", ev.mean_final_error_mm);
}

#[test]
fn shipped_pose_reach_policy_succeeds_on_seeded_episodes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/pose-reach");
    let loaded = policy::load(&dir, Some("pose-reach")).unwrap();
    let ev = evaluate(&loaded.policy, &loaded.manifest.task_config, 50, 2024, 0).unwrap();
    assert!(ev.success_rate >= 0.9, "success {}", ev.success_rate);
    assert!(ev.mean_orientation_error_deg.unwrap() < 10.0);
}

#[test]
fn shipped_gesture_trace_policy_traces_within_the_bar() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/gesture-trace");
    let loaded = policy::load(&dir, Some("gesture-trace")).unwrap();
    assert_eq!(loaded.manifest.algorithm, "ppo");
    let ev = evaluate(&loaded.policy, &loaded.manifest.task_config, 50, 2024, 0).unwrap();
    assert!(ev.success_rate >= 0.9, "success {}", ev.success_rate);
    assert!(ev.mean_tracking_rms_mm.unwrap() <= 2.0, "rms {:?}", ev.mean_tracking_rms_mm);
}

/// Learned from 100 oracle demonstrations (SAC+HER, friction grasp mode):
/// the needle really picked up, carried to the goal and held there.
#[test]
fn shipped_needle_pick_policy_picks_the_needle_on_seeded_episodes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/needle-pick");
    let loaded = policy::load(&dir, Some("needle-pick")).unwrap();
    assert_eq!(loaded.manifest.algorithm, "sac-her");
    assert_eq!(loaded.manifest.task_config.physics.grasp, gesture_lab::sim::physics::GraspMode::Friction);
    let ev = evaluate(&loaded.policy, &loaded.manifest.task_config, 50, 2024, 0).unwrap();
    assert!(ev.success_rate >= 0.9, "success {}", ev.success_rate);
    assert!(ev.held_at_end_rate.unwrap() >= 0.9, "held at the end {:?}", ev.held_at_end_rate);
    assert!(ev.mean_final_error_mm < 5.0, "error {} mm", ev.mean_final_error_mm);
}

/// Learned from 100 oracle demonstrations in assisted grasp mode (SAC+HER,
/// seed 0): the gauze really grasped, welded after the two-blade contact,
/// and carried to the goal.
#[test]
fn shipped_gauze_retrieve_policy_carries_the_gauze_on_seeded_episodes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/gauze-retrieve-assisted");
    let loaded = policy::load(&dir, Some("gauze-retrieve")).unwrap();
    assert_eq!(loaded.manifest.algorithm, "sac-her");
    assert_eq!(loaded.manifest.task_config.physics.grasp, gesture_lab::sim::physics::GraspMode::Assisted);
    let ev = evaluate(&loaded.policy, &loaded.manifest.task_config, 50, 2024, 0).unwrap();
    assert!(ev.success_rate >= 0.9, "success {}", ev.success_rate);
    assert!(ev.held_at_end_rate.unwrap() >= 0.9, "held at the end {:?}", ev.held_at_end_rate);
}
