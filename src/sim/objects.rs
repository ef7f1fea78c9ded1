//! Loose objects of the grasp tasks besides the needle (`scene.rs`): a gauze
//! pad and the peg-transfer block. Each is one dynamic body with two kinds of
//! collider:
//! - boxes, which carry its mass (the block's walls also touch the pegs and
//!   the other blocks);
//! - rows of spheres along the edges the jaws take and the edges it stands
//!   on: the only parts that touch the instrument and the tray or board. parry 0.31's box–box manifold finds no contact
//!   points for a 1.4 mm blade crossing a millimetre box's edge at a slant,
//!   and its contact query reports boxes 2.5 mm apart as overlapping, while
//!   the same pair scaled ×100 is right: the blades passed through a gauze
//!   pad. Sphere–box contacts are exact, as the needle's chain of spheres
//!   showed.

use rapier3d::na::{Isometry3, Point3, Vector3};
use rapier3d::prelude::*;

use super::convert::{to_pose, to_vector};
use super::psm::{ALL_INSTRUMENTS, SCENE_GROUP};
use super::scene::ObjectMaterial;

/// A block's walls: they touch the scene (pegs, other blocks) but not the instrument.
fn body_groups() -> InteractionGroups {
    InteractionGroups::new(SCENE_GROUP, SCENE_GROUP, InteractionTestMode::And)
}

/// An object's spheres: touched by the instrument and the scene.
fn sphere_groups() -> InteractionGroups {
    InteractionGroups::new(SCENE_GROUP, ALL_INSTRUMENTS | SCENE_GROUP, InteractionTestMode::And)
}

/// Adds a row of massless spheres of `radius` from `a` to `b` (body frame),
/// at most `spacing` apart: a rounded edge.
fn add_sphere_row(world: &mut PhysicsWorld, body: RigidBodyHandle, a: Vector3<f64>, b: Vector3<f64>, radius: f64, spacing: f64, friction: f64) {
    let n = ((b - a).norm() / spacing).ceil().max(1.0) as usize;
    for i in 0..=n {
        let p = a + (b - a) * (i as f64 / n as f64);
        let collider = ColliderBuilder::ball(radius as f32).translation(to_vector(&p)).density(0.0).friction(friction as f32).collision_groups(sphere_groups());
        world.colliders.insert_with_parent(collider, body, &mut world.bodies);
    }
}

/// A loose gauze pad, its centre at `pose`: a box that carries its mass
/// and touches nothing, and two rolled long edges (rows of spheres as thick
/// as the pad, one radius apart) that rest on the pad and that the blades
/// take. It never sleeps and sweeps its motion (CCD), as the needle.
pub fn add_gauze(world: &mut PhysicsWorld, pose: &Isometry3<f64>, half_extents: Vector3<f64>, material: &ObjectMaterial) -> RigidBodyHandle {
    let body = world.bodies.insert(RigidBodyBuilder::dynamic().pose(to_pose(pose)).can_sleep(false).ccd_enabled(true));
    let h = to_vector(&half_extents);
    world.colliders.insert_with_parent(
        ColliderBuilder::cuboid(h.x, h.y, h.z).density(material.density_kg_m3 as f32).collision_groups(InteractionGroups::none()),
        body,
        &mut world.bodies,
    );
    let r = half_extents.y;
    for side in [-1.0, 1.0] {
        let z = side * (half_extents.z - r);
        let x = half_extents.x - r;
        add_sphere_row(world, body, Vector3::new(-x, 0.0, z), Vector3::new(x, 0.0, z), r, r, material.friction);
    }
    body
}

/// The peg-transfer block: an equilateral triangular ring, as the blocks of
/// the FLS peg-transfer drill, standing on its base around a peg.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RingBlock {
    /// Distance from the block's axis to the outer face of each wall (m).
    pub outer_inradius: f64,
    /// Thickness of each wall (m).
    pub wall: f64,
    /// Height of the block (m).
    pub height: f64,
}

impl RingBlock {
    /// Distance from the axis to the middle of each wall (m).
    pub fn wall_middle(&self) -> f64 {
        self.outer_inradius - self.wall / 2.0
    }

    /// Half the length of each wall's box: the triangle's side at the wall's
    /// middle, so that the corners close without sticking out of the outer triangle.
    pub fn wall_half_length(&self) -> f64 {
        self.wall_middle() * 3f64.sqrt()
    }

    /// Wall `k`'s frame in the block frame (y up, origin on the axis at
    /// mid-height): its x runs along the wall, its z points out of the block.
    pub fn wall_frame(&self, k: usize) -> Isometry3<f64> {
        let angle = k as f64 * 2.0 * std::f64::consts::PI / 3.0;
        let rotation = rapier3d::na::UnitQuaternion::from_axis_angle(&Vector3::y_axis(), angle);
        Isometry3::from_parts((rotation * Vector3::new(0.0, 0.0, self.wall_middle())).into(), rotation)
    }

    /// The largest sideways play a peg of `peg_radius` has in the hole before
    /// it touches a wall (m).
    pub fn play(&self, peg_radius: f64) -> f64 {
        self.outer_inradius - self.wall - peg_radius
    }
}

/// Adds a ring block whose axis passes through `pose`'s origin at mid-height.
/// Blocks other than the one being moved may sleep until touched.
pub fn add_ring_block(world: &mut PhysicsWorld, pose: &Isometry3<f64>, block: &RingBlock, material: &ObjectMaterial, can_sleep: bool) -> RigidBodyHandle {
    let body = world.bodies.insert(RigidBodyBuilder::dynamic().pose(to_pose(pose)).can_sleep(can_sleep).ccd_enabled(true));
    for k in 0..3 {
        let collider = ColliderBuilder::cuboid(block.wall_half_length() as f32, (block.height / 2.0) as f32, (block.wall / 2.0) as f32)
            .position(to_pose(&block.wall_frame(k)))
            .density(material.density_kg_m3 as f32)
            .friction(material.friction as f32)
            .collision_groups(body_groups());
        world.colliders.insert_with_parent(collider, body, &mut world.bodies);
        // The wall's top edge, rounded, where the blades take it (spheres
        // one radius apart), and three feet along its bottom edge that it
        // stands on.
        let r = block.wall / 2.0;
        let (x, y) = (block.wall_half_length() - r, block.height / 2.0 - r);
        let frame = block.wall_frame(k);
        let end = |sx: f64, sy: f64| (frame * Point3::new(sx * x, sy * y, 0.0)).coords;
        add_sphere_row(world, body, end(-1.0, 1.0), end(1.0, 1.0), r, r, material.friction);
        add_sphere_row(world, body, end(-1.0, -1.0), end(1.0, -1.0), r, x, material.friction);
    }
    body
}
