//! NeedlePick (as SurRoL's): a suture needle lies loose on the tray pad;
//! grasp it and bring its midpoint to a goal above the tray. The needle is a
//! dynamic body that moves only because the instrument touches it (or, in
//! the assisted mode, because the weld holds it after a real two-blade grasp).
//!
//! The observation layout and the oracle are the grasp tasks' shared ones
//! (`pick_place.rs`); the grasp point is the needle's midpoint, and the jaws
//! close across the wire there. Success: the midpoint within
//! `episode.success_tolerance_m` of the goal.

use rapier3d::na::Isometry3;
use rapier3d::prelude::PhysicsWorld;
use serde::{Deserialize, Serialize};

use super::pick_place::{
    Grip, PickPlace, PickScene, Placement, check_fits_on_tray, check_half_extents, check_millimetre_scale, check_values, heading_of_x, lay_tray, spread_goal,
};
use super::{TaskConfig, flat_pose};
use crate::error::{Error, Result};
use crate::rng::Rng;
use crate::sim::scene::{NeedleShape, ObjectMaterial, add_loose_needle};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NeedlePickConfig {
    pub tray_half_extents: [f64; 3],
    pub pad_half_extents: [f64; 3],
    pub needle: NeedleShape,
    pub needle_material: ObjectMaterial,
    /// Friction of the tray pad's surface.
    pub pad_friction: f64,
    /// Needle midpoint uniform within ±this in x and z (m).
    pub needle_region_m: f64,
    /// Goal x and z: the tray centre plus N(0, this²) (m), clipped to ±2σ.
    pub goal_spread_m: f64,
    /// Goal height above the tray's top surface (m).
    pub goal_height_m: f64,
    /// The jaws' grasp point: this far from the hinge along the blades (m).
    pub grasp_depth_m: f64,
    /// Assisted mode: the weld forms only once friction has lifted the needle
    /// this far off its resting height (SurRoL: 5 mm).
    pub weld_after_lift_m: f64,
}

impl NeedlePickConfig {
    pub fn validate(&self) -> Result<()> {
        let n = &self.needle;
        check_values(
            &[
                ("needle_pick.needle.arc_radius", n.arc_radius),
                ("needle_pick.needle.arc_deg", n.arc_deg),
                ("needle_pick.needle.wire_radius", n.wire_radius),
                ("needle_pick.needle_material.density_kg_m3", self.needle_material.density_kg_m3),
                ("needle_pick.goal_height_m", self.goal_height_m),
                ("needle_pick.grasp_depth_m", self.grasp_depth_m),
            ],
            &[
                ("needle_pick.needle_material.friction", self.needle_material.friction),
                ("needle_pick.pad_friction", self.pad_friction),
                ("needle_pick.needle_region_m", self.needle_region_m),
                ("needle_pick.goal_spread_m", self.goal_spread_m),
                ("needle_pick.weld_after_lift_m", self.weld_after_lift_m),
            ],
        )?;
        if n.arc_deg > 360.0 {
            return Err(Error::Config {
                origin: "task config".into(),
                message: format!("needle_pick.needle.arc_deg = {} is more than a full circle", n.arc_deg),
            });
        }
        check_half_extents(&[("needle_pick.tray_half_extents", self.tray_half_extents), ("needle_pick.pad_half_extents", self.pad_half_extents)])?;
        // Every point of the arc lies within its diameter of the midpoint.
        check_fits_on_tray(
            "the needle (needle_region_m + 2 needle.arc_radius)",
            self.needle_region_m + 2.0 * n.arc_radius,
            "needle_pick.tray_half_extents",
            self.tray_half_extents,
        )
    }
}

/// The needle-pick scene: the tray, its pad and the loose needle.
pub struct NeedleScene {
    params: NeedlePickConfig,
}

pub type NeedlePick = PickPlace<NeedleScene>;

impl NeedleScene {
    pub fn params(&self) -> &NeedlePickConfig {
        &self.params
    }
}

/// Builds needle-pick from its config's `[needle_pick]` table.
pub fn build(config: &TaskConfig) -> Result<NeedlePick> {
    config.only_tables(&["needle_pick"])?;
    let params: NeedlePickConfig = config.table("needle_pick")?;
    params.validate()?;
    check_millimetre_scale(config)?;
    Ok(PickPlace::new(config, NeedleScene { params }))
}

impl PickScene for NeedleScene {
    fn name(&self) -> &'static str {
        "needle-pick"
    }

    fn reset(&mut self, world: &mut PhysicsWorld, rng: &mut Rng) -> Placement {
        let p = &self.params;
        let pad_top = lay_tray(world, p.tray_half_extents, p.pad_half_extents, p.pad_friction);
        // Resting on the pad: the wire's axis one wire radius above it.
        let pose = flat_pose(rng, p.needle_region_m, pad_top + p.needle.wire_radius);
        let object = add_loose_needle(world, &pose, &p.needle, &p.needle_material);
        Placement { object, goal: spread_goal(rng, p.goal_spread_m, p.goal_height_m) }
    }

    /// The midpoint, across the wire (the needle's x axis is its midpoint tangent).
    fn grip(&self, pose: &Isometry3<f64>) -> Grip {
        Grip { point: pose.translation.vector, heading: heading_of_x(pose) }
    }

    fn grasp_depth_m(&self) -> f64 {
        self.params.grasp_depth_m
    }

    /// Closed on the wire: the blades' inner faces a wire's width apart at
    /// the grasp depth, plus 8° for the blades' give.
    fn closed_jaw_deg(&self) -> f64 {
        2.0 * (self.params.needle.wire_radius / self.params.grasp_depth_m).asin().to_degrees() + 8.0
    }

    fn weld_after_lift_m(&self) -> f64 {
        self.params.weld_after_lift_m
    }
}
