//! A serial chain of motor-driven links as a rapier multibody: what the PSM
//! and the ECM are both built from. Each link is one rigid body; joint `i`
//! joins its parent's body to link `i`'s, anchored at the constant part of
//! its DH transform, so the multibody's joint coordinate *is* the dVRK joint
//! value.

use rapier3d::na::{Isometry3, UnitQuaternion, Vector3};
use rapier3d::prelude::*;

use super::convert::to_pose;
use super::description::{JointKind, LinkShape, Servo};

/// One link of a chain and the joint that moves it.
#[derive(Clone, Debug)]
pub struct LinkSpec {
    /// Index into the chain's bodies (0 = the fixed base, i + 1 = link i).
    pub parent: usize,
    /// The joint's frame on the parent (its DH transform at q = 0).
    pub anchor: Isometry3<f64>,
    pub kind: JointKind,
    pub shape: LinkShape,
    pub servo: Servo,
    /// SI units.
    pub limits: [f64; 2],
    pub armature: f64,
    /// Surface friction of the link's collider (rapier's default if `None`).
    pub friction: Option<f64>,
}

/// Handles of a built chain.
pub struct BuiltChain {
    /// The fixed base body, then one body per link.
    pub bodies: Vec<RigidBodyHandle>,
    /// One collider per link (`ColliderHandle::invalid()` for links built
    /// with `InteractionGroups::none()`: they have no collider).
    pub colliders: Vec<ColliderHandle>,
    pub joints: Vec<MultibodyJointHandle>,
    /// The rapier axis each joint moves along or about.
    pub axes: Vec<JointAxis>,
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

/// Adds a fixed base at `world_from_base` and the links of `specs` (each
/// after its parent), all at q = 0. `gravity` is the part of g (m/s²) the
/// controller's model-based compensation cancels on every link.
pub fn build(world: &mut PhysicsWorld, world_from_base: Isometry3<f64>, specs: &[LinkSpec], groups: InteractionGroups, gravity: f64) -> BuiltChain {
    let base = world.bodies.insert(RigidBodyBuilder::fixed().pose(to_pose(&world_from_base)));
    let mut bodies = vec![base];
    let mut frames = vec![world_from_base];
    let mut colliders = Vec::with_capacity(specs.len());
    let mut joints = Vec::with_capacity(specs.len());
    let mut axes = Vec::with_capacity(specs.len());
    for spec in specs {
        let frame = frames[spec.parent] * spec.anchor;
        let mut collider = link_collider(&spec.shape).collision_groups(groups);
        if let Some(mu) = spec.friction {
            collider = collider.friction(mu as f32);
        }
        // A link that touches nothing needs no collider, only its mass: a
        // collider would still be moved through the broad phase every substep.
        let touches = groups != InteractionGroups::none();
        let mut body = RigidBodyBuilder::dynamic()
            .pose(to_pose(&frame))
            // A sleeping body makes benchmarks lie and would miss new targets.
            .can_sleep(false);
        if !touches {
            let built = collider.build();
            let local = built.position_wrt_parent().copied().unwrap_or_else(|| *built.position());
            body = body.additional_mass_properties(built.mass_properties().transform_by(&local));
        }
        let body = world.bodies.insert(body);
        // Model-based gravity compensation: the controller cancels the link's
        // weight. rapier keeps user forces from step to step.
        world.bodies[body].add_force(Vector::new(0.0, (spec.shape.mass() * gravity) as f32, 0.0), false);
        if touches {
            colliders.push(world.colliders.insert_with_parent(collider, body, &mut world.bodies));
        } else {
            colliders.push(ColliderHandle::invalid());
        }

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
        let handle = world.multibody_joints.insert(bodies[spec.parent], body, joint, true).expect("a tree of links is a valid multibody");
        bodies.push(body);
        frames.push(frame);
        joints.push(handle);
        axes.push(axis);
    }
    BuiltChain { bodies, colliders, joints, axes }
}

/// Puts the chain at coordinates `q` at rest and sets each joint's armature;
/// joints for which `undamped` holds lose rapier's default coordinate
/// damping. Done once, when an episode starts, never during one.
pub fn place(world: &mut PhysicsWorld, joints: &[MultibodyJointHandle], q: &[f64], armatures: &[f64], undamped: impl Fn(usize) -> bool) {
    let (mb, _) = world.multibody_joints.get_mut(joints[0]).unwrap();
    // The root starts as a free joint until rapier sees that its body is
    // fixed; settle that first so the coordinates are the joint values.
    mb.forward_kinematics(&world.bodies, true);
    assert_eq!(mb.ndofs(), joints.len(), "the multibody has one coordinate per joint");
    let mut disp = vec![0.0f32; joints.len()];
    for i in 0..joints.len() {
        let (mb, link) = world.multibody_joints.get_mut(joints[i]).unwrap();
        let id = mb.link(link).unwrap().assembly_id();
        disp[id] = q[i] as f32;
        mb.armature_mut()[id] = armatures[i] as f32;
        if undamped(i) {
            mb.damping_mut()[id] = 0.0;
        }
    }
    let (mb, _) = world.multibody_joints.get_mut(joints[0]).unwrap();
    mb.apply_displacements(&disp);
    mb.forward_kinematics(&world.bodies, false);
    mb.update_rigid_bodies(&mut world.bodies, true);
}

/// A joint's coordinate.
pub fn coordinate(world: &PhysicsWorld, joint: MultibodyJointHandle, axis: JointAxis) -> f64 {
    let (mb, link) = world.multibody_joints.get(joint).unwrap();
    mb.link(link).unwrap().joint.coords()[axis as usize] as f64
}

/// A joint's coordinate velocity.
pub fn velocity(world: &PhysicsWorld, joint: MultibodyJointHandle) -> f64 {
    let (mb, link) = world.multibody_joints.get(joint).unwrap();
    mb.generalized_velocity()[mb.link(link).unwrap().assembly_id()] as f64
}

/// Sets a joint's servo: position target (clamped to `limits`), velocity
/// feed-forward and PD gains.
pub fn set_servo(world: &mut PhysicsWorld, joint: MultibodyJointHandle, axis: JointAxis, servo: &Servo, limits: [f64; 2], target: f64, velocity: f64) {
    let target = target.clamp(limits[0], limits[1]);
    let (mb, link) = world.multibody_joints.get_mut(joint).unwrap();
    mb.link_mut(link).unwrap().joint.data.set_motor(axis, target as f32, velocity as f32, servo.stiffness as f32, servo.damping as f32);
}
