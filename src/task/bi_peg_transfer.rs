//! BiPegTransfer (SurRoL's bimanual peg transfer): a ring block stands on a
//! peg on PSM2's side of the board. PSM2 lifts it off and holds it out over
//! the board's middle; PSM1 takes it there, PSM2 lets go, and PSM1 seats
//! it on a target peg on its own side. Success (as peg-transfer's): the
//! block's centre within `episode.success_tolerance_m` of the target peg's
//! axis in x-z and within `seated_tolerance_m` of the seated height, with
//! PSM2 not holding it.
//!
//! Each PSM takes the wall that faces it: PSM2 the one whose outward normal
//! points most toward +x, PSM1 the one toward −x; the jaws close across the
//! wall's top, one blade in the hole and one outside. `[start]` places
//! PSM1; PSM2 starts in the mirror image of that box (x → −x).
//!
//! Action (10): PSM1's five numbers, then PSM2's.
//!
//! Observation (67, world frame, SI units):
//! - 0..18: PSM1, 18..36: PSM2 (`bimanual::push_psm`);
//! - 36..39: the block's centre; 39..45: the first two columns of its
//!   rotation; 45..48: its velocity;
//! - 48..51: PSM1's grip point on the block minus PSM1's jaw grasp point;
//!   51: 1 while PSM1 holds it; 52: PSM1's grip force (N);
//! - 53..56, 56, 57: the same for PSM2;
//! - 58..61: sin 2Δ, cos 2Δ and the turn within the yaw limits (rad) of
//!   PSM1's wrist to put its jaw plane across its wall; 61..64: PSM2's;
//! - 64..67: the goal minus the block's centre.
//!
//! Achieved goal (4): the block's centre, then 1 while PSM2 holds it, else
//! 0. Desired goal: the seated centre on the target peg, then 0.

use rand::RngExt;
use rapier3d::na::{Isometry3, Point3, Translation3, UnitQuaternion, Vector3};
use rapier3d::prelude::{PhysicsWorld, RigidBodyHandle};
use serde::{Deserialize, Serialize};

use super::bimanual::{check_two_psms, flagged_point_reward, holds, jaw_grasp_point, jaw_settled, push_psm, push_turn, uniform};
use super::pick_place::{
    APPROACH_CLEARANCE_M, APPROACH_TOLERANCE_M, Grip, approach, check_half_extents, check_millimetre_scale, check_values, heading_of_x, oracle_action_to,
    place_step, yaw_to_grip,
};
use super::{ArmState, Observation, StartPose, Task, TaskConfig};
use crate::error::{Error, Result};
use crate::rng::Rng;
use crate::sim::convert::from_pose;
use crate::sim::objects::{RingBlock, add_ring_block};
use crate::sim::scene::{ObjectMaterial, add_fixed_box, add_fixed_peg};

/// The jaw action (a 40° opening) with which PSM1 comes down on the block PSM2 holds.
const HANDOVER_OPEN_JAW: f64 = 0.2;

/// Length of the observation.
pub const OBSERVATION_DIM: usize = 67;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BiPegTransferConfig {
    /// The peg board; its top surface is the world's y = 0 plane.
    pub board_half_extents: [f64; 3],
    pub peg_radius: f64,
    /// Height of each peg above the board (m).
    pub peg_height: f64,
    /// (x, z) of each peg on PSM2's side (+x), where the block starts (m).
    pub start_pegs: Vec<[f64; 2]>,
    /// (x, z) of each peg on PSM1's side (−x), one of which is the target (m).
    pub target_pegs: Vec<[f64; 2]>,
    pub block: RingBlock,
    pub block_material: ObjectMaterial,
    /// The block is turned about its peg uniformly within ±this (degrees).
    pub block_yaw_deg: f64,
    /// The jaws close this far below the top of the block's wall (m).
    pub grasp_below_top_m: f64,
    /// The jaws' grasp point: this far from the hinge along the blades (m).
    pub grasp_depth_m: f64,
    /// Where the oracle's PSM2 holds the block's centre for PSM1 to take it (world, m).
    pub handover: [f64; 3],
    /// Assisted mode: the weld forms only once friction has lifted the
    /// block this far off its resting height (m).
    pub weld_after_lift_m: f64,
    /// The oracle carries the block with its centre this far above the
    /// seated height: over the pegs (m).
    pub carry_clearance_m: f64,
    /// Success: the centre's height within this of the seated height (m).
    pub seated_tolerance_m: f64,
}

impl BiPegTransferConfig {
    fn validate(&self) -> Result<()> {
        let bad = |message: String| Err(Error::Config { origin: "task config".into(), message });
        let b = &self.block;
        check_values(
            &[
                ("bi_peg_transfer.peg_radius", self.peg_radius),
                ("bi_peg_transfer.peg_height", self.peg_height),
                ("bi_peg_transfer.block.outer_inradius", b.outer_inradius),
                ("bi_peg_transfer.block.wall", b.wall),
                ("bi_peg_transfer.block.height", b.height),
                ("bi_peg_transfer.block_material.density_kg_m3", self.block_material.density_kg_m3),
                ("bi_peg_transfer.grasp_depth_m", self.grasp_depth_m),
                ("bi_peg_transfer.carry_clearance_m", self.carry_clearance_m),
                ("bi_peg_transfer.seated_tolerance_m", self.seated_tolerance_m),
            ],
            &[
                ("bi_peg_transfer.block_material.friction", self.block_material.friction),
                ("bi_peg_transfer.block_yaw_deg", self.block_yaw_deg),
                ("bi_peg_transfer.grasp_below_top_m", self.grasp_below_top_m),
                ("bi_peg_transfer.weld_after_lift_m", self.weld_after_lift_m),
            ],
        )?;
        check_half_extents(&[("bi_peg_transfer.board_half_extents", self.board_half_extents)])?;
        if b.play(self.peg_radius) <= 0.0 {
            return bad(format!(
                "bi_peg_transfer.block: a hole of inradius {} m does not fit a peg of radius {} m",
                b.outer_inradius - b.wall,
                self.peg_radius
            ));
        }
        if self.grasp_below_top_m >= b.height {
            return bad(format!("bi_peg_transfer.grasp_below_top_m = {} must be less than the block's height {}", self.grasp_below_top_m, b.height));
        }
        for (field, pegs) in [("start_pegs", &self.start_pegs), ("target_pegs", &self.target_pegs)] {
            if pegs.is_empty() {
                return bad(format!("bi_peg_transfer.{field} must name at least one peg"));
            }
            if pegs.iter().flatten().any(|v| !v.is_finite()) {
                return bad(format!("bi_peg_transfer.{field}: peg positions must be finite"));
            }
        }
        let corner = 2.0 * b.outer_inradius;
        let [hx, _, hz] = self.board_half_extents;
        if let Some(p) = self.start_pegs.iter().chain(&self.target_pegs).find(|p| p[0].abs() + corner > hx || p[1].abs() + corner > hz) {
            return bad(format!("bi_peg_transfer: a block on the peg at {p:?} (corners {corner} m from its axis) overhangs the board's edge"));
        }
        if !self.handover.iter().all(|v| v.is_finite()) {
            return bad(format!("bi_peg_transfer.handover = {:?} must be finite", self.handover));
        }
        Ok(())
    }

    /// Height of the centre of a block standing on the board (m).
    fn seated_height(&self) -> f64 {
        self.block.height / 2.0
    }
}

pub struct BiPegTransfer {
    config: TaskConfig,
    params: BiPegTransferConfig,
    goal: Vector3<f64>,
    block: [RigidBodyHandle; 1],
    psm2_start: StartPose,
}

impl BiPegTransfer {
    pub fn new(config: &TaskConfig) -> Result<Self> {
        config.only_tables(&["bi_peg_transfer"])?;
        let params: BiPegTransferConfig = config.table("bi_peg_transfer")?;
        params.validate()?;
        check_millimetre_scale(config)?;
        check_two_psms(config)?;
        Ok(Self { config: config.clone(), params, goal: Vector3::zeros(), block: [RigidBodyHandle::invalid()], psm2_start: StartPose::default() })
    }

    pub fn goal(&self) -> Vector3<f64> {
        self.goal
    }

    /// The grip on the wall whose outward normal points most along `side`
    /// (+1: +x, PSM2's; −1: −x, PSM1's): its middle, `grasp_below_top_m`
    /// below its top, across it.
    fn grip(&self, pose: &Isometry3<f64>, side: f64) -> Grip {
        let b = &self.params.block;
        let wall = (0..3)
            .map(|k| pose * b.wall_frame(k))
            .max_by(|a, c| ((a.rotation * Vector3::z()).x * side).total_cmp(&((c.rotation * Vector3::z()).x * side)))
            .expect("three walls");
        let point = wall * Point3::new(0.0, b.height / 2.0 - self.params.grasp_below_top_m, 0.0);
        Grip { point: point.coords, heading: heading_of_x(&wall) }
    }

    /// The jaw opening (degrees) at which the blades' inner faces meet the wall's top edges.
    fn wall_opening_deg(&self) -> f64 {
        let edge_depth = (self.params.grasp_depth_m - self.params.grasp_below_top_m).max(1e-4);
        2.0 * (self.params.block.wall / 2.0 / edge_depth).min(1.0).asin().to_degrees()
    }

    fn reached(&self, achieved: &[f32], desired: &[f32]) -> bool {
        let (dx, dy, dz) = (achieved[0] - desired[0], achieved[1] - desired[1], achieved[2] - desired[2]);
        (dx * dx + dz * dz).sqrt() <= self.config.episode.success_tolerance_m as f32
            && dy.abs() <= self.params.seated_tolerance_m as f32
            && (achieved[3] - desired[3]).abs() < 0.5
    }

    /// The block's centre (the achieved goal's point).
    fn centre(pose: &Isometry3<f64>) -> Vector3<f64> {
        pose.translation.vector
    }
}

impl Task for BiPegTransfer {
    fn name(&self) -> &'static str {
        "bi-peg-transfer"
    }

    fn config(&self) -> &TaskConfig {
        &self.config
    }

    /// The board and every peg; the block on a random start peg, turned;
    /// the target peg; then PSM1's start and PSM2's (mirrored).
    fn reset(&mut self, world: &mut PhysicsWorld, rng: &mut Rng) -> StartPose {
        let p = &self.params;
        let board = Vector3::from(p.board_half_extents);
        add_fixed_box(world, &Isometry3::translation(0.0, -board.y, 0.0), board);
        for &[x, z] in p.start_pegs.iter().chain(&p.target_pegs) {
            add_fixed_peg(world, x, z, 0.0, p.peg_radius, p.peg_height);
        }
        let [x, z] = p.start_pegs[rng.random_range(0..p.start_pegs.len())];
        let [gx, gz] = p.target_pegs[rng.random_range(0..p.target_pegs.len())];
        let turn = uniform(rng, 0.0, p.block_yaw_deg.to_radians());
        let pose = Isometry3::from_parts(Translation3::new(x, p.seated_height(), z), UnitQuaternion::from_axis_angle(&Vector3::y_axis(), turn));
        self.block = [add_ring_block(world, &pose, &p.block, &p.block_material, false)];
        self.goal = Vector3::new(gx, p.seated_height(), gz);
        let psm1 = self.config.start.sample(rng);
        let mut psm2 = self.config.start.sample(rng);
        psm2.tip.x = -psm2.tip.x;
        psm2.yaw = -psm2.yaw;
        self.psm2_start = psm2;
        psm1
    }

    fn other_starts(&self) -> Vec<StartPose> {
        vec![self.psm2_start.clone()]
    }

    fn objects(&self) -> &[RigidBodyHandle] {
        &self.block
    }

    /// Assisted mode: the weld forms once friction has lifted the block `weld_after_lift_m`.
    fn may_weld(&self, world: &PhysicsWorld, object: RigidBodyHandle) -> bool {
        from_pose(world.bodies[object].position()).translation.vector.y - self.params.seated_height() >= self.params.weld_after_lift_m
    }

    fn observation_dim(&self) -> usize {
        OBSERVATION_DIM
    }

    fn goal_dim(&self) -> usize {
        4
    }

    fn observe(&self, state: &ArmState) -> Observation {
        let psm2 = &state.others[0];
        let block = &state.objects[0];
        let (hold1, hold2) = (&block.hold, &psm2.objects[0].hold);
        let pose = &block.pose;
        let m = pose.rotation.to_rotation_matrix();
        let (grip1, grip2) = (self.grip(pose, -1.0), self.grip(pose, 1.0));
        let yaw_limit = self.config.control.yaw_limit_deg.to_radians();
        let mut o = Vec::with_capacity(OBSERVATION_DIM);
        push_psm(&mut o, state);
        push_psm(&mut o, psm2);
        o.extend(Self::centre(pose).iter().map(|&v| v as f32));
        o.extend(m.matrix().column(0).iter().chain(m.matrix().column(1).iter()).map(|&v| v as f32));
        o.extend(block.velocity.iter().map(|&v| v as f32));
        for (grip, psm, hold) in [(&grip1, state, hold1), (&grip2, psm2, hold2)] {
            o.extend((grip.point - jaw_grasp_point(&psm.tip, self.params.grasp_depth_m)).iter().map(|&v| v as f32));
            o.push(holds(hold) as i32 as f32);
            o.push(hold.grip_force_n() as f32);
        }
        push_turn(&mut o, state, &grip1, yaw_limit);
        push_turn(&mut o, psm2, &grip2, yaw_limit);
        o.extend((self.goal - Self::centre(pose)).iter().map(|&v| v as f32));
        let mut achieved: Vec<f32> = Self::centre(pose).iter().map(|&v| v as f32).collect();
        achieved.push(holds(hold2) as i32 as f32);
        let mut desired: Vec<f32> = self.goal.iter().map(|&v| v as f32).collect();
        desired.push(0.0);
        Observation { observation: o, achieved_goal: achieved, desired_goal: desired }
    }

    fn compute_reward(&self, achieved: &[f32], desired: &[f32]) -> f32 {
        flagged_point_reward(self.config.episode.reward, self.reached(achieved, desired), achieved, desired)
    }

    fn is_success(&self, achieved: &[f32], desired: &[f32]) -> bool {
        self.reached(achieved, desired)
    }

    /// Distance from the block's centre to its seated place on the target peg (m).
    fn tip_error(&self, state: &ArmState) -> f64 {
        (Self::centre(&state.objects[0].pose) - self.goal).norm()
    }

    /// PSM2 takes its wall, lifts the block straight off the peg and holds
    /// its centre at the handover point; PSM1, waiting until then, takes
    /// the other wall; PSM2 opens and rises clear; PSM1 carries the block
    /// over the target peg, lowers it on and lets go. If the block drops,
    /// PSM2 starts over.
    fn oracle_action(&self, state: &ArmState) -> Vec<f32> {
        let c = &self.config.control;
        let p = &self.params;
        let psm2 = &state.others[0];
        let block = &state.objects[0];
        let (held1, held2) = (holds(&block.hold), holds(&psm2.objects[0].hold));
        let centre = Self::centre(&block.pose);
        let (grip1, grip2) = (self.grip(&block.pose, -1.0), self.grip(&block.pose, 1.0));
        let (jaw_closed, jaw_open) = (-1.0, 1.0);
        let closed = self.wall_opening_deg();
        let taken1 = held1 && (block.hold.welded || jaw_settled(state, closed));
        let taken2 = held2 && (psm2.objects[0].hold.welded || jaw_settled(psm2, closed));
        let handover = Vector3::from(p.handover);
        // Loosely: PSM1 coming down nudges the block, and must not then back off.
        let at_handover = (centre - handover).norm() < 0.003 && block.velocity.norm() < 0.03;
        let seated =
            self.reached(&[centre.x as f32, centre.y as f32, centre.z as f32, 0.0], &[self.goal.x as f32, self.goal.y as f32, self.goal.z as f32, 0.0]);
        let rise = |psm: &ArmState, jaw: f64| oracle_action_to(psm, c, &(psm.tip_command + Vector3::new(0.0, c.max_step_m, 0.0)), jaw, 0.0);
        let hold_still = |psm: &ArmState, jaw: f64| oracle_action_to(psm, c, &psm.tip_command, jaw, 0.0);
        // PSM2's open blades are clear above the wall it held (or as high as it may go).
        let clear2 = psm2.tip.y > grip2.point.y + p.grasp_depth_m + 0.006 || psm2.tip_command.y >= c.workspace_max[1] - 1e-6;

        let (first, second) = if seated && !held2 {
            // Placed: PSM1 lets go, then both rise clear, open.
            (if held1 { hold_still(state, jaw_open) } else { rise(state, jaw_open) }, rise(psm2, jaw_open))
        } else if taken1 && !held2 && clear2 {
            // PSM1 alone holds it: over the target peg, down, let go.
            let (to, down) = place_step(&centre, &self.goal, p.carry_clearance_m);
            (oracle_action_to(state, c, &(state.tip_command + (to - centre)), if down { jaw_open } else { jaw_closed }, 0.0), rise(psm2, jaw_open))
        } else if taken1 {
            // Both hold it: PSM2 opens, then rises clear of the wall.
            let second = if held2 { hold_still(psm2, jaw_open) } else { rise(psm2, jaw_open) };
            (hold_still(state, jaw_closed), second)
        } else if taken2 {
            // PSM2 holds it: up off the peg, to the handover point, and waits there for PSM1.
            let lifted = self.params.seated_height() + p.carry_clearance_m;
            let to = if centre.y < lifted - 0.002 && (centre - handover).xz().norm() > 0.002 { Vector3::new(centre.x, lifted, centre.z) } else { handover };
            let second = oracle_action_to(psm2, c, &(psm2.tip_command + (to - centre)), jaw_closed, 0.0);
            let first = if at_handover {
                // Closely: PSM2 holds the block, so blades off the wall slide off it.
                let (target, jaw, yaw) = approach(state, &grip1, p.grasp_depth_m, 0.0006, c);
                // Open only so far (40°): wide-open blades sweep into PSM2's wrist.
                oracle_action_to(state, c, &target, jaw.min(HANDOVER_OPEN_JAW), yaw)
            } else {
                // Wait above the handover point, open, turned for the wall.
                let wait = handover + Vector3::new(-0.012, p.grasp_depth_m + APPROACH_CLEARANCE_M, 0.0);
                let yaw = (yaw_to_grip(state.yaw, grip1.heading, c.yaw_limit_deg.to_radians()) / c.max_yaw_step_deg.to_radians()).clamp(-1.0, 1.0);
                oracle_action_to(state, c, &wait, HANDOVER_OPEN_JAW, yaw)
            };
            (first, second)
        } else {
            // PSM2 takes its wall (PSM1 open and out of the way).
            let (target, jaw, yaw) = approach(psm2, &grip2, p.grasp_depth_m, APPROACH_TOLERANCE_M, c);
            let first = if held1 { hold_still(state, jaw_open) } else { rise(state, jaw_open) };
            (first, oracle_action_to(psm2, c, &target, jaw, yaw))
        };
        first.into_iter().chain(second).collect()
    }
}
