//! Static scene objects: the tray, its pad and the suture needle.

use rapier3d::na::{Isometry3, Point3, Vector3};
use rapier3d::prelude::*;

use super::convert::{to_pose, to_vector};
use super::psm::{ARM_GROUP, SCENE_GROUP};

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
    InteractionGroups::new(SCENE_GROUP, ARM_GROUP | SCENE_GROUP, InteractionTestMode::And)
}

/// Adds a fixed box (world pose of its centre, half extents).
pub fn add_fixed_box(world: &mut PhysicsWorld, pose: &Isometry3<f64>, half_extents: Vector3<f64>) -> RigidBodyHandle {
    let body = world.bodies.insert(RigidBodyBuilder::fixed().pose(to_pose(pose)));
    let h = to_vector(&half_extents);
    world.colliders.insert_with_parent(
        ColliderBuilder::cuboid(h.x, h.y, h.z).collision_groups(scene_groups()),
        body,
        &mut world.bodies,
    );
    body
}

/// Adds the needle as a fixed body at `pose` (its centre, world frame).
pub fn add_needle(world: &mut PhysicsWorld, pose: &Isometry3<f64>, shape: &NeedleShape) -> RigidBodyHandle {
    let body = world.bodies.insert(RigidBodyBuilder::fixed().pose(to_pose(pose)));
    let pts = shape.arc_points(6);
    for w in pts.windows(2) {
        let collider = ColliderBuilder::capsule_from_endpoints(
            to_vector(&w[0].coords),
            to_vector(&w[1].coords),
            shape.wire_radius as f32,
        )
        .collision_groups(scene_groups());
        world.colliders.insert_with_parent(collider, body, &mut world.bodies);
    }
    body
}
