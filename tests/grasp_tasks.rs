//! gauze-retrieve and peg-transfer: a gauze pad and a ring block that the two
//! blades really grasp, hold, carry and let go, in both grasp modes. (The
//! needle's own checks are in `needle_pick.rs`.)

use gesture_lab::env::{Env, Step, VecEnv};
use gesture_lab::sim::physics::GraspMode;
use gesture_lab::task::TaskConfig;
use rapier3d::na::Isometry3;

const TASKS: [&str; 2] = ["gauze-retrieve", "peg-transfer"];
const MODES: [GraspMode; 2] = [GraspMode::Friction, GraspMode::Assisted];

fn config(task: &str, mode: GraspMode) -> TaskConfig {
    let mut c = TaskConfig::builtin(task).unwrap();
    c.physics.grasp = mode;
    c
}

/// An env whose episodes last `steps` control steps (for the long holds).
fn env_with_steps(task: &str, mode: GraspMode, steps: usize) -> Env {
    let mut c = config(task, mode);
    c.episode.steps = steps;
    Env::new(c).unwrap()
}

fn object_pose(env: &Env) -> Isometry3<f64> {
    let h = env.task().objects()[0];
    gesture_lab::sim::convert::from_pose(env.world().bodies[h].position())
}

/// The object's pose in the wrist frame (frame 6): what a held object keeps.
fn object_in_wrist(env: &Env) -> Isometry3<f64> {
    env.psm().unwrap().tip_pose(env.world()).inverse() * object_pose(env)
}

/// Runs the oracle until the object is held and lifted `lift_m` above its
/// rest height; returns the last step.
fn pick_up(env: &mut Env, seed: u64, lift_m: f64) -> Step {
    env.reset(seed).unwrap();
    let rest = object_pose(env).translation.y;
    for _ in 0..env.config().episode.steps - 1 {
        let step = env.step(&env.oracle_action()).unwrap();
        let grasp = step.info.grasp.clone().unwrap();
        if (grasp.grasped || grasp.welded) && grasp.object_position[1] - rest >= lift_m {
            return step;
        }
    }
    panic!("{} seed {seed}: the oracle did not lift the object {lift_m} m", env.config().task);
}

#[test]
fn objects_at_rest_do_not_creep() {
    for task in TASKS {
        let steps = (10.0 / config(task, GraspMode::Friction).physics.control_period()).round() as usize;
        let mut env = env_with_steps(task, GraspMode::Friction, steps);
        env.reset(3).unwrap();
        let start = object_pose(&env);
        for _ in 0..steps {
            env.step(&[0.0; 5]).unwrap();
        }
        let end = object_pose(&env);
        let drift = (end.translation.vector - start.translation.vector).norm();
        let turn = (start.rotation.inverse() * end.rotation).angle();
        println!("{task}: drift {:.4} mm, turn {:.4} deg over 10 s", drift * 1e3, turn.to_degrees());
        assert!(drift < 1e-4, "{task}: the object crept {:.4} mm in 10 s", drift * 1e3);
        assert!(turn < 0.1f64.to_radians(), "{task}: the object turned {turn} rad");
    }
}

#[test]
fn the_oracle_succeeds_in_both_modes() {
    for task in TASKS {
        for mode in MODES {
            let mut env = Env::new(config(task, mode)).unwrap();
            let episodes = 20;
            let mut successes = 0;
            let mut first_success = Vec::new();
            for seed in 0..episodes {
                env.reset(seed).unwrap();
                let mut done_at = None;
                for k in 0..env.config().episode.steps {
                    let step = env.step(&env.oracle_action()).unwrap();
                    assert!(!step.info.physics_fault, "{task} {mode} seed {seed}: physics fault");
                    if step.info.success && done_at.is_none() {
                        done_at = Some(k + 1);
                    }
                    if step.truncated || step.terminated {
                        successes += step.info.success as usize;
                        break;
                    }
                }
                first_success.extend(done_at);
            }
            first_success.sort();
            println!("{task} {mode}: {successes}/{episodes}, median steps {:?}", first_success.get(first_success.len() / 2));
            assert!(successes as f64 >= 0.95 * episodes as f64, "{task} {mode}: {successes}/{episodes}");
        }
    }
}

#[test]
fn a_held_object_stays_in_the_jaws() {
    for task in TASKS {
        for mode in MODES {
            let mut env = env_with_steps(task, mode, 400);
            pick_up(&mut env, 1, 0.012);
            let held = object_in_wrist(&env);
            // Hold still, jaw closed, for 5 s.
            let steps = (5.0 / env.config().physics.control_period()).round() as usize;
            for _ in 0..steps {
                let g = env.step(&[0.0, 0.0, 0.0, 0.0, -1.0]).unwrap().info.grasp.unwrap();
                assert!(g.grasped || g.welded, "{task} {mode}: lost the grasp while holding still");
            }
            let slip = (object_in_wrist(&env).translation.vector - held.translation.vector).norm();
            println!("{task} {mode}: slip holding still 5 s: {:.4} mm", slip * 1e3);
            assert!(slip < 0.5e-3, "{task} {mode}: the object moved {:.3} mm in the jaws", slip * 1e3);
        }
    }
}

#[test]
fn carrying_at_full_speed_does_not_slip_in_friction_mode() {
    for task in TASKS {
        let mut env = env_with_steps(task, GraspMode::Friction, 400);
        // Above the other blocks' tops (a block is lifted 16 mm to be carried).
        pick_up(&mut env, 5, 0.014);
        let held = object_in_wrist(&env);
        let start = object_pose(&env).translation.vector;
        // 5 cm at the largest step the action allows, toward the centre in x.
        let dir = if start.x > 0.0 { -1.0 } else { 1.0 };
        let steps = (0.05 / env.config().control.max_step_m).round() as usize;
        for _ in 0..steps {
            let g = env.step(&[dir, 0.0, 0.0, 0.0, -1.0]).unwrap().info.grasp.unwrap();
            assert!(g.grasped, "{task}: lost the object while carrying");
        }
        // Let the servos catch up with the last setpoint.
        for _ in 0..3 {
            env.step(&[0.0, 0.0, 0.0, 0.0, -1.0]).unwrap();
        }
        let moved = (object_pose(&env).translation.vector - start).norm();
        let slip = (object_in_wrist(&env).translation.vector - held.translation.vector).norm();
        println!("{task}: carried {:.1} mm, slip {:.4} mm", moved * 1e3, slip * 1e3);
        assert!(moved > 0.045, "{task}: the object moved only {moved} m");
        assert!(slip < 1e-3, "{task}: the object slipped {:.3} mm over a 5 cm carry", slip * 1e3);
    }
}

#[test]
fn opening_the_jaws_lets_the_object_fall_back() {
    for task in TASKS {
        for mode in MODES {
            let mut env = Env::new(config(task, mode)).unwrap();
            env.reset(2).unwrap();
            let rest = object_pose(&env).translation.y;
            pick_up(&mut env, 2, 0.012);
            for _ in 0..20 {
                assert!(!env.step(&[0.0, 0.0, 0.0, 0.0, 1.0]).unwrap().info.physics_fault);
            }
            let g = env.step(&[0.0, 0.0, 0.0, 0.0, 1.0]).unwrap().info.grasp.unwrap();
            let y = object_pose(&env).translation.y;
            println!("{task} {mode}: after opening the object lies at {:.3} mm (rest {:.3} mm)", y * 1e3, rest * 1e3);
            assert!(!g.grasped && !g.welded, "{task} {mode}: still held after opening");
            // Straight down where it was lifted: back onto the pad, or around its peg.
            assert!((y - rest).abs() < 1e-3, "{task} {mode}: the object did not fall back ({y} vs {rest})");
        }
    }
}

#[test]
fn closing_on_nothing_grasps_nothing() {
    for task in TASKS {
        let mut env = Env::new(config(task, GraspMode::Assisted)).unwrap();
        env.reset(4).unwrap();
        for _ in 0..30 {
            let g = env.step(&[0.0, 0.0, 0.0, 0.0, -1.0]).unwrap().info.grasp.unwrap();
            assert!(!g.grasped && !g.welded, "{task}: a grasp of nothing");
            assert_eq!(g.grip_force_n, 0.0);
        }
        let jaw = env.arm_state().joints[6];
        assert!(jaw.abs() < 0.01, "{task}: the empty jaw should close fully ({jaw} rad)");
    }
}

#[test]
fn grasp_trajectories_repeat_bit_for_bit_on_one_and_two_threads() {
    for task in TASKS {
        let run = |threads| {
            let mut venv = VecEnv::new(&config(task, GraspMode::Friction), 3, 9, threads).unwrap();
            venv.reset().unwrap();
            let mut trace = Vec::new();
            let mut grasps = 0;
            for _ in 0..50 {
                let actions: Vec<f32> = venv.envs().iter().flat_map(|e| e.oracle_action()).collect();
                let step = venv.step(&actions).unwrap();
                grasps += step.infos.iter().filter(|i| i.grasp.as_ref().unwrap().grasped).count();
                trace.extend(step.observations.iter().flat_map(|o| o.flat()).map(f32::to_bits));
            }
            assert!(grasps > 40, "{task}: the envs grasped in {grasps} env steps only");
            trace
        };
        let one = run(1);
        assert_eq!(one, run(1), "{task}: two runs on one thread differ");
        assert_eq!(one, run(2), "{task}: one and two threads differ");
    }
}

/// Full-speed moves down onto the object and across it, the jaw opening and
/// closing: the object never sinks through the tray or the board, and no
/// blade ends up deeper in a grip rim than the rim's diameter.
#[test]
fn objects_never_pass_through_the_tray_or_a_blade() {
    for task in TASKS {
        let mut env = Env::new(config(task, GraspMode::Friction)).unwrap();
        for seed in 0..4 {
            env.reset(seed).unwrap();
            let rest = object_pose(&env).translation.y;
            // The gauze's pad is soft to the instrument (its blades close
            // beneath the gauze), so a blade can press the gauze into it;
            // the tray and the peg board are rigid.
            let soft = if task == "gauze-retrieve" { 0.002 } else { 0.0 };
            let mut deepest = 0.0f64;
            for k in 0..80 {
                let centre = object_pose(&env).translation.vector;
                let to = centre - env.arm_state().tip;
                let s = |v: f64| if v > 0.0 { 1.0 } else { -1.0 };
                let step = env.step(&[s(to.x), -1.0, s(to.z), 0.0, if k % 6 < 3 { 1.0 } else { -1.0 }]).unwrap();
                assert!(!step.info.physics_fault, "{task} seed {seed}: physics fault");
                let y = object_pose(&env).translation.y;
                assert!(y > rest - soft - 0.25e-3, "{task} seed {seed} step {k}: the object sank to {y} m (rest {rest})");
                let world = env.world();
                let psm = env.psm().unwrap();
                let object = env.task().objects()[0];
                for &blade in &psm.colliders[6..] {
                    for pair in world.contact_pairs_with(blade) {
                        let other = if pair.collider1 == blade { pair.collider2 } else { pair.collider1 };
                        let collider = &world.colliders[other];
                        if collider.parent() != Some(object) {
                            continue;
                        }
                        let radius = collider.shape().as_ball().map_or(0.0, |b| b.radius as f64);
                        for m in pair.manifolds() {
                            for p in &m.points {
                                deepest = deepest.max(-p.dist as f64);
                                assert!((-p.dist as f64) < 2.0 * radius, "{task} seed {seed} step {k}: a blade {:.3} mm deep", -p.dist * 1e3);
                            }
                        }
                    }
                }
                if step.truncated {
                    break;
                }
            }
            println!("{task} seed {seed}: deepest blade contact {:.3} mm", deepest * 1e3);
        }
    }
}

/// Impossible configs are refused with a message that names the field.
#[test]
fn impossible_grasp_task_configs_are_refused_by_field() {
    use toml::Value;
    let cases: [(&str, &str, Value, &str); 6] = [
        ("peg-transfer", "blocks", Value::Integer(7), "peg_transfer.blocks"),
        ("peg-transfer", "peg_radius", Value::Float(0.004), "does not fit a peg"),
        ("peg-transfer", "grasp_below_top_m", Value::Float(0.02), "peg_transfer.grasp_below_top_m"),
        ("peg-transfer", "near_pegs", Value::Array(vec![]), "peg_transfer.near_pegs"),
        (
            "gauze-retrieve",
            "gauze_half_extents",
            Value::Array(vec![Value::Float(0.006), Value::Float(0.0), Value::Float(0.0015)]),
            "gauze_retrieve.gauze_half_extents",
        ),
        ("gauze-retrieve", "grasp_depth_m", Value::Float(-0.008), "gauze_retrieve.grasp_depth_m"),
    ];
    for (task, field, value, expected) in cases {
        let mut c = TaskConfig::builtin(task).unwrap();
        let table = task.replace('-', "_");
        c.tables.get_mut(&table).unwrap().as_table_mut().unwrap().insert(field.into(), value);
        let e = c.validate("test.toml").unwrap_err().to_string();
        assert!(e.contains(expected) && e.contains("test.toml"), "{task} {field}: {e}");
    }
    // A typo'd table is refused by name too.
    let mut c = TaskConfig::builtin("gauze-retrieve").unwrap();
    let table = c.tables.remove("gauze_retrieve").unwrap();
    c.tables.insert("gauze_retreive".into(), table);
    let e = c.validate("test.toml").unwrap_err().to_string();
    assert!(e.contains("gauze_retreive") || e.contains("[gauze_retrieve]"), "{e}");
}

/// The last observation number is the oracle's yaw error: the wrist turn to
/// the grip within the yaw limits. Until the object is held the oracle's yaw
/// action is that turn in steps, so the two agree at every such step, and
/// the turn never leads past a limit.
#[test]
fn the_observation_carries_the_turn_to_the_grip_within_the_yaw_limits() {
    for task in ["needle-pick", "gauze-retrieve", "peg-transfer"] {
        let mut env = Env::new(config(task, GraspMode::Friction)).unwrap();
        let c = env.config().control.clone();
        let (step, limit) = (c.max_yaw_step_deg.to_radians(), c.yaw_limit_deg.to_radians());
        let mut turns_seen = 0;
        for seed in 0..6 {
            let mut obs = env.reset(seed).unwrap();
            assert_eq!(obs.observation.len(), 41, "{task}");
            // Until held (obs[32]): afterwards the oracle holds the wrist still.
            for _ in 0..env.config().episode.steps - 1 {
                if obs.observation[32] != 0.0 {
                    break;
                }
                let (yaw, turn) = (obs.observation[6] as f64, obs.observation[40] as f64);
                assert!((yaw + turn).abs() <= limit + 1e-5, "{task} seed {seed}: yaw {yaw} + turn {turn} passes the limit");
                let action = env.oracle_action();
                let expected = (turn / step).clamp(-1.0, 1.0);
                assert!((action[3] as f64 - expected).abs() < 1e-4, "{task} seed {seed}: yaw action {} for a turn of {turn} rad", action[3]);
                turns_seen += (turn.abs() > 0.05) as usize;
                obs = env.step(&action).unwrap().observation;
            }
        }
        assert!(turns_seen > 0, "{task}: the oracle turned the wrist somewhere");
    }
}
