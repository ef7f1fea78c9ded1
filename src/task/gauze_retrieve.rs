//! GauzeRetrieve (as SurRoL's): a gauze pad lies loose on the tray pad;
//! grasp it and carry its centre to a goal above the tray. v1's gauze is a
//! rigid thin pad (a folded, saline-soaked strip: no cloth simulation). The
//! blades close across its width, on its rolled long edges; their tips pass
//! into the soft training pad beneath it, as they do under the needle.
//!
//! The observation layout and the oracle are the grasp tasks' shared ones
//! (`pick_place.rs`); the grasp point is the pad's centre. Success: the
//! centre within `episode.success_tolerance_m` of the goal.

use rapier3d::na::{Isometry3, Vector3};
use rapier3d::prelude::PhysicsWorld;
use serde::{Deserialize, Serialize};

use super::pick_place::{
    Delivery, Grip, PickPlace, PickScene, Placement, check_fits_on_tray, check_half_extents, check_millimetre_scale, check_values, heading_of_x, lay_tray,
    spread_goal,
};
use super::{TaskConfig, flat_pose};
use crate::error::Result;
use crate::rng::Rng;
use crate::sim::objects::add_gauze;
use crate::sim::scene::ObjectMaterial;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GauzeRetrieveConfig {
    pub tray_half_extents: [f64; 3],
    pub pad_half_extents: [f64; 3],
    /// Friction of the tray pad's surface.
    pub pad_friction: f64,
    /// The gauze pad's half extents (m): x along it, y its thickness, z across
    /// it (the jaws close across z).
    pub gauze_half_extents: [f64; 3],
    pub gauze_material: ObjectMaterial,
    /// Gauze centre uniform within ±this in x and z (m).
    pub gauze_region_m: f64,
    /// Goal x and z: the tray centre plus N(0, this²) (m), clipped to ±2σ.
    pub goal_spread_m: f64,
    /// Goal height above the tray's top surface (m).
    pub goal_height_m: f64,
    /// The jaws' grasp point: this far from the hinge along the blades (m).
    pub grasp_depth_m: f64,
    /// Assisted mode: the weld forms only once friction has lifted the pad
    /// this far off its resting height (SurRoL: 2.5 mm).
    pub weld_after_lift_m: f64,
    /// The oracle lifts the pad straight up this far before carrying it (m).
    pub lift_first_m: f64,
}

impl GauzeRetrieveConfig {
    pub fn validate(&self) -> Result<()> {
        check_values(
            &[
                ("gauze_retrieve.gauze_material.density_kg_m3", self.gauze_material.density_kg_m3),
                ("gauze_retrieve.goal_height_m", self.goal_height_m),
                ("gauze_retrieve.grasp_depth_m", self.grasp_depth_m),
            ],
            &[
                ("gauze_retrieve.gauze_material.friction", self.gauze_material.friction),
                ("gauze_retrieve.pad_friction", self.pad_friction),
                ("gauze_retrieve.gauze_region_m", self.gauze_region_m),
                ("gauze_retrieve.goal_spread_m", self.goal_spread_m),
                ("gauze_retrieve.weld_after_lift_m", self.weld_after_lift_m),
                ("gauze_retrieve.lift_first_m", self.lift_first_m),
            ],
        )?;
        check_half_extents(&[
            ("gauze_retrieve.tray_half_extents", self.tray_half_extents),
            ("gauze_retrieve.pad_half_extents", self.pad_half_extents),
            ("gauze_retrieve.gauze_half_extents", self.gauze_half_extents),
        ])?;
        let [gx, _, gz] = self.gauze_half_extents;
        check_fits_on_tray(
            "the gauze (gauze_region_m + its half diagonal)",
            self.gauze_region_m + gx.hypot(gz),
            "gauze_retrieve.tray_half_extents",
            self.tray_half_extents,
        )
    }
}

/// The gauze-retrieve scene: the tray, its pad and the loose gauze.
pub struct GauzeScene {
    params: GauzeRetrieveConfig,
}

pub type GauzeRetrieve = PickPlace<GauzeScene>;

/// Builds gauze-retrieve from its config's `[gauze_retrieve]` table.
pub fn build(config: &TaskConfig) -> Result<GauzeRetrieve> {
    config.only_tables(&["gauze_retrieve"])?;
    let params: GauzeRetrieveConfig = config.table("gauze_retrieve")?;
    params.validate()?;
    check_millimetre_scale(config)?;
    Ok(PickPlace::new(config, GauzeScene { params }))
}

impl PickScene for GauzeScene {
    fn name(&self) -> &'static str {
        "gauze-retrieve"
    }

    fn reset(&mut self, world: &mut PhysicsWorld, rng: &mut Rng) -> Placement {
        let p = &self.params;
        let pad_top = lay_tray(world, p.tray_half_extents, p.pad_half_extents, p.pad_friction);
        let pose = flat_pose(rng, p.gauze_region_m, pad_top + p.gauze_half_extents[1]);
        let object = add_gauze(world, &pose, Vector3::from(p.gauze_half_extents), &p.gauze_material);
        Placement { object, goal: spread_goal(rng, p.goal_spread_m, p.goal_height_m) }
    }

    /// The centre, across the pad's width.
    fn grip(&self, pose: &Isometry3<f64>) -> Grip {
        Grip { point: pose.translation.vector, heading: heading_of_x(pose) }
    }

    fn grasp_depth_m(&self) -> f64 {
        self.params.grasp_depth_m
    }

    /// Closed on the pad: the blades' inner faces meet its top edges, half a
    /// thickness above the grasp point, plus 8° for the blades' give.
    fn closed_jaw_deg(&self) -> f64 {
        let [_, half_thickness, half_width] = self.params.gauze_half_extents;
        let edge_depth = self.params.grasp_depth_m - half_thickness;
        2.0 * (half_width / edge_depth).min(1.0).asin().to_degrees() + 8.0
    }

    fn weld_after_lift_m(&self) -> f64 {
        self.params.weld_after_lift_m
    }

    fn delivery(&self) -> Delivery {
        Delivery::Hold { lift_first_m: self.params.lift_first_m }
    }
}
