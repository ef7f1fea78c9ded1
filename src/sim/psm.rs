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

/// Number of simulated joints: the six arm joints and the two jaw blades.
pub const SIM_JOINTS: usize = ARM_DOF + 2;

/// Handles of the instrument inside a rapier world.
#[derive(Clone, Debug)]
pub struct Psm {
    pub kinematics: PsmKinematics,
    /// World pose of the robot base frame (its origin is the RCM).
    pub world_from_base: Isometry3<f64>,
    /// The fixed base body, then one body per DH frame 1..=6.
    pub bodies: [RigidBodyHandle; ARM_DOF + 1],
    /// The jaw blades: on the +x6 side, then on the −x6 side of the tool axis.
    pub jaws: [RigidBodyHandle; 2],
    /// The collider of each body in `bodies[1..]`, then of each blade.
    pub colliders: [ColliderHandle; SIM_JOINTS],
    /// Arm joints 1..=6, then the two blades' hinges.
    pub joints: [MultibodyJointHandle; SIM_JOINTS],
    /// The shape of each body in `bodies[1..]`, then of each blade (the viewer draws them).
    pub shapes: Vec<LinkShape>,
    axes: [JointAxis; SIM_JOINTS],
    servos: [Servo; SIM_JOINTS],
    limits: [[f64; 2]; SIM_JOINTS],
}

/// The rotation that maps rapier's joint axis (local x) onto the DH z axis.
fn x_to_z() -> Isometry3<f64> {
    Isometry3::rotation(Vector3::y() * -std::f64::consts::FRAC_PI_2)
}

fn link_collider(shape: &LinkShape) -> ColliderBuilder {
    match shape {
        LinkShape::Box { half_extents: h, center: c, mass } => {
            ColliderBuilder::cuboid(h[0] as f32, h[1] as f32, h[2] as f32).translation(Vector::new(c[0] as f32, c[1] as f32, c[2] as f32)).mass(*mass as f32)
        }
        LinkShape::Cylinder { radius, half_length, center: c, mass } => {
            // rapier's cylinder runs along y; the description's along z.
            let pose =
                Isometry3::from_parts(Vector3::new(c[0], c[1], c[2]).into(), UnitQuaternion::from_axis_angle(&Vector3::x_axis(), std::f64::consts::FRAC_PI_2));
            ColliderBuilder::cylinder(*half_length as f32, *radius as f32).position(to_pose(&pose)).mass(*mass as f32)
        }
    }
}

impl Psm {
    /// Adds the instrument to `world`, at joint configuration `q0`.
    pub fn build(world: &mut PhysicsWorld, desc: &RobotDescription, physics: &PhysicsConfig, world_from_base: Isometry3<f64>, q0: &Joints) -> Self {
        let kinematics = PsmKinematics::new(desc);
        let base = world.bodies.insert(RigidBodyBuilder::fixed().pose(to_pose(&world_from_base)));
        let gravity = physics.gravity * physics.gravity_compensation;
        let groups = if physics.arm_contacts { InteractionGroups::new(ARM_GROUP, SCENE_GROUP, InteractionTestMode::And) } else { InteractionGroups::none() };

        // (parent index into `sim_bodies`, anchor on the parent, kind, shape, servo, limits, armature, friction)
        struct Spec {
            parent: usize,
            anchor: Isometry3<f64>,
            kind: JointKind,
            shape: LinkShape,
            servo: Servo,
            limits: [f64; 2],
            armature: f64,
            friction: Option<f64>,
        }
        let mut specs: Vec<Spec> = (0..ARM_DOF)
            .map(|i| {
                let j = &desc.joints[i];
                Spec {
                    parent: i,
                    anchor: kinematics.joint_zero_transform(i),
                    kind: j.kind,
                    shape: j.link.clone(),
                    servo: j.servo,
                    limits: j.limits_si(),
                    armature: j.armature,
                    friction: None,
                }
            })
            .collect();
        let jaw = &desc.jaw;
        let [open_lo, open_hi] = jaw.limits_si();
        for side in [1.0, -1.0] {
            // Hinge angle about z6 = −side × opening / 2: a turn about z6
            // swings a blade's tip (on +y6) toward −x6, so the +x6 blade
            // opens with a negative angle and the −x6 one with a positive angle.
            // The blades meet at a zero opening: a negative command squeezes
            // (the servo saturates against this stop, or on an object), as
            // the dVRK's jaw goes to −20° to grip.
            let half = [open_lo.max(0.0) / 2.0, open_hi / 2.0];
            let limits = if side > 0.0 { [-half[1], -half[0]] } else { half };
            specs.push(Spec {
                parent: ARM_DOF,
                anchor: Isometry3::identity(),
                kind: JointKind::Revolute,
                shape: jaw.blade(side),
                servo: jaw.blade_servo(),
                limits,
                armature: jaw.armature,
                friction: Some(jaw.friction),
            });
        }

        let mut sim_bodies = vec![base];
        let mut frames = vec![world_from_base];
        let mut colliders = Vec::with_capacity(SIM_JOINTS);
        let mut joints = Vec::with_capacity(SIM_JOINTS);
        let mut axes = [JointAxis::AngX; SIM_JOINTS];
        for (i, spec) in specs.iter().enumerate() {
            let frame = frames[spec.parent] * spec.anchor;
            let body = world.bodies.insert(
                RigidBodyBuilder::dynamic()
                    .pose(to_pose(&frame))
                    // A sleeping body makes benchmarks lie and would miss new targets.
                    .can_sleep(false),
            );
            // Model-based gravity compensation: the controller cancels the link's
            // weight. rapier keeps user forces from step to step.
            world.bodies[body].add_force(Vector::new(0.0, (spec.shape.mass() * gravity) as f32, 0.0), false);
            let mut collider = link_collider(&spec.shape).collision_groups(groups);
            if let Some(mu) = spec.friction {
                collider = collider.friction(mu as f32);
            }
            colliders.push(world.colliders.insert_with_parent(collider, body, &mut world.bodies));

            let (mask, axis) = match spec.kind {
                JointKind::Revolute => (JointAxesMask::LOCKED_REVOLUTE_AXES, JointAxis::AngX),
                JointKind::Prismatic => (JointAxesMask::LOCKED_PRISMATIC_AXES, JointAxis::LinX),
            };
            let [lo, hi] = spec.limits;
            let joint = GenericJointBuilder::new(mask)
                .local_frame1(to_pose(&(spec.anchor * x_to_z())))
                .local_frame2(to_pose(&x_to_z()))
                .limits(axis, [lo as f32, hi as f32])
                .motor_model(axis, MotorModel::ForceBased)
                .motor_max_force(axis, spec.servo.max_force as f32)
                // Links overlap at their joints; contacts there would blow up.
                .contacts_enabled(false)
                .build();
            let handle = world.multibody_joints.insert(sim_bodies[spec.parent], body, joint, true).expect("a tree of links is a valid multibody");
            sim_bodies.push(body);
            frames.push(frame);
            joints.push(handle);
            axes[i] = axis;
        }

        let psm = Psm {
            kinematics,
            world_from_base,
            bodies: std::array::from_fn(|i| sim_bodies[i]),
            jaws: [sim_bodies[ARM_DOF + 1], sim_bodies[ARM_DOF + 2]],
            colliders: colliders.try_into().unwrap(),
            joints: joints.try_into().unwrap(),
            shapes: specs.iter().map(|s| s.shape.clone()).collect(),
            axes,
            servos: std::array::from_fn(|i| specs[i].servo),
            limits: std::array::from_fn(|i| specs[i].limits),
        };
        let armatures: [f64; SIM_JOINTS] = std::array::from_fn(|i| specs[i].armature);
        let q = psm.sim_joints(q0);
        psm.place(world, &q, &armatures);
        psm.set_targets(world, q0, &[0.0; DOF]);
        psm
    }

    /// Simulated joint values for instrument joints `q`: the jaw angle split
    /// between the two blades.
    fn sim_joints(&self, q: &Joints) -> [f64; SIM_JOINTS] {
        std::array::from_fn(|i| match i {
            _ if i < ARM_DOF => q[i],
            _ if i == ARM_DOF => -q[ARM_DOF] / 2.0,
            _ => q[ARM_DOF] / 2.0,
        })
    }

    /// Puts the multibody at configuration `q` at rest and sets the joints'
    /// armature: done once, when an episode starts, never during one.
    fn place(&self, world: &mut PhysicsWorld, q: &[f64; SIM_JOINTS], armatures: &[f64; SIM_JOINTS]) {
        let (mb, _) = world.multibody_joints.get_mut(self.joints[0]).unwrap();
        // The root starts as a free joint until rapier sees that its body is
        // fixed; settle that first so the coordinates are the 7 joint values.
        mb.forward_kinematics(&world.bodies, true);
        assert_eq!(mb.ndofs(), SIM_JOINTS, "the instrument multibody has one coordinate per joint");
        let mut disp = vec![0.0f32; SIM_JOINTS];
        for i in 0..SIM_JOINTS {
            let (mb, link) = world.multibody_joints.get_mut(self.joints[i]).unwrap();
            let id = mb.link(link).unwrap().assembly_id();
            disp[id] = q[i] as f32;
            mb.armature_mut()[id] = armatures[i] as f32;
            if i >= ARM_DOF {
                // rapier gives every revolute coordinate a default damping of
                // 0.1 N·m·s/rad: on a blade that is 200× its servo's and holds
                // the force-limited jaw to a crawl. The servo damps the blades.
                mb.damping_mut()[id] = 0.0;
            }
        }
        let (mb, _) = world.multibody_joints.get_mut(self.joints[0]).unwrap();
        mb.apply_displacements(&disp);
        mb.forward_kinematics(&world.bodies, false);
        mb.update_rigid_bodies(&mut world.bodies, true);
    }

    /// Each simulated joint's coordinate.
    fn sim_positions(&self, world: &PhysicsWorld) -> [f64; SIM_JOINTS] {
        std::array::from_fn(|i| {
            let (mb, link) = world.multibody_joints.get(self.joints[i]).unwrap();
            let coords = mb.link(link).unwrap().joint.coords();
            coords[self.axes[i] as usize] as f64
        })
    }

    /// Joint positions read from the multibody: the arm joints, then the jaw
    /// angle (the opening between the blades).
    pub fn joint_positions(&self, world: &PhysicsWorld) -> Joints {
        let q = self.sim_positions(world);
        std::array::from_fn(|i| if i < ARM_DOF { q[i] } else { q[ARM_DOF + 1] - q[ARM_DOF] })
    }

    /// Each blade's angle (rad): positive opens.
    pub fn blade_angles(&self, world: &PhysicsWorld) -> [f64; 2] {
        let q = self.sim_positions(world);
        [-q[ARM_DOF], q[ARM_DOF + 1]]
    }

    /// Joint velocities read from the multibody (the jaw's is the opening rate).
    pub fn joint_velocities(&self, world: &PhysicsWorld) -> Joints {
        let (mb, _) = world.multibody_joints.get(self.joints[0]).unwrap();
        let v = mb.generalized_velocity();
        let id = |i: usize| {
            let (mb, link) = world.multibody_joints.get(self.joints[i]).unwrap();
            mb.link(link).unwrap().assembly_id()
        };
        std::array::from_fn(|i| if i < ARM_DOF { v[id(i)] as f64 } else { (v[id(ARM_DOF + 1)] - v[id(ARM_DOF)]) as f64 })
    }

    /// Sets every servo's position target (clamped to the joint limits) and
    /// velocity feed-forward; the jaw target is split between the blades.
    /// Call it before every physics step: the blades' targets are kept near
    /// where the blades are (see below), so they advance step by step.
    pub fn set_targets(&self, world: &mut PhysicsWorld, targets: &Joints, velocities: &Joints) {
        let mut targets = self.sim_joints(targets);
        let velocities = self.sim_joints(velocities);
        // The blades' targets stay within grip/stiffness of where the blades
        // are, so that their spring never asks for more than the grip force:
        // squeezing an object, the servo then holds exactly the grip force
        // with its damping still active. A servo saturated far past the
        // object (a target of −10° on a needle held at +3°) presses with a
        // constant torque that no damping opposes: the blades chatter and
        // ratchet a light needle out of the jaws.
        let now = self.sim_positions(world);
        for i in ARM_DOF..SIM_JOINTS {
            let s = &self.servos[i];
            let reach = s.max_force / s.stiffness;
            let limited = targets[i].clamp(now[i] - reach, now[i] + reach);
            targets[i] = limited;
        }
        for i in 0..SIM_JOINTS {
            let [lo, hi] = self.limits[i];
            let target = targets[i].clamp(lo, hi);
            let s = &self.servos[i];
            let (mb, link) = world.multibody_joints.get_mut(self.joints[i]).unwrap();
            mb.link_mut(link).unwrap().joint.data.set_motor(self.axes[i], target as f32, velocities[i] as f32, s.stiffness as f32, s.damping as f32);
        }
    }

    /// Every body of the instrument that moves: DH frames 1..=6, then the blades.
    pub fn moving_bodies(&self) -> impl Iterator<Item = RigidBodyHandle> + '_ {
        self.bodies[1..].iter().chain(&self.jaws).copied()
    }

    /// World pose of the body of DH frame `frame` (1..=6).
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
        self.bodies.iter().chain(&self.jaws).all(|&h| {
            let p = world.bodies[h].position();
            p.translation.is_finite() && p.rotation.is_finite()
        }) && self.joint_positions(world).iter().all(|v| v.is_finite())
    }

    /// The arm part of a full joint vector.
    pub fn arm(q: &Joints) -> ArmJoints {
        std::array::from_fn(|i| q[i])
    }

    /// Limits of the arm joints and of the jaw angle (SI units).
    pub fn joint_limits(&self) -> [[f64; 2]; DOF] {
        std::array::from_fn(|i| if i < ARM_DOF { self.limits[i] } else { [self.limits[ARM_DOF + 1][0] * 2.0, self.limits[ARM_DOF + 1][1] * 2.0] })
    }

    pub fn to_world_vector(&self, v: &Vector3<f64>) -> Vector {
        to_vector(&(self.world_from_base.rotation * v))
    }
}
