//! Two PSMs in one env: placement, concatenated actions, collisions between
//! them, and the needle handover task (needle-regrasp).

use gesture_lab::env::Env;
use gesture_lab::sim::physics::GraspMode;
use gesture_lab::task::TaskConfig;

fn env(task: &str, mode: GraspMode) -> Env {
    let mut config = TaskConfig::builtin(task).unwrap();
    config.physics.grasp = mode;
    Env::new(config).unwrap()
}

fn regrasp(mode: GraspMode) -> Env {
    env("needle-regrasp", mode)
}

fn held(hold: &gesture_lab::sim::grasp::Hold) -> bool {
    hold.grasped || hold.welded
}

/// Runs the oracle for `episodes` seeded episodes; returns the successes
/// (at the episode's last step, as evaluations count them).
fn oracle_successes(env: &mut Env, episodes: u64) -> usize {
    let mut successes = 0;
    for seed in 0..episodes {
        env.reset(seed).unwrap();
        loop {
            let s = env.step(&env.oracle_action()).unwrap();
            assert!(!s.info.physics_fault, "seed {seed}: {:?}", s.info);
            if s.terminated || s.truncated {
                successes += s.info.success as usize;
                break;
            }
        }
    }
    successes
}

#[test]
fn each_psm_stands_on_its_own_base_and_takes_its_own_five_numbers() {
    let mut env = regrasp(GraspMode::Friction);
    assert_eq!(env.action_dim(), 10);
    assert_eq!(env.observation_dim(), 67);
    assert_eq!(env.goal_dim(), 4);
    let err = env.reset(1).and_then(|_| env.step(&[0.0; 5])).unwrap_err().to_string();
    assert!(err.contains("expected 10 numbers") && err.contains("instrument 2 (Psm): dx, dy, dz, yaw, jaw"), "{err}");
    env.reset(1).unwrap();
    let psms: Vec<_> = env.psms().collect();
    assert_eq!(psms.len(), 2);
    // The bases are where the config puts them: PSM1's port on −x, PSM2's on +x.
    let [a, b] = [psms[0].world_from_base.translation.vector, psms[1].world_from_base.translation.vector];
    assert!((a.x + 0.05).abs() < 1e-12 && (b.x - 0.05).abs() < 1e-12, "{a:?} {b:?}");
    // Moving PSM2's slice moves PSM2's tip and leaves PSM1's (holding the needle) where it was.
    let before = env.arm_state();
    let mut action = [0.0f32; 10];
    action[4] = -1.0; // PSM1 keeps its jaw closed
    action[7] = 1.0; // PSM2 along +z
    for _ in 0..4 {
        env.step(&action).unwrap();
    }
    let after = env.arm_state();
    let moved2 = after.others[0].tip - before.others[0].tip;
    assert!(moved2.z > 0.015, "PSM2 moved {:.1} mm", moved2.z * 1e3);
    assert!((after.tip - before.tip).norm() < 0.0005, "PSM1 moved {:.2} mm", (after.tip - before.tip).norm() * 1e3);
}

#[test]
fn the_needle_starts_really_held_by_psm1_and_falls_when_it_lets_go() {
    for mode in [GraspMode::Friction, GraspMode::Assisted] {
        let mut env = regrasp(mode);
        for seed in 0..5 {
            env.reset(seed).unwrap();
            let s = env.arm_state();
            assert!(held(&s.objects[0].hold), "{mode:?} seed {seed}: PSM1 does not hold the needle at the start");
            assert!(!held(&s.others[0].objects[0].hold), "{mode:?} seed {seed}: PSM2 holds it at the start");
            let y0 = s.objects[0].pose.translation.y;
            // Held for a second, it stays up: the grip holds its weight.
            let mut hold = [0.0f32; 10];
            hold[4] = -1.0;
            hold[9] = 1.0;
            for _ in 0..10 {
                env.step(&hold).unwrap();
            }
            let s = env.arm_state();
            assert!(held(&s.objects[0].hold), "{mode:?} seed {seed}: the needle slipped out");
            assert!((s.objects[0].pose.translation.y - y0).abs() < 0.002, "{mode:?} seed {seed}: the needle sank");
            // Opened, the jaws drop it onto the tray.
            let mut open = hold;
            open[4] = 1.0;
            for _ in 0..15 {
                env.step(&open).unwrap();
            }
            let s = env.arm_state();
            assert!(!held(&s.objects[0].hold));
            assert!(s.objects[0].pose.translation.y < 0.01, "{mode:?} seed {seed}: the needle floats at {:.1} mm", s.objects[0].pose.translation.y * 1e3);
        }
    }
}

#[test]
fn the_oracle_hands_the_needle_over_in_both_grasp_modes() {
    // The benchmark figures (500 episodes) are in the README; here fewer.
    let friction = oracle_successes(&mut regrasp(GraspMode::Friction), 30);
    assert!(friction >= 27, "friction: {friction} of 30");
    let assisted = oracle_successes(&mut regrasp(GraspMode::Assisted), 30);
    assert!(assisted >= 29, "assisted: {assisted} of 30");
}

#[test]
fn success_needs_the_needle_at_the_goal_held_by_psm2_alone() {
    let mut env = regrasp(GraspMode::Assisted);
    env.reset(4).unwrap();
    let mut handed_over = false;
    loop {
        let s = env.step(&env.oracle_action()).unwrap();
        let state = env.arm_state();
        let (by1, by2) = (held(&state.objects[0].hold), held(&state.others[0].objects[0].hold));
        handed_over |= by2 && !by1;
        if s.info.success {
            assert!(by2 && !by1, "success while PSM1 holds: {by1}, PSM2: {by2}");
            assert!(s.info.tip_error_mm <= 5.0);
            assert_eq!(s.observation.achieved_goal[3], 0.0);
        }
        if s.terminated || s.truncated {
            assert!(s.info.success && handed_over);
            break;
        }
    }
    // The reward reads the hold flag: the goal point reached while PSM1 still holds is not a success.
    let task = env.task();
    let goal = [0.01f32, 0.04, 0.0, 0.0];
    assert_eq!(task.compute_reward(&[0.01, 0.04, 0.0, 1.0], &goal), -1.0);
    assert_eq!(task.compute_reward(&[0.01, 0.04, 0.0, 0.0], &goal), 0.0);
    assert_eq!(task.compute_reward(&[0.02, 0.04, 0.0, 0.0], &goal), -1.0);
}

#[test]
fn the_two_psms_collide_with_each_other_and_the_collisions_are_counted() {
    let mut env = regrasp(GraspMode::Friction);
    env.reset(0).unwrap();
    // Drive PSM2 straight at PSM1's wrist, at its height.
    let mut touched = false;
    let mut counted = false;
    for _ in 0..40 {
        let s = env.arm_state();
        let to = s.tip - s.others[0].tip;
        let d = to / to.norm().max(1e-9);
        let action = [0.0, 0.0, 0.0, 0.0, -1.0, d.x as f32, d.y as f32, d.z as f32, 0.0, -1.0];
        let step = env.step(&action).unwrap();
        counted |= step.info.instrument_collisions.pairs > 0;
        let psms: Vec<_> = env.psms().collect();
        touched |= psms[1].colliders.iter().any(|&c| {
            env.world().contact_pairs_with(c).any(|pair| {
                let other = if pair.collider1 == c { pair.collider2 } else { pair.collider1 };
                pair.has_any_active_contact() && psms[0].colliders.contains(&other)
            })
        });
    }
    assert!(touched, "PSM2 passed through PSM1");
    assert!(counted, "the contact was not counted in instrument_collisions");
    let s = env.arm_state();
    assert!((s.tip - s.others[0].tip).norm() > 0.002, "the tips overlap: {:.2} mm apart", (s.tip - s.others[0].tip).norm() * 1e3);
}

#[test]
fn the_same_seed_repeats_the_handover_exactly() {
    let run = || {
        let mut env = regrasp(GraspMode::Friction);
        let mut out = vec![env.reset(11).unwrap()];
        for _ in 0..60 {
            out.push(env.step(&env.oracle_action()).unwrap().observation);
        }
        out
    };
    assert_eq!(run(), run());
}

#[test]
fn bimanual_configs_are_refused_naming_what_is_wrong() {
    let config = TaskConfig::builtin("needle-regrasp").unwrap();
    let one_arm: toml::Table = toml::from_str("robot = { others = [] }").unwrap();
    let err = config.with_overrides(&one_arm).unwrap_err().to_string();
    assert!(err.contains("needs two PSMs"), "{err}");
    let beyond: toml::Table = toml::from_str("needle_regrasp = { handover_angle_deg = 80.0 }").unwrap();
    let err = config.with_overrides(&beyond).unwrap_err().to_string();
    assert!(err.contains("needle_regrasp.handover_angle_deg = 80") && err.contains("beyond the needle's end"), "{err}");
    let too_many: toml::Table =
        toml::from_str(r#"robot = { others = [{ instrument = "psm", rcm = [0.0, 0.1, 0.0] }, { instrument = "psm", rcm = [0.0, 0.1, 0.1] }, { instrument = "ecm", rcm = [0.0, 0.2, 0.1] }] }"#)
            .unwrap();
    let err = config.with_overrides(&too_many).unwrap_err().to_string();
    assert!(err.contains("robot.others lists 3 instruments"), "{err}");
    let nan: toml::Table = toml::from_str(r#"robot = { others = [{ instrument = "psm", rcm = [0.0, nan, 0.0] }] }"#).unwrap();
    let err = config.with_overrides(&nan).unwrap_err().to_string();
    assert!(err.contains("robot.others[0]"), "{err}");
}

#[test]
fn the_oracle_hands_the_block_over_and_seats_it_on_psm1_s_side() {
    let friction = oracle_successes(&mut env("bi-peg-transfer", GraspMode::Friction), 20);
    assert!(friction >= 18, "friction: {friction} of 20");
    let assisted = oracle_successes(&mut env("bi-peg-transfer", GraspMode::Assisted), 20);
    assert!(assisted >= 19, "assisted: {assisted} of 20");
}

#[test]
fn in_bi_peg_transfer_psm2_lifts_the_block_and_psm1_seats_it() {
    let mut env = env("bi-peg-transfer", GraspMode::Friction);
    assert_eq!((env.action_dim(), env.observation_dim(), env.goal_dim()), (10, 67, 4));
    let first = env.reset(3).unwrap();
    let start = env.arm_state().objects[0].pose.translation.vector;
    let goal = env.task().goal_point(&first.desired_goal).unwrap();
    // The block starts on PSM2's side (+x); the target peg is on PSM1's (−x).
    assert!(start.x > 0.01 && goal.x < -0.01, "block at {start:?}, goal at {goal:?}");
    let (mut lifted_by_psm2, mut carried_by_psm1) = (false, false);
    loop {
        let s = env.step(&env.oracle_action()).unwrap();
        let state = env.arm_state();
        let block = &state.objects[0];
        let (by1, by2) = (held(&block.hold), held(&state.others[0].objects[0].hold));
        lifted_by_psm2 |= by2 && !by1 && block.pose.translation.y > 0.012;
        carried_by_psm1 |= by1 && !by2 && block.pose.translation.y > 0.012;
        if s.info.success {
            assert!(!by2, "success while PSM2 holds the block");
        }
        if s.terminated || s.truncated {
            assert!(s.info.success, "{:?}", s.info);
            break;
        }
    }
    assert!(lifted_by_psm2 && carried_by_psm1, "PSM2 alone lifted it: {lifted_by_psm2}; PSM1 alone carried it: {carried_by_psm1}");
    // Success reads the hold flag, and the height: a block resting on the peg's top is not seated.
    let task = env.task();
    let d = [goal.x as f32, goal.y as f32, goal.z as f32, 0.0];
    assert_eq!(task.compute_reward(&d, &d), 0.0);
    assert_eq!(task.compute_reward(&[d[0], d[1], d[2], 1.0], &d), -1.0);
    assert_eq!(task.compute_reward(&[d[0], d[1] + 0.005, d[2], 0.0], &d), -1.0);
}
