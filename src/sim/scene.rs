//! Static scene objects: the tray, its pad, pegs and the suture needle.

use rapier3d::na::{Isometry3, Point3, Vector3};
use rapier3d::prelude::*;

use super::convert::{to_pose, to_vector};
use super::psm::{ALL_INSTRUMENTS, SCENE_GROUP};

/// A curved suture needle: an arc of a circle lying flat, made of capsules.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NeedleShape {
    /// Radius of the needle's arc (m).
    pub arc_radius: f64,
    /// Angle the arc spans (degrees); 135° is a 3/8-circle needle.
    pub arc_deg: f64,
    /// Radius of the needle wire (m).
    pub wire_radius: f64,
}

impl NeedleShape {
    /// Points along the arc, in the needle frame (y up), with the arc's
    /// midpoint, the needle's centre, at the origin.
    pub fn arc_points(&self, segments: usize) -> Vec<Point3<f64>> {
        let half = self.arc_deg.to_radians() / 2.0;
        (0..=segments)
            .map(|i| {
                let t = -half + 2.0 * half * i as f64 / segments as f64;
                Point3::new(self.arc_radius * t.sin(), 0.0, self.arc_radius * (t.cos() - 1.0))
            })
            .collect()
    }
}

fn scene_groups() -> InteractionGroups {
    InteractionGroups::new(SCENE_GROUP, ALL_INSTRUMENTS | SCENE_GROUP, InteractionTestMode::And)
}

/// Adds a fixed box (world pose of its centre, half extents).
pub fn add_fixed_box(world: &mut PhysicsWorld, pose: &Isometry3<f64>, half_extents: Vector3<f64>) -> RigidBodyHandle {
    let body = world.bodies.insert(RigidBodyBuilder::fixed().pose(to_pose(pose)));
    let h = to_vector(&half_extents);
    world.colliders.insert_with_parent(ColliderBuilder::cuboid(h.x, h.y, h.z).collision_groups(scene_groups()), body, &mut world.bodies);
    body
}

/// Adds a fixed peg standing on the plane y = `base_y` at (x, z): a stack of
/// spheres one quarter radius apart, its top rounded (sphere–box contacts
/// are exact in parry; cylinder–box ones go through its general convex path).
pub fn add_fixed_peg(world: &mut PhysicsWorld, x: f64, z: f64, base_y: f64, radius: f64, height: f64) -> RigidBodyHandle {
    let body = world.bodies.insert(RigidBodyBuilder::fixed().pose(to_pose(&Isometry3::translation(x, base_y, z))));
    let span = (height - 2.0 * radius).max(0.0);
    let n = (span / (radius / 4.0)).ceil() as usize;
    for i in 0..=n {
        let y = radius + if n == 0 { 0.0 } else { span * i as f64 / n as f64 };
        world.colliders.insert_with_parent(
            ColliderBuilder::ball(radius as f32).translation(Vector::new(0.0, y as f32, 0.0)).collision_groups(scene_groups()),
            body,
            &mut world.bodies,
        );
    }
    body
}

/// Adds a fixed box that scene objects rest on but the instrument passes
/// into: a soft silicone training pad, whose give under the jaws we do not
/// model, so that the blades can close beneath a wire lying on it.
pub fn add_soft_pad(world: &mut PhysicsWorld, pose: &Isometry3<f64>, half_extents: Vector3<f64>, friction: f64) -> RigidBodyHandle {
    let body = world.bodies.insert(RigidBodyBuilder::fixed().pose(to_pose(pose)));
    let h = to_vector(&half_extents);
    world.colliders.insert_with_parent(
        ColliderBuilder::cuboid(h.x, h.y, h.z).friction(friction as f32).collision_groups(InteractionGroups::new(
            SCENE_GROUP,
            SCENE_GROUP,
            InteractionTestMode::And,
        )),
        body,
        &mut world.bodies,
    );
    body
}

/// Adds the needle as a fixed body at `pose` (its centre, world frame).
pub fn add_needle(world: &mut PhysicsWorld, pose: &Isometry3<f64>, shape: &NeedleShape) -> RigidBodyHandle {
    let body = world.bodies.insert(RigidBodyBuilder::fixed().pose(to_pose(pose)));
    let pts = shape.arc_points(NEEDLE_SEGMENTS);
    for w in pts.windows(2) {
        let collider = ColliderBuilder::capsule_from_endpoints(to_vector(&w[0].coords), to_vector(&w[1].coords), shape.wire_radius as f32)
            .collision_groups(scene_groups());
        world.colliders.insert_with_parent(collider, body, &mut world.bodies);
    }
    body
}

/// What a loose object is made of and how it moves.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectMaterial {
    /// Density (kg/m³); the mass follows from the shape.
    pub density_kg_m3: f64,
    /// Coulomb friction coefficient of its surface.
    pub friction: f64,
}

impl NeedleShape {
    /// Length of the needle's arc (m).
    pub fn arc_length(&self) -> f64 {
        self.arc_radius * self.arc_deg.to_radians()
    }

    /// Mass of a wire of this shape (kg).
    pub fn mass(&self, density_kg_m3: f64) -> f64 {
        density_kg_m3 * std::f64::consts::PI * self.wire_radius.powi(2) * self.arc_length()
    }
}

/// Adds the needle as a free body at `pose` (its centre, world frame): a
/// chain of overlapping spheres, one wire radius apart, whose masses add up
/// to the wire's. (parry's capsule–box manifolds reported contacts, with
/// impulses, while a blade was still 1.3 mm from a 1 mm capsule: the blades
/// pushed the needle away before touching it. Sphere–box contacts are exact.)
/// The spheres overlap so that the chain's waist between two of them is
/// 0.87 of the wire's radius. The body never sleeps, and sweeps its motion
/// (CCD) so that a fast blade cannot push it through the tray.
pub fn add_loose_needle(world: &mut PhysicsWorld, pose: &Isometry3<f64>, shape: &NeedleShape, material: &ObjectMaterial) -> RigidBodyHandle {
    let body = world.bodies.insert(RigidBodyBuilder::dynamic().pose(to_pose(pose)).can_sleep(false).ccd_enabled(true));
    let spheres = shape.sphere_count();
    let pts = shape.arc_points(spheres - 1);
    let sphere_mass = shape.mass(material.density_kg_m3) / spheres as f64;
    for p in &pts {
        let collider = ColliderBuilder::ball(shape.wire_radius as f32)
            .translation(to_vector(&p.coords))
            .mass(sphere_mass as f32)
            .friction(material.friction as f32)
            .collision_groups(scene_groups());
        world.colliders.insert_with_parent(collider, body, &mut world.bodies);
    }
    body
}

impl NeedleShape {
    /// Spheres in a loose needle's chain: one per wire radius of arc.
    pub fn sphere_count(&self) -> usize {
        (self.arc_length() / self.wire_radius).ceil() as usize + 1
    }
}

/// Capsules of the fixed needle (the reach tasks): 6 keep the polyline within 0.1 mm of a 12 mm arc.
pub const NEEDLE_SEGMENTS: usize = 6;
