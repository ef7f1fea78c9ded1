//! NeedleRegrasp (SurRoL's bimanual needle handover): the needle starts
//! held by PSM1, in the air on its side of the tray. PSM2 takes it, PSM1
//! lets go, and PSM2 brings the needle's handover point (where PSM2's jaws
//! take the wire) to a goal on its side. Success: that point within
//! `episode.success_tolerance_m` of the goal, with the needle held by PSM2
//! alone.
//!
//! `[start]` places PSM2; PSM1 starts holding the needle. The starting grasp is real: the needle is placed between PSM1's open
//! blades, and the env closes them on it before the episode starts
//! (`Task::settle_steps`): friction holds it, or in the assisted mode the
//! weld that the two-blade contact made.
//!
//! Action (10): PSM1's five numbers, then PSM2's (dx, dy, dz, yaw, jaw).
//!
//! Observation (67, world frame, SI units):
//! - 0..18: PSM1: tip position (3), tip velocity (3), commanded yaw (1),
//!   the six arm joints and the jaw angle (7), commanded tip minus tip (3),
//!   jaw angular velocity (1);
//! - 18..36: PSM2, the same;
//! - 36..39: the needle's midpoint; 39..45: the first two columns of its
//!   rotation; 45..48: its velocity;
//! - 48..51: PSM1's grip point on the needle minus PSM1's jaw grasp point;
//!   51: 1 while PSM1 holds it; 52: PSM1's grip force (N);
//! - 53..56: the handover point minus PSM2's jaw grasp point; 56: 1 while
//!   PSM2 holds it; 57: PSM2's grip force (N);
//! - 58..61: the handover point; 61, 62: sin 2Δ, cos 2Δ of PSM2's wrist turn
//!   Δ to put its jaw plane across the wire there; 63: that turn within the
//!   yaw limits (rad);
//! - 64..67: the goal minus the handover point.
//!
//! Achieved goal (4): the handover point, then 1 if PSM1 still holds the
//! needle, else 0. Desired goal: the goal point, then 0.

use rapier3d::na::{Isometry3, Point3, Translation3, UnitQuaternion, Vector3};
use rapier3d::prelude::{PhysicsWorld, RigidBodyHandle};
use serde::{Deserialize, Serialize};

use super::bimanual::{check_two_psms, flagged_point_reward, holds, jaw_grasp_point, jaw_settled, push_psm, push_turn, uniform};
use super::pick_place::{Grip, approach, check_half_extents, check_millimetre_scale, check_values, lay_tray, oracle_action_to, yaw_to_grip};
use super::{ArmState, Observation, StartPose, Task, TaskConfig, goal_distance};
use crate::error::{Error, Result};
use crate::rng::Rng;
use crate::sim::scene::{NeedleShape, ObjectMaterial, add_loose_needle};

/// The oracle carries the needle at this fraction of the top speed.
const CARRY_SPEED: f32 = 0.5;

/// Length of the observation.
pub const OBSERVATION_DIM: usize = 67;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NeedleRegraspConfig {
    pub tray_half_extents: [f64; 3],
    pub pad_half_extents: [f64; 3],
    pub needle: NeedleShape,
    pub needle_material: ObjectMaterial,
    /// Friction of the tray pad's surface (a dropped needle lands on it).
    pub pad_friction: f64,
    /// The jaws' grasp point: this far from the hinge along the blades (m).
    pub grasp_depth_m: f64,
    /// Where PSM1 holds the wire: this angle along the arc from its
    /// midpoint (degrees), away from PSM2's side. Near the midpoint the
    /// needle's centre of mass lies almost straight across the jaws, so its
    /// weight barely turns it about the blades' point contacts (held far
    /// off-centre, it swings down to hang below the jaws).
    pub hold_angle_deg: f64,
    /// Where PSM2 takes the wire: this angle along the arc from its
    /// midpoint (degrees), toward PSM2's side.
    pub handover_angle_deg: f64,
    /// The needle's midpoint at the start: x, y, z (world, m) ...
    pub needle_centre: [f64; 3],
    /// ... uniform within ±this in x and z (m),
    pub needle_spread_m: f64,
    /// ... its heading uniform within ±this (degrees), so that PSM2's end
    /// stays on PSM2's side.
    pub needle_heading_deg: f64,
    /// The goal: x, y, z (world, m) ...
    pub goal_centre: [f64; 3],
    /// ... uniform within ±this in x, y and z (m).
    pub goal_spread_m: f64,
    /// PSM1's jaw starts this much wider (degrees) than the wire between
    /// its blades, then closes on it over `settle_steps`.
    pub start_jaw_margin_deg: f64,
    pub settle_steps: usize,
}

impl NeedleRegraspConfig {
    fn validate(&self) -> Result<()> {
        let n = &self.needle;
        check_values(
            &[
                ("needle_regrasp.needle.arc_radius", n.arc_radius),
                ("needle_regrasp.needle.arc_deg", n.arc_deg),
                ("needle_regrasp.needle.wire_radius", n.wire_radius),
                ("needle_regrasp.needle_material.density_kg_m3", self.needle_material.density_kg_m3),
                ("needle_regrasp.grasp_depth_m", self.grasp_depth_m),
                ("needle_regrasp.handover_angle_deg", self.handover_angle_deg),
                ("needle_regrasp.start_jaw_margin_deg", self.start_jaw_margin_deg),
            ],
            &[
                ("needle_regrasp.needle_material.friction", self.needle_material.friction),
                ("needle_regrasp.pad_friction", self.pad_friction),
                ("needle_regrasp.hold_angle_deg", self.hold_angle_deg),
                ("needle_regrasp.needle_spread_m", self.needle_spread_m),
                ("needle_regrasp.needle_heading_deg", self.needle_heading_deg),
                ("needle_regrasp.goal_spread_m", self.goal_spread_m),
            ],
        )?;
        check_half_extents(&[("needle_regrasp.tray_half_extents", self.tray_half_extents), ("needle_regrasp.pad_half_extents", self.pad_half_extents)])?;
        let bad = |message: String| Err(Error::Config { origin: "task config".into(), message });
        for (field, angle) in [("hold_angle_deg", self.hold_angle_deg), ("handover_angle_deg", self.handover_angle_deg)] {
            if angle > n.arc_deg / 2.0 {
                return bad(format!("needle_regrasp.{field} = {angle} lies beyond the needle's end (its arc spans ±{} degrees)", n.arc_deg / 2.0));
            }
        }
        if n.wire_radius >= self.grasp_depth_m {
            return bad(format!("needle_regrasp.needle.wire_radius = {} is too thick to hold {} m down the blades", n.wire_radius, self.grasp_depth_m));
        }
        if self.settle_steps == 0 {
            return bad("needle_regrasp.settle_steps = 0: the starting grasp needs at least one step to close".into());
        }
        for (field, v) in [("needle_regrasp.needle_centre", self.needle_centre), ("needle_regrasp.goal_centre", self.goal_centre)] {
            if !v.iter().all(|x| x.is_finite()) {
                return bad(format!("{field} = {v:?} must be finite"));
            }
        }
        Ok(())
    }
}

pub struct NeedleRegrasp {
    config: TaskConfig,
    params: NeedleRegraspConfig,
    goal: Vector3<f64>,
    needle: [RigidBodyHandle; 1],
    psm2_start: StartPose,
}

impl NeedleRegrasp {
    pub fn new(config: &TaskConfig) -> Result<Self> {
        config.only_tables(&["needle_regrasp"])?;
        let params: NeedleRegraspConfig = config.table("needle_regrasp")?;
        params.validate()?;
        check_millimetre_scale(config)?;
        check_two_psms(config)?;
        Ok(Self { config: config.clone(), params, goal: Vector3::zeros(), needle: [RigidBodyHandle::invalid()], psm2_start: StartPose::default() })
    }

    pub fn goal(&self) -> Vector3<f64> {
        self.goal
    }

    /// Point `angle` (rad) along the arc from the midpoint, and the heading
    /// of the wire's tangent there, for the needle at `pose`.
    fn arc_grip(&self, pose: &Isometry3<f64>, angle: f64) -> Grip {
        let r = self.params.needle.arc_radius;
        let local = Vector3::new(r * angle.sin(), 0.0, r * (angle.cos() - 1.0));
        let tangent = pose.rotation * Vector3::new(angle.cos(), 0.0, -angle.sin());
        Grip { point: (pose * Point3::from(local)).coords, heading: (-tangent.z).atan2(tangent.x) }
    }

    /// Where PSM1 holds the wire.
    fn first_grip(&self, pose: &Isometry3<f64>) -> Grip {
        self.arc_grip(pose, -self.params.hold_angle_deg.to_radians())
    }

    /// Where PSM2 takes it: the handover point.
    fn handover(&self, pose: &Isometry3<f64>) -> Grip {
        self.arc_grip(pose, self.params.handover_angle_deg.to_radians())
    }

    /// The jaw opening (rad) at which the blades' inner faces touch the wire `depth` down them.
    fn wire_opening(&self, depth: f64) -> f64 {
        2.0 * (self.params.needle.wire_radius / depth).asin()
    }

    fn reached(&self, achieved: &[f32], desired: &[f32]) -> bool {
        goal_distance(&achieved[..3], &desired[..3]) <= self.config.episode.success_tolerance_m as f32 && (achieved[3] - desired[3]).abs() < 0.5
    }
}

impl Task for NeedleRegrasp {
    fn name(&self) -> &'static str {
        "needle-regrasp"
    }

    fn config(&self) -> &TaskConfig {
        &self.config
    }

    /// Lays the tray, draws the needle's pose in the air and the goal, puts
    /// PSM1's open jaws around the wire, and draws PSM2's start.
    fn reset(&mut self, world: &mut PhysicsWorld, rng: &mut Rng) -> StartPose {
        let p = &self.params;
        let s = p;
        lay_tray(world, s.tray_half_extents, s.pad_half_extents, s.pad_friction);
        let [cx, cy, cz] = p.needle_centre;
        let centre = Vector3::new(uniform(rng, cx, p.needle_spread_m), cy, uniform(rng, cz, p.needle_spread_m));
        let heading = uniform(rng, 0.0, p.needle_heading_deg.to_radians());
        let pose = Isometry3::from_parts(Translation3::from(centre), UnitQuaternion::from_axis_angle(&Vector3::y_axis(), heading));
        let [gx, gy, gz] = p.goal_centre;
        self.goal = Vector3::new(uniform(rng, gx, p.goal_spread_m), uniform(rng, gy, p.goal_spread_m), uniform(rng, gz, p.goal_spread_m));
        self.psm2_start = self.config.start.sample(rng);
        self.needle = [add_loose_needle(world, &pose, &s.needle, &s.needle_material)];
        let grip = self.first_grip(&pose);
        let yaw = yaw_to_grip(0.0, grip.heading, self.config.control.yaw_limit_deg.to_radians());
        StartPose {
            tip: grip.point + Vector3::new(0.0, s.grasp_depth_m, 0.0),
            yaw,
            holding: Some(self.wire_opening(s.grasp_depth_m) + p.start_jaw_margin_deg.to_radians()),
        }
    }

    fn other_starts(&self) -> Vec<StartPose> {
        vec![self.psm2_start.clone()]
    }

    fn settle_steps(&self) -> usize {
        self.params.settle_steps
    }

    fn objects(&self) -> &[RigidBodyHandle] {
        &self.needle
    }

    fn observation_dim(&self) -> usize {
        OBSERVATION_DIM
    }

    fn goal_dim(&self) -> usize {
        4
    }

    fn observe(&self, state: &ArmState) -> Observation {
        let psm2 = &state.others[0];
        let needle = &state.objects[0];
        let (hold1, hold2) = (&needle.hold, &psm2.objects[0].hold);
        let pose = &needle.pose;
        let m = pose.rotation.to_rotation_matrix();
        let first = self.first_grip(pose);
        let handover = self.handover(pose);
        let mut o = Vec::with_capacity(OBSERVATION_DIM);
        push_psm(&mut o, state);
        push_psm(&mut o, psm2);
        o.extend(pose.translation.vector.iter().map(|&v| v as f32));
        o.extend(m.matrix().column(0).iter().chain(m.matrix().column(1).iter()).map(|&v| v as f32));
        o.extend(needle.velocity.iter().map(|&v| v as f32));
        o.extend((first.point - jaw_grasp_point(&state.tip, self.params.grasp_depth_m)).iter().map(|&v| v as f32));
        o.push(holds(hold1) as i32 as f32);
        o.push(hold1.grip_force_n() as f32);
        o.extend((handover.point - jaw_grasp_point(&psm2.tip, self.params.grasp_depth_m)).iter().map(|&v| v as f32));
        o.push(holds(hold2) as i32 as f32);
        o.push(hold2.grip_force_n() as f32);
        o.extend(handover.point.iter().map(|&v| v as f32));
        push_turn(&mut o, psm2, &handover, self.config.control.yaw_limit_deg.to_radians());
        o.extend((self.goal - handover.point).iter().map(|&v| v as f32));
        let mut achieved: Vec<f32> = handover.point.iter().map(|&v| v as f32).collect();
        achieved.push(holds(hold1) as i32 as f32);
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

    /// Distance from the handover point to the goal (m).
    fn tip_error(&self, state: &ArmState) -> f64 {
        (self.handover(&state.objects[0].pose).point - self.goal).norm()
    }

    /// PSM1 holds still, closed, while PSM2 comes down over the handover
    /// point with its jaw plane across the wire and closes on it; once PSM2
    /// holds it, PSM1 opens and rises clear; then PSM2 carries the
    /// handover point to the goal. If PSM2 loses the needle, it starts over.
    fn oracle_action(&self, state: &ArmState) -> Vec<f32> {
        let c = &self.config.control;
        let psm2 = &state.others[0];
        let needle = &state.objects[0];
        let (held1, held2) = (holds(&needle.hold), holds(&psm2.objects[0].hold));
        let handover = self.handover(&needle.pose);
        let (jaw_closed, jaw_open) = (-1.0, 1.0);
        // PSM2's jaw has closed on the wire (not still swinging shut).
        let wire_deg = self.wire_opening(self.params.grasp_depth_m).to_degrees();
        let taken = held2 && (psm2.objects[0].hold.welded || jaw_settled(psm2, wire_deg));
        // PSM1's jaw is open wide enough to slide off the wire.
        let open1 = state.joints[6] > (wire_deg + 18.0).to_radians();
        // PSM1's open blades are clear above the wire it held (or as high as it may go).
        let first = self.first_grip(&needle.pose);
        let clear = state.tip.y > first.point.y + self.params.grasp_depth_m + 0.006 || state.tip_command.y >= c.workspace_max[1] - 1e-6;
        let still1 = state.tip_command;
        let (first, second) = if !taken {
            // PSM1 holds on (or, the needle lost, waits clear); PSM2 takes it.
            // Closely: PSM1 holds the needle, so closing blades off the wire
            // slide off it instead of centring it between them.
            let (target, jaw, yaw) = approach(psm2, &handover, self.params.grasp_depth_m, 0.0003, c);
            let jaw1 = if held1 || !open1 { jaw_closed } else { jaw_open };
            (oracle_action_to(state, c, &still1, jaw1, 0.0), oracle_action_to(psm2, c, &target, jaw, yaw))
        } else if held1 || !open1 || !clear {
            // Both hold it: PSM1 opens, then rises clear of the wire.
            let up = if held1 || !open1 { still1 } else { still1 + Vector3::new(0.0, c.max_step_m, 0.0) };
            (oracle_action_to(state, c, &up, jaw_open, 0.0), oracle_action_to(psm2, c, &psm2.tip_command, jaw_closed, 0.0))
        } else {
            // PSM2 alone holds it: to the goal, at half speed (a needle held
            // off its centre of mass swings out of the blades when jerked).
            let to = psm2.tip_command + (self.goal - handover.point);
            let mut carry = oracle_action_to(psm2, c, &to, jaw_closed, 0.0);
            carry[..3].iter_mut().for_each(|v| *v *= CARRY_SPEED);
            (oracle_action_to(state, c, &still1, jaw_open, 0.0), carry)
        };
        first.into_iter().chain(second).collect()
    }
}
