//! PegTransfer (as SurRoL's, after the FLS peg-transfer drill): triangular
//! ring blocks stand on the far pegs of a peg board; lift the marked one off
//! its peg and seat it on a target near peg. The jaws grasp one wall of the
//! ring, one blade in the hole and one outside.
//!
//! The observation layout and the oracle are the grasp tasks' shared ones
//! (`pick_place.rs`); the block's grasp point is on its first wall, near the
//! top. Achieved goal: the block's centre (on its axis, at mid-height).
//! Desired goal: the centre of a block seated on the target peg. Success
//! (SurRoL's): within `episode.success_tolerance_m` in x-z and within
//! `seated_tolerance_m` in height, which a block resting on the peg's top
//! instead of around it misses.

use rand::RngExt;
use rapier3d::na::{Isometry3, UnitQuaternion, Vector3};
use rapier3d::prelude::PhysicsWorld;
use serde::{Deserialize, Serialize};

use super::pick_place::{Delivery, Grip, PickPlace, PickScene, Placement, check_half_extents, check_millimetre_scale, check_values, heading_of_x};
use super::{EpisodeConfig, TaskConfig};
use crate::error::{Error, Result};
use crate::rng::Rng;
use crate::sim::objects::{RingBlock, add_ring_block};
use crate::sim::scene::{ObjectMaterial, add_fixed_box, add_fixed_peg};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PegTransferConfig {
    /// The peg board; its top surface is the world's y = 0 plane.
    pub board_half_extents: [f64; 3],
    pub peg_radius: f64,
    /// Height of each peg above the board (m).
    pub peg_height: f64,
    /// (x, z) of each far peg, where the blocks start (m).
    pub far_pegs: Vec<[f64; 2]>,
    /// (x, z) of each near peg, one of which is the target (m).
    pub near_pegs: Vec<[f64; 2]>,
    pub block: RingBlock,
    pub block_material: ObjectMaterial,
    /// Blocks standing on far pegs at the start; the first is moved.
    pub blocks: usize,
    /// Each block is turned about its peg uniformly within ±this (degrees).
    pub block_yaw_deg: f64,
    /// The jaws close this far below the top of the block's wall (m).
    pub grasp_below_top_m: f64,
    /// The jaws' grasp point: this far from the hinge along the blades (m).
    pub grasp_depth_m: f64,
    /// Assisted mode: the weld forms only once friction has lifted the block
    /// this far (SurRoL: 10 mm above the goal peg's height).
    pub weld_after_lift_m: f64,
    /// The oracle carries the block with its centre this far above the
    /// seated height: over the pegs and the other blocks (m).
    pub carry_clearance_m: f64,
    /// Success: the centre's height within this of the seated height (m).
    pub seated_tolerance_m: f64,
}

impl PegTransferConfig {
    pub fn validate(&self) -> Result<()> {
        let bad = |message: String| Err(Error::Config { origin: "task config".into(), message });
        let b = &self.block;
        check_values(
            &[
                ("peg_transfer.peg_radius", self.peg_radius),
                ("peg_transfer.peg_height", self.peg_height),
                ("peg_transfer.block.outer_inradius", b.outer_inradius),
                ("peg_transfer.block.wall", b.wall),
                ("peg_transfer.block.height", b.height),
                ("peg_transfer.block_material.density_kg_m3", self.block_material.density_kg_m3),
                ("peg_transfer.grasp_depth_m", self.grasp_depth_m),
                ("peg_transfer.carry_clearance_m", self.carry_clearance_m),
                ("peg_transfer.seated_tolerance_m", self.seated_tolerance_m),
            ],
            &[
                ("peg_transfer.block_material.friction", self.block_material.friction),
                ("peg_transfer.block_yaw_deg", self.block_yaw_deg),
                ("peg_transfer.grasp_below_top_m", self.grasp_below_top_m),
                ("peg_transfer.weld_after_lift_m", self.weld_after_lift_m),
            ],
        )?;
        check_half_extents(&[("peg_transfer.board_half_extents", self.board_half_extents)])?;
        if b.play(self.peg_radius) <= 0.0 {
            return bad(format!("peg_transfer.block: a hole of inradius {} m does not fit a peg of radius {} m", b.outer_inradius - b.wall, self.peg_radius));
        }
        if self.grasp_below_top_m >= b.height {
            return bad(format!("peg_transfer.grasp_below_top_m = {} must be less than the block's height {}", self.grasp_below_top_m, b.height));
        }
        if self.blocks == 0 || self.blocks > self.far_pegs.len() {
            return bad(format!("peg_transfer.blocks = {} must be between 1 and the {} far pegs", self.blocks, self.far_pegs.len()));
        }
        if self.near_pegs.is_empty() {
            return bad("peg_transfer.near_pegs must name at least one peg".into());
        }
        if self.far_pegs.iter().chain(&self.near_pegs).flatten().any(|v| !v.is_finite()) {
            return bad("peg_transfer: peg positions must be finite".into());
        }
        // A block's corners lie at twice the inradius (an equilateral triangle).
        let corner = 2.0 * b.outer_inradius;
        let [hx, _, hz] = self.board_half_extents;
        if let Some(p) = self.far_pegs.iter().chain(&self.near_pegs).find(|p| p[0].abs() + corner > hx || p[1].abs() + corner > hz) {
            return bad(format!(
                "peg_transfer: a block on the peg at {p:?} (corners {corner} m from its axis, block.outer_inradius × 2) overhangs the board's edge"
            ));
        }
        for (i, p) in self.far_pegs.iter().enumerate() {
            if let Some(q) = self.far_pegs[i + 1..].iter().find(|q| (p[0] - q[0]).hypot(p[1] - q[1]) < 2.0 * corner) {
                return bad(format!(
                    "peg_transfer: blocks on the far pegs {p:?} and {q:?} would overlap (block.outer_inradius = {} m: pegs must be {} m apart)",
                    b.outer_inradius,
                    2.0 * corner
                ));
            }
        }
        Ok(())
    }

    /// Height of the centre of a block standing on the board (m).
    pub fn seated_height(&self) -> f64 {
        self.block.height / 2.0
    }
}

/// The peg-transfer scene: the board, its pegs and the blocks.
pub struct PegScene {
    params: PegTransferConfig,
}

pub type PegTransfer = PickPlace<PegScene>;

/// Builds peg-transfer from its config's `[peg_transfer]` table.
pub fn build(config: &TaskConfig) -> Result<PegTransfer> {
    config.only_tables(&["peg_transfer"])?;
    let params: PegTransferConfig = config.table("peg_transfer")?;
    params.validate()?;
    check_millimetre_scale(config)?;
    Ok(PickPlace::new(config, PegScene { params }))
}

impl PegScene {
    pub fn params(&self) -> &PegTransferConfig {
        &self.params
    }
}

impl PickScene for PegScene {
    fn name(&self) -> &'static str {
        "peg-transfer"
    }

    /// The board and every peg; the blocks on far pegs drawn without
    /// repetition (a partial Fisher–Yates shuffle), the target near peg, then
    /// each block's yaw.
    fn reset(&mut self, world: &mut PhysicsWorld, rng: &mut Rng) -> Placement {
        let p = &self.params;
        let board = Vector3::from(p.board_half_extents);
        add_fixed_box(world, &Isometry3::translation(0.0, -board.y, 0.0), board);
        for &[x, z] in p.far_pegs.iter().chain(&p.near_pegs) {
            add_fixed_peg(world, x, z, 0.0, p.peg_radius, p.peg_height);
        }
        let mut far: Vec<usize> = (0..p.far_pegs.len()).collect();
        for k in 0..p.blocks {
            let j = rng.random_range(k..far.len());
            far.swap(k, j);
        }
        let [gx, gz] = p.near_pegs[rng.random_range(0..p.near_pegs.len())];
        let yaw = p.block_yaw_deg.to_radians();
        let mut moved = None;
        for (k, &peg) in far[..p.blocks].iter().enumerate() {
            let [x, z] = p.far_pegs[peg];
            let turn = if yaw > 0.0 { rng.random_range(-yaw..yaw) } else { 0.0 };
            let pose =
                Isometry3::from_parts(rapier3d::na::Translation3::new(x, p.seated_height(), z), UnitQuaternion::from_axis_angle(&Vector3::y_axis(), turn));
            // The other blocks may sleep until touched: they cost nothing at rest.
            let body = add_ring_block(world, &pose, &p.block, &p.block_material, k > 0);
            moved.get_or_insert(body);
        }
        Placement { object: moved.expect("at least one block"), goal: Vector3::new(gx, p.seated_height(), gz) }
    }

    /// The middle of the block's first wall, `grasp_below_top_m` below its
    /// top, across the wall.
    fn grip(&self, pose: &Isometry3<f64>) -> Grip {
        let b = &self.params.block;
        let wall = pose * b.wall_frame(0);
        let point = wall * rapier3d::na::Point3::new(0.0, b.height / 2.0 - self.params.grasp_below_top_m, 0.0);
        Grip { point: point.coords, heading: heading_of_x(&wall) }
    }

    fn grasp_depth_m(&self) -> f64 {
        self.params.grasp_depth_m
    }

    /// Closed on the wall: the blades' inner faces meet its top edges, plus
    /// 8° for the blades' give.
    fn closed_jaw_deg(&self) -> f64 {
        let edge_depth = (self.params.grasp_depth_m - self.params.grasp_below_top_m).max(1e-4);
        2.0 * (self.params.block.wall / 2.0 / edge_depth).min(1.0).asin().to_degrees() + 8.0
    }

    fn weld_after_lift_m(&self) -> f64 {
        self.params.weld_after_lift_m
    }

    fn delivery(&self) -> Delivery {
        Delivery::Place { clearance_m: self.params.carry_clearance_m }
    }

    /// SurRoL's test: x-z within the episode's tolerance, height within `seated_tolerance_m`.
    fn goal_reached(&self, episode: &EpisodeConfig, achieved: &[f32], desired: &[f32]) -> bool {
        let (dx, dy, dz) = (achieved[0] - desired[0], achieved[1] - desired[1], achieved[2] - desired[2]);
        (dx * dx + dz * dz).sqrt() <= episode.success_tolerance_m as f32 && dy.abs() <= self.params.seated_tolerance_m as f32
    }
}
