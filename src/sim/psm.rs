//! The PSM as a rapier reduced-coordinate multibody driven by joint motors.
//!
//! Each DH frame is one rigid body. Joint `i` joins body `i` (frame `i`) to
//! body `i + 1` (frame `i + 1`); its anchor on the parent is the constant part
//! of the DH transform, so the multibody's joint coordinate *is* the dVRK
//! joint value. The jaw is a seventh revolute joint about the tip's z axis.

use rapier3d::na::{Isometry3, Vector3};
use rapier3d::prelude::*;

use super::chain::{self, LinkSpec};
use super::convert::{from_pose, to_vector};
use super::description::{JointKind, LinkShape, RobotDescription, Servo};
use super::kinematics::{ARM_DOF, ArmJoints, PsmKinematics};
use super::physics::PhysicsConfig;

/// Arm joints plus the jaw.
pub const DOF: usize = ARM_DOF + 1;

/// Joint positions or targets of the whole instrument: the six arm joints, then the jaw.
pub type Joints = [f64; DOF];

/// Collision group of the (first) instrument's links.
pub const ARM_GROUP: Group = Group::GROUP_1;
/// Collision group of scene objects (tray, needle, ...).
pub const SCENE_GROUP: Group = Group::GROUP_2;
/// One collision group per instrument of an env, in the order of its
/// instruments: an instrument's links touch the scene and the other
/// instruments, never each other (joined links overlap at their hinges).
pub const INSTRUMENT_GROUPS: [Group; 3] = [ARM_GROUP, Group::GROUP_3, Group::GROUP_4];
/// Every instrument's group: what the scene's colliders touch.
pub const ALL_INSTRUMENTS: Group = ARM_GROUP.union(Group::GROUP_3).union(Group::GROUP_4);

/// Collision groups of the links of instrument `slot` (its index among the
/// env's instruments) when `arm_contacts` is on: the scene and the other instruments.
pub fn instrument_groups(slot: usize, arm_contacts: bool) -> InteractionGroups {
    if !arm_contacts {
        return InteractionGroups::none();
    }
    let own = INSTRUMENT_GROUPS[slot];
    InteractionGroups::new(own, SCENE_GROUP | ALL_INSTRUMENTS.difference(own), InteractionTestMode::And)
}

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
    /// The collider of each body in `bodies[1..]`, then of each blade;
    /// `ColliderHandle::invalid()` when `physics.arm_contacts` is off: links
    /// that touch nothing get only their mass (see `chain::build`).
    pub colliders: [ColliderHandle; SIM_JOINTS],
    /// Arm joints 1..=6, then the two blades' hinges.
    pub joints: [MultibodyJointHandle; SIM_JOINTS],
    /// The shape of each body in `bodies[1..]`, then of each blade (the viewer draws them).
    pub shapes: Vec<LinkShape>,
    axes: [JointAxis; SIM_JOINTS],
    servos: [Servo; SIM_JOINTS],
    limits: [[f64; 2]; SIM_JOINTS],
}

impl Psm {
    /// Adds the instrument to `world`, at joint configuration `q0`, as an env's only (or first) instrument.
    pub fn build(world: &mut PhysicsWorld, desc: &RobotDescription, physics: &PhysicsConfig, world_from_base: Isometry3<f64>, q0: &Joints) -> Self {
        Self::build_in_slot(world, desc, physics, world_from_base, q0, 0)
    }

    /// [`Self::build`] for instrument `slot` of an env with several (see [`instrument_groups`]).
    pub fn build_in_slot(
        world: &mut PhysicsWorld,
        desc: &RobotDescription,
        physics: &PhysicsConfig,
        world_from_base: Isometry3<f64>,
        q0: &Joints,
        slot: usize,
    ) -> Self {
        let kinematics = PsmKinematics::new(desc);
        let gravity = physics.gravity * physics.gravity_compensation;
        let groups = instrument_groups(slot, physics.arm_contacts);
        let mut specs: Vec<LinkSpec> = (0..ARM_DOF)
            .map(|i| {
                let j = &desc.joints[i];
                LinkSpec {
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
            specs.push(LinkSpec {
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

        let chain = chain::build(world, world_from_base, &specs, groups, gravity);
        let sim_bodies = &chain.bodies;
        let colliders = chain.colliders;
        let joints = chain.joints;
        let psm = Psm {
            kinematics,
            world_from_base,
            bodies: std::array::from_fn(|i| sim_bodies[i]),
            jaws: [sim_bodies[ARM_DOF + 1], sim_bodies[ARM_DOF + 2]],
            colliders: colliders.try_into().unwrap(),
            joints: joints.try_into().unwrap(),
            shapes: specs.iter().map(|s| s.shape.clone()).collect(),
            axes: chain.axes.try_into().unwrap(),
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
        // rapier gives every revolute coordinate a default damping of
        // 0.1 N·m·s/rad: on a blade that is 200× its servo's and holds
        // the force-limited jaw to a crawl. The servo damps the blades.
        chain::place(world, &self.joints, q, armatures, |i| i >= ARM_DOF);
    }

    /// Each simulated joint's coordinate.
    fn sim_positions(&self, world: &PhysicsWorld) -> [f64; SIM_JOINTS] {
        std::array::from_fn(|i| chain::coordinate(world, self.joints[i], self.axes[i]))
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
        let v = |i: usize| chain::velocity(world, self.joints[i]);
        std::array::from_fn(|i| if i < ARM_DOF { v(i) } else { v(ARM_DOF + 1) - v(ARM_DOF) })
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
            chain::set_servo(world, self.joints[i], self.axes[i], &self.servos[i], self.limits[i], targets[i], velocities[i]);
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
