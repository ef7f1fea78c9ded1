//! The simulated multibody against the analytic kinematics.

use gesture_lab::sim::description::RobotDescription;
use gesture_lab::sim::kinematics::{PsmKinematics, tool_down_rotation};
use gesture_lab::sim::physics::PhysicsConfig;
use gesture_lab::sim::psm::{DOF, Psm};
use rapier3d::na::{Isometry3, Translation3, UnitQuaternion, Vector3};

fn base() -> Isometry3<f64> {
    Isometry3::from_parts(Translation3::new(0.0, 0.14, 0.0), UnitQuaternion::from_axis_angle(&Vector3::x_axis(), -std::f64::consts::FRAC_PI_2))
}

/// Drives the arm from `from` to `to` with the motors and returns the
/// distance between the simulated tip and the analytic FK tip (m).
fn settle_error(physics: &PhysicsConfig, from: [f64; DOF], to: [f64; DOF], seconds: f64) -> (f64, f64) {
    let desc = RobotDescription::psm();
    let kin = PsmKinematics::new(&desc);
    let mut w = physics.new_world();
    let psm = Psm::build(&mut w, &desc, physics, base(), &from);
    let start_err = (psm.tip_pose_base(&w).translation.vector - kin.forward(&Psm::arm(&to)).translation.vector).norm();
    for _ in 0..(seconds / physics.dt).round() as usize {
        // Every substep, as the env does: the blades' targets follow the blades.
        psm.set_targets(&mut w, &to, &[0.0; DOF]);
        w.step();
    }
    let sim_tip = psm.tip_pose_base(&w);
    let fk_tip = kin.forward(&Psm::arm(&to));
    let err = (sim_tip.translation.vector - fk_tip.translation.vector).norm();
    // The multibody's coordinates are the dVRK joint values.
    let q = psm.joint_positions(&w);
    for i in 0..DOF {
        assert!((q[i] - to[i]).abs() < 2e-3, "joint {i}: {} vs target {}", q[i], to[i]);
    }
    (start_err, err)
}

#[test]
fn settled_tip_matches_forward_kinematics_within_half_a_millimetre() {
    let desc = RobotDescription::psm();
    let kin = PsmKinematics::new(&desc);
    let physics = PhysicsConfig::default();
    let targets = [
        (Vector3::new(0.02, 0.03, -0.10), 0.3),
        (Vector3::new(-0.04, -0.03, -0.13), -0.6),
        (Vector3::new(0.05, 0.05, -0.075), 1.2),
        (Vector3::new(-0.05, 0.04, -0.135), -1.4),
    ];
    let mut from = [0.0, 0.0, 0.12, 0.0, 0.0, 0.0, 0.0];
    for (k, (p, yaw)) in targets.iter().enumerate() {
        let pose = Isometry3::from_parts(Translation3::from(*p), tool_down_rotation(*yaw));
        let arm = kin.inverse(&pose, &Psm::arm(&from)).unwrap();
        let mut to = [0.0; DOF];
        to[..6].copy_from_slice(&arm);
        to[6] = 0.4 * k as f64;
        let (start_err, err) = settle_error(&physics, from, to, 1.5);
        assert!(start_err > 0.01, "the arm really had to move ({start_err} m)");
        assert!(err < 0.5e-3, "target {k}: simulated tip {:.4} mm from FK", err * 1e3);
        from = to;
    }
}

#[test]
fn gravity_without_compensation_sags_but_stays_stable() {
    // With the controller's gravity compensation off, the servos hold the arm
    // against its weight with a visible but bounded error: the test above
    // would fail, which shows the compensation is doing real work.
    let physics = PhysicsConfig { gravity_compensation: 0.0, ..PhysicsConfig::default() };
    let q = [0.4, 0.3, 0.2, 0.0, 0.2, -0.2, 0.0];
    let desc = RobotDescription::psm();
    let mut w = physics.new_world();
    let psm = Psm::build(&mut w, &desc, &physics, base(), &q);
    for _ in 0..160 {
        w.step();
    }
    let kin = PsmKinematics::new(&desc);
    let err = (psm.tip_pose_base(&w).translation.vector - kin.forward(&Psm::arm(&q)).translation.vector).norm();
    assert!(psm.is_finite(&w));
    assert!(err > 0.5e-3 && err < 0.02, "sag {err} m");
}

#[test]
fn bodies_never_sleep() {
    let physics = PhysicsConfig::default();
    let q = [0.1, 0.1, 0.15, 0.0, 0.0, 0.0, 0.0];
    let desc = RobotDescription::psm();
    let mut w = physics.new_world();
    let psm = Psm::build(&mut w, &desc, &physics, base(), &q);
    for _ in 0..2000 {
        w.step();
    }
    let moving: Vec<_> = psm.moving_bodies().collect();
    assert_eq!(moving.len(), 8, "six links and two blades");
    for &h in &moving {
        assert!(!w.bodies[h].is_sleeping());
    }
}

#[test]
fn an_arm_that_touches_nothing_moves_exactly_as_one_with_colliders() {
    // Without arm contacts the links get no colliders (only their mass) and
    // rapier's CCD is off: a speed-up that must not change the dynamics. In an
    // empty scene the colliders of an arm with contacts touch nothing either,
    // so both arms must follow bit for bit the same path.
    let desc = RobotDescription::psm();
    let kin = PsmKinematics::new(&desc);
    let from = [0.0, 0.0, 0.12, 0.0, 0.0, 0.0, 0.4];
    let pose = Isometry3::from_parts(Translation3::new(0.04, -0.03, -0.12), tool_down_rotation(0.8));
    let mut to = [0.0; DOF];
    to[..6].copy_from_slice(&kin.inverse(&pose, &Psm::arm(&from)).unwrap());
    let run = |arm_contacts: bool| {
        let physics = PhysicsConfig { arm_contacts, ..PhysicsConfig::default() };
        let mut w = physics.new_world();
        let psm = Psm::build(&mut w, &desc, &physics, base(), &from);
        let mut path = Vec::new();
        for _ in 0..120 {
            psm.set_targets(&mut w, &to, &[0.0; DOF]);
            w.step();
            path.push((psm.tip_pose(&w), psm.joint_positions(&w)));
        }
        // (rapier computes a body's mass properties in its first step.)
        let masses: Vec<_> = psm.moving_bodies().map(|h| (w.bodies[h].mass(), w.bodies[h].mass_properties().local_mprops)).collect();
        assert!(masses.iter().all(|(m, _)| *m > 0.0), "every link has its mass");
        (w.colliders.len(), w.integration_parameters.max_ccd_substeps, masses, path)
    };
    let (colliders, ccd, masses, path) = run(false);
    let (contact_colliders, contact_ccd, contact_masses, contact_path) = run(true);
    assert_eq!((colliders, ccd), (0, 0), "an arm that touches nothing has no collider and no CCD");
    assert_eq!((contact_colliders, contact_ccd), (8, 1));
    assert_eq!(masses, contact_masses, "the same masses, centres of mass and inertias");
    assert!(path.iter().zip(&contact_path).all(|(a, b)| a == b), "the same path, bit for bit");
    let moved = (path[0].0.translation.vector - path[119].0.translation.vector).norm();
    assert!(moved > 0.01, "the arm really moved ({moved} m)");
}
