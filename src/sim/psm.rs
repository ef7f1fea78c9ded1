//! The PSM as a rapier reduced-coordinate multibody driven by joint motors.
//!
//! Each DH frame is one rigid body. Joint `i` joins body `i` (frame `i`) to
//! body `i + 1` (frame `i + 1`); its anchor on the parent is the constant part
//! of the DH transform, so the multibody's joint coordinate *is* the dVRK
//! joint value. The jaw is a seventh revolute joint about the tip's z axis.

use rapier3d::na::{Isometry3, UnitQuaternion, Vector3};
use rapier3d::prelude::*;

use super::convert::{from_pose, to_pose, to_vector};
use super::description::{JointKind, LinkShape, RobotDescription, Servo};
use super::kinematics::{ARM_DOF, ArmJoints, PsmKinematics};
use super::physics::PhysicsConfig;

/// Arm joints plus the jaw.
pub const DOF: usize = ARM_DOF + 1;

/// Joint positions or targets of the whole instrument: the six arm joints, then the jaw.
pub type Joints = [f64; DOF];

/// Collision group of the instrument's links.
pub const ARM_GROUP: Group = Group::GROUP_1;
/// Collision group of scene objects (tray, needle, ...).
pub const SCENE_GROUP: Group = Group::GROUP_2;

/// Handles of the instrument inside a rapier world.
#[derive(Clone, Debug)]
pub struct Psm {
    pub kinematics: PsmKinematics,
    /// World pose of the robot base frame (its origin is the RCM).
    pub world_from_base: Isometry3<f64>,
    /// The fixed base body, then one body per DH frame 1..=6, then the jaw.
    pub bodies: [RigidBodyHandle; DOF + 1],
    pub joints: [MultibodyJointHandle; DOF],
    axes: [JointAxis; DOF],
    servos: [Servo; DOF],
    limits: [[f64; 2]; DOF],
}

/// The rotation that maps rapier's joint axis (local x) onto the DH z axis.
fn x_to_z() -> Isometry3<f64> {
    Isometry3::rotation(Vector3::y() * -std::f64::consts::FRAC_PI_2)
}

fn link_collider(shape: &LinkShape) -> ColliderBuilder {
    match shape {
        LinkShape::Box { half_extents: h, center: c, mass } => {
            ColliderBuilder::cuboid(h[0] as f32, h[1] as f32, h[2] as f32)
                .translation(Vector::new(c[0] as f32, c[1] as f32, c[2] as f32))
                .mass(*mass as f32)
        }
        LinkShape::Cylinder { radius, half_length, center: c, mass } => {
            // rapier's cylinder runs along y; the description's along z.
            let pose = Isometry3::from_parts(
                Vector3::new(c[0], c[1], c[2]).into(),
                UnitQuaternion::from_axis_angle(&Vector3::x_axis(), std::f64::consts::FRAC_PI_2),
            );
            ColliderBuilder::cylinder(*half_length as f32, *radius as f32)
                .position(to_pose(&pose))
                .mass(*mass as f32)
        }
    }
}

impl Psm {
    /// Adds the instrument to `world`, at joint configuration `q0`.
    pub fn build(
        world: &mut PhysicsWorld,
        desc: &RobotDescription,
        physics: &PhysicsConfig,
        world_from_base: Isometry3<f64>,
        q0: &Joints,
    ) -> Self {
        let kinematics = PsmKinematics::new(desc);
        let base = world
            .bodies
            .insert(RigidBodyBuilder::fixed().pose(to_pose(&world_from_base)));

        let mut bodies = [base; DOF + 1];
        let mut joints = Vec::with_capacity(DOF);
        let mut axes = [JointAxis::AngX; DOF];
        let mut servos = [desc.jaw.servo; DOF];
        let mut limits = [[0.0; 2]; DOF];
        let mut armatures = [0.0; DOF];
        let gravity = physics.gravity * physics.gravity_compensation;

        let mut frame = world_from_base;
        for i in 0..DOF {
            let (anchor, kind, shape, servo, lim, armature) = if i < ARM_DOF {
                let j = &desc.joints[i];
                (kinematics.joint_zero_transform(i), j.kind, &j.link, j.servo, j.limits_si(), j.armature)
            } else {
                let j = &desc.jaw;
                (Isometry3::identity(), JointKind::Revolute, &j.link, j.servo, j.limits_si(), j.armature)
            };
            frame *= anchor;
            let body = world.bodies.insert(
                RigidBodyBuilder::dynamic()
                    .pose(to_pose(&frame))
                    // A sleeping body makes benchmarks lie and would miss new targets.
                    .can_sleep(false),
            );
            // Model-based gravity compensation: the controller cancels the link's
            // weight. rapier keeps user forces from step to step.
            world.bodies[body].add_force(Vector::new(0.0, (shape.mass() * gravity) as f32, 0.0), false);
            let collider = link_collider(shape).collision_groups(if physics.arm_contacts {
                InteractionGroups::new(ARM_GROUP, SCENE_GROUP, InteractionTestMode::And)
            } else {
                InteractionGroups::none()
            });
            world.colliders.insert_with_parent(collider, body, &mut world.bodies);

            let (mask, axis) = match kind {
                JointKind::Revolute => (JointAxesMask::LOCKED_REVOLUTE_AXES, JointAxis::AngX),
                JointKind::Prismatic => (JointAxesMask::LOCKED_PRISMATIC_AXES, JointAxis::LinX),
            };
            let joint = GenericJointBuilder::new(mask)
                .local_frame1(to_pose(&(anchor * x_to_z())))
                .local_frame2(to_pose(&x_to_z()))
                .limits(axis, [lim[0] as f32, lim[1] as f32])
                .motor_model(axis, MotorModel::ForceBased)
                .motor_position(axis, q0[i] as f32, servo.stiffness as f32, servo.damping as f32)
                .motor_max_force(axis, servo.max_force as f32)
                // Links overlap at their joints; contacts there would blow up.
                .contacts_enabled(false)
                .build();
            let handle = world
                .multibody_joints
                .insert(bodies[i], body, joint, true)
                .expect("a serial chain is a valid multibody");
            bodies[i + 1] = body;
            joints.push(handle);
            axes[i] = axis;
            servos[i] = servo;
            limits[i] = lim;
            armatures[i] = armature;
        }

        let psm = Psm {
            kinematics,
            world_from_base,
            bodies,
            joints: joints.try_into().unwrap(),
            axes,
            servos,
            limits,
        };
        psm.place(world, q0, &armatures);
        psm
    }

    /// Puts the multibody at configuration `q` at rest and sets the joints'
    /// armature: done once, when an episode starts, never during one.
    fn place(&self, world: &mut PhysicsWorld, q: &Joints, armatures: &Joints) {
        let (mb, _) = world.multibody_joints.get_mut(self.joints[0]).unwrap();
        // The root starts as a free joint until rapier sees that its body is
        // fixed; settle that first so the coordinates are the 7 joint values.
        mb.forward_kinematics(&world.bodies, true);
        assert_eq!(mb.ndofs(), DOF, "the instrument multibody has one coordinate per joint");
        let mut disp = vec![0.0f32; DOF];
        for i in 0..DOF {
            let (mb, link) = world.multibody_joints.get_mut(self.joints[i]).unwrap();
            let id = mb.link(link).unwrap().assembly_id();
            disp[id] = q[i] as f32;
            mb.armature_mut()[id] = armatures[i] as f32;
        }
        let (mb, _) = world.multibody_joints.get_mut(self.joints[0]).unwrap();
        mb.apply_displacements(&disp);
        mb.forward_kinematics(&world.bodies, false);
        mb.update_rigid_bodies(&mut world.bodies, true);
    }

    /// Joint positions read from the multibody.
    pub fn joint_positions(&self, world: &PhysicsWorld) -> Joints {
        std::array::from_fn(|i| {
            let (mb, link) = world.multibody_joints.get(self.joints[i]).unwrap();
            let coords = mb.link(link).unwrap().joint.coords();
            coords[self.axes[i] as usize] as f64
        })
    }

    /// Joint velocities read from the multibody.
    pub fn joint_velocities(&self, world: &PhysicsWorld) -> Joints {
        let (mb, _) = world.multibody_joints.get(self.joints[0]).unwrap();
        let v = mb.generalized_velocity();
        std::array::from_fn(|i| v[i] as f64)
    }

    /// Sets every servo's position target (clamped to the joint limits) and
    /// velocity feed-forward.
    pub fn set_targets(&self, world: &mut PhysicsWorld, targets: &Joints, velocities: &Joints) {
        for i in 0..DOF {
            let [lo, hi] = self.limits[i];
            let target = targets[i].clamp(lo, hi);
            let s = &self.servos[i];
            let (mb, link) = world.multibody_joints.get_mut(self.joints[i]).unwrap();
            mb.link_mut(link).unwrap().joint.data.set_motor(
                self.axes[i],
                target as f32,
                velocities[i] as f32,
                s.stiffness as f32,
                s.damping as f32,
            );
        }
    }

    /// World pose of the body of DH frame `frame` (1..=6) or the jaw (7).
    pub fn link_pose(&self, world: &PhysicsWorld, frame: usize) -> Isometry3<f64> {
        from_pose(world.bodies[self.bodies[frame]].position())
    }

    /// Tool tip pose (DH frame 6) in the world frame, as simulated.
    pub fn tip_pose(&self, world: &PhysicsWorld) -> Isometry3<f64> {
        self.link_pose(world, ARM_DOF)
    }

    /// Tool tip pose in the robot base frame, as simulated.
    pub fn tip_pose_base(&self, world: &PhysicsWorld) -> Isometry3<f64> {
        self.world_from_base.inverse() * self.tip_pose(world)
    }

    /// Whether every link pose and joint coordinate is still finite.
    pub fn is_finite(&self, world: &PhysicsWorld) -> bool {
        self.bodies.iter().all(|&h| {
            let p = world.bodies[h].position();
            p.translation.is_finite() && p.rotation.is_finite()
        }) && self.joint_positions(world).iter().all(|v| v.is_finite())
    }

    /// The arm part of a full joint vector.
    pub fn arm(q: &Joints) -> ArmJoints {
        std::array::from_fn(|i| q[i])
    }

    pub fn joint_limits(&self) -> &[[f64; 2]; DOF] {
        &self.limits
    }

    pub fn to_world_vector(&self, v: &Vector3<f64>) -> Vector {
        to_vector(&(self.world_from_base.rotation * v))
    }
}
