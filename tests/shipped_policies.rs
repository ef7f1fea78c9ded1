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
fn shipped_ecm_static_track_policy_centres_the_target_with_a_level_image() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/ecm-static-track");
    let loaded = policy::load(&dir, Some("ecm-static-track")).unwrap();
    assert_eq!(loaded.manifest.action_dim, 4, "the ECM's action");
    let ev = evaluate(&loaded.policy, &loaded.manifest.task_config, 50, 2024, 0).unwrap();
    // Success needs both: the target within 0.01 of the image centre and the horizon within 0.01 rad.
    assert!(ev.success_rate >= 0.9, "success {}", ev.success_rate);
    assert!(ev.mean_orientation_error_deg.unwrap() < 0.57, "horizon {} deg", ev.mean_orientation_error_deg.unwrap());
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

/// A shipped grasp policy (SAC+HER from 100 oracle demonstrations) on 50
/// episodes of seed 2024: the object really grasped, carried to the goal
/// and held there. Returns the evaluation for task-specific checks.
fn assert_grasp_policy_delivers(bundle: &str, task: &str, mode: gesture_lab::sim::physics::GraspMode) -> gesture_lab::rl::sac::Evaluation {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies").join(bundle);
    let loaded = policy::load(&dir, Some(task)).unwrap();
    assert_eq!(loaded.manifest.algorithm, "sac-her");
    assert_eq!(loaded.manifest.task_config.physics.grasp, mode);
    let ev = evaluate(&loaded.policy, &loaded.manifest.task_config, 50, 2024, 0).unwrap();
    assert!(ev.success_rate >= 0.9, "{bundle}: success {}", ev.success_rate);
    assert!(ev.held_at_end_rate.unwrap() >= 0.9, "{bundle}: held at the end {:?}", ev.held_at_end_rate);
    ev
}

/// The needle picked up by friction alone.
#[test]
fn shipped_needle_pick_policy_picks_the_needle_on_seeded_episodes() {
    let ev = assert_grasp_policy_delivers("needle-pick", "needle-pick", gesture_lab::sim::physics::GraspMode::Friction);
    assert!(ev.mean_final_error_mm < 5.0, "error {} mm", ev.mean_final_error_mm);
}

/// The gauze grasped, welded after the two-blade contact (assisted mode, seed 0).
#[test]
fn shipped_gauze_retrieve_policy_carries_the_gauze_on_seeded_episodes() {
    assert_grasp_policy_delivers("gauze-retrieve-assisted", "gauze-retrieve", gesture_lab::sim::physics::GraspMode::Assisted);
}

/// The gauze picked up by friction alone (friction mode, seed 1, with the
/// goal-offset input).
#[test]
fn shipped_friction_gauze_retrieve_policy_carries_the_gauze_on_seeded_episodes() {
    let ev = assert_grasp_policy_delivers("gauze-retrieve", "gauze-retrieve", gesture_lab::sim::physics::GraspMode::Friction);
    assert!(ev.mean_final_error_mm < 5.0, "error {} mm", ev.mean_final_error_mm);
}

/// The block lifted off its peg by friction alone and seated on the target
/// peg: in x-z within 5 mm of its axis, at seated height, and let go.
#[test]
fn shipped_peg_transfer_policy_seats_the_block_on_seeded_episodes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/peg-transfer");
    let loaded = policy::load(&dir, Some("peg-transfer")).unwrap();
    assert_eq!(loaded.manifest.task_config.physics.grasp, gesture_lab::sim::physics::GraspMode::Friction);
    assert!(loaded.policy.goal_offset);
    let ev = evaluate(&loaded.policy, &loaded.manifest.task_config, 50, 2024, 0).unwrap();
    assert!(ev.success_rate >= 0.9, "success {}", ev.success_rate);
    assert!(ev.held_at_end_rate.unwrap() <= 0.1, "the block is let go on the peg: held at the end {:?}", ev.held_at_end_rate);
}

/// Two PSMs hand the needle over: at the goal, held by PSM2 alone (assisted mode).
#[test]
fn shipped_needle_regrasp_policy_hands_the_needle_over_on_seeded_episodes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/needle-regrasp");
    let loaded = policy::load(&dir, Some("needle-regrasp")).unwrap();
    assert_eq!(loaded.manifest.algorithm, "sac-her");
    assert_eq!(loaded.manifest.action_dim, 10, "two PSMs' actions");
    assert_eq!(loaded.manifest.task_config.physics.grasp, gesture_lab::sim::physics::GraspMode::Assisted);
    let ev = evaluate(&loaded.policy, &loaded.manifest.task_config, 50, 2024, 0).unwrap();
    // Success needs the handover point within 5 mm of the goal and PSM1 no longer holding it.
    assert!(ev.success_rate >= 0.9, "success {}", ev.success_rate);
    assert!(ev.mean_final_error_mm < 5.0, "error {} mm", ev.mean_final_error_mm);
}
