//! The dVRK Endoscopic Camera Manipulator (ECM): its closed-form kinematics
//! and its rapier multibody, built as the PSM's is (one motor-driven body
//! per DH frame, see `sim::chain`). The camera looks out of DH frame 4.
//!
//! Poses are in the ECM's own base frame (origin at its RCM; at the zero
//! configuration the endoscope points along −z) unless a name says world.

use rapier3d::na::{Isometry3, Vector3};
use rapier3d::prelude::*;

use super::camera::CameraModel;
use super::chain::{self, LinkSpec};
use super::convert::from_pose;
use super::description::{EcmDescription, LinkShape, Servo};
use super::kinematics::{DhChain, IkError};
use super::physics::PhysicsConfig;
use super::psm::instrument_groups;

/// The ECM's joints: yaw, pitch, insertion, roll.
pub const ECM_DOF: usize = 4;

/// Joint values of the ECM: radians, except the insertion (joint 3) in metres.
pub type EcmJoints = [f64; ECM_DOF];

/// Forward and inverse kinematics of the ECM.
pub type EcmKinematics = DhChain<ECM_DOF>;

impl EcmKinematics {
    pub fn new(desc: &EcmDescription) -> Self {
        Self::from_joints(&desc.joints)
    }

    /// Joints that put the camera tip at `tip` (base frame) with the roll
    /// joint at `roll`: yaw and pitch aim the shaft through the tip, the
    /// insertion sets its distance from the RCM. Not checked against limits.
    pub fn joints_for_tip(&self, tip: &Vector3<f64>, roll: f64) -> EcmJoints {
        let [q1, q2, q3] = self.rcm_shaft_joints(tip, self.d(3));
        [q1, q2, q3, roll]
    }

    /// Inverse kinematics of a full camera pose (base frame). With four
    /// joints only poses whose view axis (z) runs from the RCM through the
    /// tip are reachable: the position fixes yaw, pitch and insertion, the
    /// image's x axis the roll (the turn within limits nearest `seed`'s).
    pub fn inverse(&self, target: &Isometry3<f64>, seed: &EcmJoints) -> Result<EcmJoints, IkError> {
        let p = target.translation.vector;
        if !p.iter().all(|v| v.is_finite()) || !target.rotation.coords.iter().all(|v| v.is_finite()) {
            return Err(IkError::NotFinite);
        }
        let mut q = self.joints_for_tip(&p, 0.0);
        // The roll joint's frame at q4 = 0, and the asked x axis in it.
        let roll_zero = self.frames(&q)[2].rotation * self.joint_transform(3, 0.0).rotation;
        let x = roll_zero.inverse() * (target.rotation * Vector3::x());
        q[3] = self.nearest_turn(3, x.y.atan2(x.x), seed[3]);
        self.check(target, &q)?;
        Ok(q)
    }
}

/// Handles of the ECM inside a rapier world.
#[derive(Clone, Debug)]
pub struct Ecm {
    pub kinematics: EcmKinematics,
    pub camera: CameraModel,
    /// World pose of the ECM's base frame (its origin is the RCM).
    pub world_from_base: Isometry3<f64>,
    /// The fixed base body, then one body per DH frame 1..=4.
    pub bodies: [RigidBodyHandle; ECM_DOF + 1],
    /// The collider of each body in `bodies[1..]` (`ColliderHandle::invalid()` without `physics.arm_contacts`).
    pub colliders: [ColliderHandle; ECM_DOF],
    pub joints: [MultibodyJointHandle; ECM_DOF],
    /// The shape of each body in `bodies[1..]` (the viewer draws them).
    pub shapes: Vec<LinkShape>,
    axes: [JointAxis; ECM_DOF],
    servos: [Servo; ECM_DOF],
}

impl Ecm {
    /// Adds the ECM to `world` at joint configuration `q0`, placed by
    /// `world_from_base`. Its links touch the scene when `physics.arm_contacts`.
    pub fn build(world: &mut PhysicsWorld, desc: &EcmDescription, physics: &PhysicsConfig, world_from_base: Isometry3<f64>, q0: &EcmJoints) -> Self {
        Self::build_in_slot(world, desc, physics, world_from_base, q0, 0)
    }

    /// [`Self::build`] for instrument `slot` of an env with several (see [`instrument_groups`]).
    pub fn build_in_slot(
        world: &mut PhysicsWorld,
        desc: &EcmDescription,
        physics: &PhysicsConfig,
        world_from_base: Isometry3<f64>,
        q0: &EcmJoints,
        slot: usize,
    ) -> Self {
        let kinematics = EcmKinematics::new(desc);
        let gravity = physics.gravity * physics.gravity_compensation;
        let groups = instrument_groups(slot, physics.arm_contacts);
        let specs: Vec<LinkSpec> = desc
            .joints
            .iter()
            .enumerate()
            .map(|(i, j)| LinkSpec {
                parent: i,
                anchor: kinematics.joint_zero_transform(i),
                kind: j.kind,
                shape: j.link.clone(),
                servo: j.servo,
                limits: j.limits_si(),
                armature: j.armature,
                friction: None,
            })
            .collect();
        let built = chain::build(world, world_from_base, &specs, groups, gravity);
        let ecm = Ecm {
            kinematics,
            camera: desc.camera.clone(),
            world_from_base,
            bodies: built.bodies.try_into().expect("a body per joint and the base"),
            colliders: built.colliders.try_into().expect("a collider per joint"),
            joints: built.joints.try_into().expect("four joints"),
            shapes: specs.iter().map(|s| s.shape.clone()).collect(),
            axes: built.axes.try_into().expect("four joints"),
            servos: std::array::from_fn(|i| specs[i].servo),
        };
        let armatures: EcmJoints = std::array::from_fn(|i| specs[i].armature);
        chain::place(world, &ecm.joints, q0, &armatures, |_| false);
        ecm.set_targets(world, q0, &[0.0; ECM_DOF]);
        ecm
    }

    /// Joint positions read from the multibody.
    pub fn joint_positions(&self, world: &PhysicsWorld) -> EcmJoints {
        std::array::from_fn(|i| chain::coordinate(world, self.joints[i], self.axes[i]))
    }

    /// Joint velocities read from the multibody.
    pub fn joint_velocities(&self, world: &PhysicsWorld) -> EcmJoints {
        std::array::from_fn(|i| chain::velocity(world, self.joints[i]))
    }

    /// Sets every servo's position target (clamped to the joint limits) and velocity feed-forward.
    pub fn set_targets(&self, world: &mut PhysicsWorld, targets: &EcmJoints, velocities: &EcmJoints) {
        for i in 0..ECM_DOF {
            chain::set_servo(world, self.joints[i], self.axes[i], &self.servos[i], self.kinematics.limits[i], targets[i], velocities[i]);
        }
    }

    /// Every body of the ECM that moves: DH frames 1..=4.
    pub fn moving_bodies(&self) -> impl Iterator<Item = RigidBodyHandle> + '_ {
        self.bodies[1..].iter().copied()
    }

    /// World pose of the body of DH frame `frame` (1..=4).
    pub fn link_pose(&self, world: &PhysicsWorld, frame: usize) -> Isometry3<f64> {
        from_pose(world.bodies[self.bodies[frame]].position())
    }

    /// The endoscope tip's pose (DH frame 4: z along the view) in the world frame, as simulated.
    pub fn tip_pose(&self, world: &PhysicsWorld) -> Isometry3<f64> {
        self.link_pose(world, ECM_DOF)
    }

    /// The tip's pose in the ECM's base frame, as simulated.
    pub fn tip_pose_base(&self, world: &PhysicsWorld) -> Isometry3<f64> {
        self.world_from_base.inverse() * self.tip_pose(world)
    }

    /// The camera frame (x right, y down in the image, z along the view) in the world frame, as simulated.
    pub fn camera_pose(&self, world: &PhysicsWorld) -> Isometry3<f64> {
        self.tip_pose(world) * self.camera.mount()
    }

    /// Whether every link pose and joint coordinate is still finite.
    pub fn is_finite(&self, world: &PhysicsWorld) -> bool {
        self.bodies.iter().all(|&h| {
            let p = world.bodies[h].position();
            p.translation.is_finite() && p.rotation.is_finite()
        }) && self.joint_positions(world).iter().all(|v| v.is_finite())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rapier3d::na::{Translation3, UnitQuaternion};

    fn kin() -> EcmKinematics {
        EcmKinematics::new(&EcmDescription::ecm())
    }

    fn grid(lo: f64, hi: f64, n: usize) -> Vec<f64> {
        (0..n).map(|i| lo + (hi - lo) * i as f64 / (n - 1) as f64).collect()
    }

    #[test]
    fn published_parameters_and_the_zero_configuration() {
        let k = kin();
        // Limits: yaw ±90°, pitch −45° to 66.4°, insertion 0–0.254 m, roll ±90°.
        let deg = |v: f64| v.to_radians();
        let expected = [[deg(-90.0), deg(90.0)], [deg(-45.0), deg(66.4)], [0.0, 0.254], [deg(-90.0), deg(90.0)]];
        for i in 0..ECM_DOF {
            for b in 0..2 {
                assert!((k.limits[i][b] - expected[i][b]).abs() < 1e-12, "joint {i}");
            }
        }
        // The first two axes meet at the RCM; the shaft points along −z at q = 0,
        // and the camera tip lies q3 − 0.3822 + 0.3829 m along it.
        let q3 = 0.1;
        let f = k.frames(&[0.0, 0.0, q3, 0.0]);
        assert!(f[0].translation.vector.norm() < 1e-12 && f[1].translation.vector.norm() < 1e-12);
        let view = f[3].rotation * Vector3::z();
        assert!((view - Vector3::new(0.0, 0.0, -1.0)).norm() < 1e-12);
        let tip = f[3].translation.vector;
        assert!((tip - Vector3::new(0.0, 0.0, -(q3 - 0.3822 + 0.3829))).norm() < 1e-12, "tip {tip:?}");
    }

    #[test]
    fn inverse_recovers_forward_over_a_joint_grid() {
        let k = kin();
        let inner = |i: usize| {
            let [lo, hi] = k.limits[i];
            let m = 0.02 * (hi - lo);
            (lo + m, hi - m)
        };
        let mut worst_m: f64 = 0.0;
        let mut count = 0;
        for &q1 in &grid(inner(0).0, inner(0).1, 7) {
            for &q2 in &grid(inner(1).0, inner(1).1, 7) {
                // The camera well past the RCM.
                for &q3 in &grid(0.03, 0.25, 5) {
                    for &q4 in &grid(inner(3).0, inner(3).1, 7) {
                        let q = [q1, q2, q3, q4];
                        let pose = k.forward(&q);
                        let sol = k.inverse(&pose, &[0.0; ECM_DOF]).unwrap_or_else(|e| panic!("IK failed for {q:?}: {e}"));
                        let (dp, dr) = k.pose_error(&pose, &sol);
                        worst_m = worst_m.max(dp);
                        assert!(dr < 1e-9, "q {q:?}: orientation error {dr} rad");
                        count += 1;
                    }
                }
            }
        }
        assert_eq!(count, 7 * 7 * 5 * 7);
        assert!(worst_m * 1e3 < 0.01, "worst IK(FK) error {} mm", worst_m * 1e3);
    }

    #[test]
    fn inverse_refuses_views_that_miss_the_rcm_and_poses_out_of_reach() {
        let k = kin();
        let q = [0.3, 0.2, 0.15, 0.4];
        let pose = k.forward(&q);
        // Turning the view axis off the shaft line: four joints cannot do it.
        let tilted = Isometry3::from_parts(pose.translation, pose.rotation * UnitQuaternion::from_axis_angle(&Vector3::x_axis(), 0.2));
        assert!(matches!(k.inverse(&tilted, &q), Err(IkError::NoSolution { .. })));
        // A roll past ±90°.
        let rolled = k.forward(&[0.3, 0.2, 0.15, 0.0]) * UnitQuaternion::from_axis_angle(&Vector3::z_axis(), 2.0);
        assert!(matches!(k.inverse(&rolled, &q), Err(IkError::OutsideLimits { .. })));
        // Deeper than the insertion allows.
        let deep = Isometry3::from_parts(Translation3::new(0.0, 0.0, -0.4), pose.rotation);
        assert!(k.inverse(&deep, &q).is_err());
        let nan = Isometry3::from_parts(Translation3::new(f64::NAN, 0.0, -0.1), pose.rotation);
        assert_eq!(k.inverse(&nan, &q), Err(IkError::NotFinite));
    }

    #[test]
    fn jacobian_matches_finite_differences() {
        let k = kin();
        let q = [0.3, -0.2, 0.15, 0.4];
        let jac = k.jacobian(&q);
        let h = 1e-6;
        for i in 0..ECM_DOF {
            let mut qp = q;
            qp[i] += h;
            let dp = (k.forward(&qp).translation.vector - k.forward(&q).translation.vector) / h;
            for r in 0..3 {
                assert!((dp[r] - jac[(r, i)]).abs() < 1e-5, "joint {i} row {r}");
            }
        }
    }
}
