//! The simulated ECM multibody against its analytic kinematics and camera.

use gesture_lab::rng::rng_from_seed;
use gesture_lab::sim::camera::horizon_error;
use gesture_lab::sim::description::EcmDescription;
use gesture_lab::sim::ecm::{ECM_DOF, Ecm, EcmJoints, EcmKinematics};
use gesture_lab::sim::physics::PhysicsConfig;
use gesture_lab::task::visual_servo::centre_and_level;
use rand::RngExt;
use rapier3d::na::{Isometry3, Translation3, UnitQuaternion, Vector3};

/// The ECM's RCM 0.2 m above the table, its base z axis up (world Y).
fn base() -> Isometry3<f64> {
    Isometry3::from_parts(Translation3::new(0.0, 0.2, 0.1), UnitQuaternion::from_axis_angle(&Vector3::x_axis(), -std::f64::consts::FRAC_PI_2))
}

/// Drives the ECM from `from` to `to` with its motors for `seconds`; returns
/// the start and end distances of the simulated tip from FK's (m), and the
/// simulated tip pose (base frame).
fn settle(from: EcmJoints, to: EcmJoints, seconds: f64) -> (f64, f64, Isometry3<f64>) {
    let physics = PhysicsConfig::default();
    let desc = EcmDescription::ecm();
    let kin = EcmKinematics::new(&desc);
    let mut w = physics.new_world();
    let ecm = Ecm::build(&mut w, &desc, &physics, base(), &from);
    let fk = kin.forward(&to);
    let start = (ecm.tip_pose_base(&w).translation.vector - fk.translation.vector).norm();
    for _ in 0..(seconds / physics.dt).round() as usize {
        ecm.set_targets(&mut w, &to, &[0.0; ECM_DOF]);
        w.step();
    }
    assert!(ecm.is_finite(&w));
    let q = ecm.joint_positions(&w);
    for i in 0..ECM_DOF {
        assert!((q[i] - to[i]).abs() < 2e-3, "joint {i}: {} vs target {}", q[i], to[i]);
    }
    let sim = ecm.tip_pose_base(&w);
    (start, (sim.translation.vector - fk.translation.vector).norm(), sim)
}

#[test]
fn settled_camera_matches_forward_kinematics_within_half_a_millimetre() {
    let kin = EcmKinematics::new(&EcmDescription::ecm());
    // Camera tips in the base frame (the RCM at the origin, the table below along −z) and rolls.
    let targets = [
        (Vector3::new(0.0, 0.05, -0.12), 0.0),
        (Vector3::new(0.06, -0.03, -0.15), 0.6),
        (Vector3::new(-0.05, 0.08, -0.10), -1.2),
        (Vector3::new(0.03, 0.10, -0.20), 1.4),
    ];
    let mut from = [0.0, 0.0, 0.1, 0.0];
    for (k, (tip, roll)) in targets.iter().enumerate() {
        let to = kin.joints_for_tip(tip, *roll);
        kin.within_limits(&to).unwrap();
        assert!((kin.forward(&to).translation.vector - tip).norm() < 1e-12);
        let (start, err, sim) = settle(from, to, 1.5);
        assert!(start > 0.01, "the ECM really had to move ({start} m)");
        assert!(err < 0.5e-3, "target {k}: simulated camera {:.4} mm from FK", err * 1e3);
        // The simulated camera looks along the shaft, away from the RCM.
        let view = sim.rotation * Vector3::z();
        assert!(view.dot(&tip.normalize()) > 0.9999, "target {k}: view axis {view:?}");
        from = to;
    }
}

#[test]
fn rolling_the_endoscope_turns_the_image_horizon_by_the_same_angle() {
    // Pitched toward the table as SurRoL places its ECM: the view is not
    // vertical, so the horizon is defined.
    let desc = EcmDescription::ecm();
    let kin = EcmKinematics::new(&desc);
    let mount = desc.camera.mount();
    let world_from_base = base();
    // Leaning forward or sideways, and at an angle between the two.
    for tip in [Vector3::new(0.0, 0.08, -0.12), Vector3::new(0.06, 0.0, -0.13), Vector3::new(-0.04, -0.05, -0.11)] {
        // The roll that levels the image, found from the model alone.
        let level_roll = -horizon_error(&(world_from_base * kin.forward(&kin.joints_for_tip(&tip, 0.0)) * mount));
        for delta in [0.0, 0.4, -0.7] {
            let q = kin.joints_for_tip(&tip, level_roll + delta);
            if kin.within_limits(&q).is_err() {
                continue;
            }
            let (_, err, sim) = settle([0.0, 0.0, 0.1, 0.0], q, 1.5);
            assert!(err < 0.5e-3);
            let turned = horizon_error(&(world_from_base * sim * mount));
            assert!((turned - delta).abs() < 3e-3, "roll {delta}: horizon error {turned} rad");
        }
    }
}

#[test]
fn leaning_along_the_pitch_plane_keeps_the_image_level_at_zero_roll() {
    // What the camera mount is for: an endoscope pitched toward the table
    // with its roll joint centred shows a level image.
    let desc = EcmDescription::ecm();
    let kin = EcmKinematics::new(&desc);
    let horizon = |lean: f64| horizon_error(&(base() * kin.forward(&[0.0, lean, 0.12, 0.0]) * desc.camera.mount()));
    for lean in [0.2, 0.5, 1.1] {
        assert!(horizon(lean).abs() < 1e-9, "pitch {lean}: horizon {}", horizon(lean));
    }
    // Leaning back past the RCM turns the image upside down.
    assert!((horizon(-0.5).abs() - std::f64::consts::PI).abs() < 1e-9);
}

/// SurRoL's layout: the ECM behind the table, its RCM 20 cm up and 25 cm
/// back, leaning forward (its base −y toward the table, world −Z).
fn behind_the_table() -> Isometry3<f64> {
    Isometry3::from_parts(
        Translation3::new(0.0, 0.2, 0.25),
        UnitQuaternion::from_axis_angle(&Vector3::x_axis(), -std::f64::consts::FRAC_PI_2)
            * UnitQuaternion::from_axis_angle(&Vector3::z_axis(), std::f64::consts::PI),
    )
}

#[test]
fn visual_servoing_centres_a_target_and_levels_the_image_from_random_starts() {
    let physics = PhysicsConfig::default();
    let desc = EcmDescription::ecm();
    let kin = EcmKinematics::new(&desc);
    let model = &desc.camera;
    let world_from_base = behind_the_table();
    let rcm = world_from_base.translation.vector;
    for episode in 0..20u64 {
        let mut rng = rng_from_seed(episode);
        // A target on the table, and a start aimed a few centimetres away with a turned image.
        let target = Vector3::new(rng.random_range(-0.04..0.04), 0.0, rng.random_range(-0.04..0.04));
        let aim = target + Vector3::new(rng.random_range(-0.03..0.03), 0.0, rng.random_range(-0.03..0.03));
        let depth = rng.random_range(0.08..0.14);
        let tip = world_from_base.inverse_transform_vector(&((aim - rcm).normalize() * (depth + 0.0007)));
        let mut command = kin.joints_for_tip(&tip, rng.random_range(-0.5..0.5));
        kin.within_limits(&command).unwrap();
        let mut w = physics.new_world();
        let ecm = Ecm::build(&mut w, &desc, &physics, world_from_base, &command);
        let start_camera = ecm.camera_pose(&w);
        let start_offset = model.project(&start_camera, &target).unwrap().off_centre();
        let start_horizon = horizon_error(&start_camera);
        assert!(start_offset > 0.05 || start_horizon.abs() > 0.05, "episode {episode} starts solved");
        let period = physics.control_period();
        for _ in 0..150 {
            let camera = ecm.camera_pose(&w);
            let seen = model.project(&camera, &target).filter(|p| p.in_view());
            let motion = centre_and_level(model, &camera, &rcm, seen.as_ref(), horizon_error(&camera), 0.3);
            // Move the commanded tip and roll, as the env moves its setpoints.
            let tip = kin.forward(&command).translation.vector + world_from_base.inverse_transform_vector(&motion.tip_step);
            let next = kin.joints_for_tip(&tip, command[3] + motion.roll_step);
            let next: [f64; ECM_DOF] = std::array::from_fn(|i| next[i].clamp(kin.limits[i][0], kin.limits[i][1]));
            let velocity: [f64; ECM_DOF] = std::array::from_fn(|i| (next[i] - command[i]) / period);
            for _ in 0..physics.substeps {
                ecm.set_targets(&mut w, &next, &velocity);
                w.step();
            }
            command = next;
        }
        let camera = ecm.camera_pose(&w);
        let seen = model.project(&camera, &target).unwrap();
        assert!(seen.off_centre() < 0.01, "episode {episode}: target {:.4} from the centre (started {start_offset:.3})", seen.off_centre());
        assert!(horizon_error(&camera).abs() < 0.01, "episode {episode}: horizon {:.4} rad (started {start_horizon:.3})", horizon_error(&camera));
    }
}

#[test]
fn a_bad_ecm_description_is_refused_naming_the_field() {
    let shipped = gesture_lab::sim::description::ECM_TOML;
    let refuse = |text: &str, expected: &str| {
        let err = EcmDescription::from_toml_str(text, "ecm-test.toml").expect_err(expected).to_string();
        assert!(err.contains("ecm-test.toml") && err.contains(expected), "{err}");
    };
    refuse(&shipped.replace("fov_deg = 60.0", "fov_deg = 200.0"), "camera.fov_deg = 200");
    refuse(&shipped.replace("image_px = [256, 256]", "image_px = [0, 256]"), "camera.image_px");
    refuse(&shipped.replace("kind = \"prismatic\"", "kind = \"revolute\""), "the ECM needs 4 DH joints");
    refuse(&shipped.replace("limits = [0.0, 0.254]", "limits = [0.254, 0.0]"), "joint `insertion`: limits");
    refuse(&shipped.replace("mount_roll_deg = 90.0", "mount_roll_deg = 90.0\nzoom = 2"), "zoom");
    // The shipped file itself loads.
    assert_eq!(EcmDescription::from_toml_str(shipped, "ecm.toml").unwrap(), EcmDescription::ecm());
}
