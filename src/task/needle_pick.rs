//! NeedlePick (as SurRoL's): a suture needle lies loose on the tray pad;
//! grasp it and bring its midpoint to a goal above the tray. The needle is a
//! dynamic body that moves only because the instrument touches it (or, in
//! the assisted mode, because the weld holds it after a real two-blade grasp).
//!
//! Observation (34, world frame, SI units):
//! - 0..14: the instrument, as NeedleReach's: tip position (3), tip velocity
//!   (3), commanded wrist yaw (1), the six arm joints and the jaw angle (7);
//! - 14..17: needle midpoint position;
//! - 17..23: needle orientation, the first two columns of its rotation
//!   matrix (continuous, unlike a quaternion's sign);
//! - 23..26: needle midpoint minus the jaws' grasp point;
//! - 26..29: the grasp point on the needle (its midpoint);
//! - 29..32: needle velocity;
//! - 32: 1 while both blades hold the needle, else 0;
//! - 33: the weaker blade's force on the needle (N).
//!
//! Achieved goal: the needle midpoint. Desired goal: the goal point.
//! Success: the midpoint within `episode.success_tolerance_m` of the goal.

use rapier3d::na::{Isometry3, Vector3};
use rapier3d::prelude::{PhysicsWorld, RigidBodyHandle};
use serde::{Deserialize, Serialize};

use super::pose_reach::wrap_half_turn;
use super::{ArmState, Observation, StartPose, Task, TaskConfig, flat_pose, point_goal_reached, point_goal_reward};
use crate::error::{Error, Result};
use crate::rng::{Rng, standard_normal};
use crate::sim::convert::from_pose;
use crate::sim::scene::{NeedleShape, ObjectMaterial, add_fixed_box, add_loose_needle, add_soft_pad};

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
        let bad = |message: String| Err(Error::Config { origin: "task config".into(), message });
        let n = &self.needle;
        let positive = [
            ("needle_pick.needle.arc_radius", n.arc_radius),
            ("needle_pick.needle.arc_deg", n.arc_deg),
            ("needle_pick.needle.wire_radius", n.wire_radius),
            ("needle_pick.needle_material.density_kg_m3", self.needle_material.density_kg_m3),
            ("needle_pick.goal_height_m", self.goal_height_m),
            ("needle_pick.grasp_depth_m", self.grasp_depth_m),
        ];
        for (field, v) in positive {
            if !(v.is_finite() && v > 0.0) {
                return bad(format!("{field} = {v} must be > 0"));
            }
        }
        let non_negative = [
            ("needle_pick.needle_material.friction", self.needle_material.friction),
            ("needle_pick.pad_friction", self.pad_friction),
            ("needle_pick.needle_region_m", self.needle_region_m),
            ("needle_pick.goal_spread_m", self.goal_spread_m),
            ("needle_pick.weld_after_lift_m", self.weld_after_lift_m),
        ];
        for (field, v) in non_negative {
            if !(v.is_finite() && v >= 0.0) {
                return bad(format!("{field} = {v} must be >= 0"));
            }
        }
        if n.arc_deg > 360.0 {
            return bad(format!("needle_pick.needle.arc_deg = {} is more than a full circle", n.arc_deg));
        }
        for (field, h) in [("needle_pick.tray_half_extents", self.tray_half_extents), ("needle_pick.pad_half_extents", self.pad_half_extents)] {
            if !h.iter().all(|v| v.is_finite() && *v > 0.0) {
                return bad(format!("{field} = {h:?} must be positive"));
            }
        }
        Ok(())
    }
}

pub struct NeedlePick {
    config: TaskConfig,
    params: NeedlePickConfig,
    goal: Vector3<f64>,
    /// The needle's body, and its resting height this episode.
    needle: [RigidBodyHandle; 1],
    rest_height: f64,
}

/// Heights the oracle works at, above the grasp height (m).
const APPROACH_CLEARANCE_M: f64 = 0.012;

impl NeedlePick {
    pub fn new(config: &TaskConfig) -> Result<Self> {
        config.only_tables(&["needle_pick"])?;
        let params: NeedlePickConfig = config.table("needle_pick")?;
        params.validate()?;
        Ok(Self { config: config.clone(), params, goal: Vector3::zeros(), needle: [RigidBodyHandle::invalid()], rest_height: 0.0 })
    }

    pub fn goal(&self) -> Vector3<f64> {
        self.goal
    }

    pub fn params(&self) -> &NeedlePickConfig {
        &self.params
    }

    /// Height of the pad's top surface (world y).
    pub fn pad_top(&self) -> f64 {
        2.0 * self.params.pad_half_extents[1]
    }

    /// The jaws' grasp point for a tip (hinge) position: down the blades,
    /// which the tasks keep pointing straight down.
    fn grasp_point(&self, tip: &Vector3<f64>) -> Vector3<f64> {
        tip - Vector3::new(0.0, self.params.grasp_depth_m, 0.0)
    }

    /// The needle's heading φ: its midpoint tangent is world x turned by φ about Y.
    fn heading(pose: &Isometry3<f64>) -> f64 {
        let t = pose.rotation * Vector3::x();
        (-t.z).atan2(t.x)
    }
}

impl Task for NeedlePick {
    fn name(&self) -> &'static str {
        "needle-pick"
    }

    fn config(&self) -> &TaskConfig {
        &self.config
    }

    fn reset(&mut self, world: &mut PhysicsWorld, rng: &mut Rng) -> StartPose {
        let p = &self.params;
        let tray = Vector3::from(p.tray_half_extents);
        let pad = Vector3::from(p.pad_half_extents);
        // The tray's top surface is the world's y = 0 plane; the pad lies on it.
        add_fixed_box(world, &Isometry3::translation(0.0, -tray.y, 0.0), tray);
        add_soft_pad(world, &Isometry3::translation(0.0, pad.y, 0.0), pad, p.pad_friction);

        // Resting on the pad: the wire's axis one wire radius above it.
        self.rest_height = self.pad_top() + p.needle.wire_radius;
        let pose = flat_pose(rng, p.needle_region_m, self.rest_height);
        self.needle = [add_loose_needle(world, &pose, &p.needle, &p.needle_material)];

        let n = standard_normal(rng, 2);
        let spread = |v: f32| (v as f64).clamp(-2.0, 2.0) * p.goal_spread_m;
        self.goal = Vector3::new(spread(n[0]), p.goal_height_m, spread(n[1]));

        self.config.start.sample(rng)
    }

    fn objects(&self) -> &[RigidBodyHandle] {
        &self.needle
    }

    fn may_weld(&self, world: &PhysicsWorld, object: RigidBodyHandle) -> bool {
        let lifted = from_pose(world.bodies[object].position()).translation.vector.y - self.rest_height;
        lifted >= self.params.weld_after_lift_m
    }

    fn observation_dim(&self) -> usize {
        34
    }

    fn goal_dim(&self) -> usize {
        3
    }

    fn observe(&self, state: &ArmState) -> Observation {
        let needle = &state.objects[0];
        let centre = needle.pose.translation.vector;
        let rotation = needle.pose.rotation.to_rotation_matrix();
        let m = rotation.matrix();
        let mut o = Vec::with_capacity(34);
        o.extend(state.tip.iter().map(|&v| v as f32));
        o.extend(state.tip_velocity.iter().map(|&v| v as f32));
        o.push(state.yaw as f32);
        o.extend(state.joints.iter().map(|&v| v as f32));
        o.extend(centre.iter().map(|&v| v as f32));
        o.extend(m.column(0).iter().chain(m.column(1).iter()).map(|&v| v as f32));
        o.extend((centre - self.grasp_point(&state.tip)).iter().map(|&v| v as f32));
        o.extend(centre.iter().map(|&v| v as f32));
        o.extend(needle.velocity.iter().map(|&v| v as f32));
        o.push(needle.hold.grasped as i32 as f32);
        o.push(needle.hold.grip_force_n() as f32);
        Observation {
            observation: o,
            achieved_goal: centre.iter().map(|&v| v as f32).collect(),
            desired_goal: self.goal.iter().map(|&v| v as f32).collect(),
        }
    }

    fn compute_reward(&self, achieved: &[f32], desired: &[f32]) -> f32 {
        point_goal_reward(&self.config.episode, achieved, desired)
    }

    fn is_success(&self, achieved: &[f32], desired: &[f32]) -> bool {
        point_goal_reached(&self.config.episode, achieved, desired)
    }

    /// Distance from the needle's midpoint to the goal (m).
    fn tip_error(&self, state: &ArmState) -> f64 {
        (state.objects[0].pose.translation.vector - self.goal).norm()
    }

    /// Above the midpoint with the jaw plane across the wire, open; down
    /// until the blade tips clear the pad; close; once both blades hold it,
    /// carry the midpoint to the goal. If the needle slips out, start over.
    fn oracle_action(&self, state: &ArmState) -> Vec<f32> {
        let c = &self.config.control;
        let needle = &state.objects[0];
        let centre = needle.pose.translation.vector;
        let jaw_closed = -1.0;
        let jaw_open = 1.0;
        let depth = self.params.grasp_depth_m;
        // The tip (hinge) height at which the grasp point sits on the wire's axis.
        let grasp_tip = centre + Vector3::new(0.0, depth, 0.0);

        // The jaw plane across the wire: ψ = φ + 90°, turned the shorter way within the yaw limits.
        let limit = c.yaw_limit_deg.to_radians();
        let mut yaw_target = state.yaw + wrap_half_turn(Self::heading(&needle.pose) + std::f64::consts::FRAC_PI_2 - state.yaw);
        if yaw_target.abs() > limit {
            yaw_target -= std::f64::consts::PI * yaw_target.signum();
        }
        let yaw_error = yaw_target - state.yaw;
        let yaw_action = (yaw_error / c.max_yaw_step_deg.to_radians()).clamp(-1.0, 1.0);

        // The jaw has closed on the wire (not still swinging shut).
        let settled = state.joints[6] < 15f64.to_radians() && state.joint_velocities[6].abs() < 1.0;
        let (target, jaw, yaw) = if needle.hold.welded || needle.hold.grasped && settled {
            // Carry: the midpoint to the goal.
            (state.tip_command + (self.goal - centre), jaw_closed, 0.0)
        } else if needle.hold.grasped {
            // Let the jaw finish closing before lifting.
            (state.tip_command, jaw_closed, 0.0)
        } else {
            let horizontal = Vector3::new(grasp_tip.x - state.tip_command.x, 0.0, grasp_tip.z - state.tip_command.z).norm();
            let above = grasp_tip + Vector3::new(0.0, APPROACH_CLEARANCE_M, 0.0);
            if horizontal > 0.0015 || yaw_error.abs() > 3f64.to_radians() {
                // Go above the needle (up first if low, so the blades never sweep it).
                let low = state.tip_command.y < above.y - 0.003;
                let target = if low { Vector3::new(state.tip_command.x, above.y, state.tip_command.z) } else { above };
                (target, jaw_open, yaw_action)
            } else if state.tip_command.y > grasp_tip.y + 0.0005 {
                // Down onto the wire, open.
                (grasp_tip, jaw_open, yaw_action)
            } else {
                // Close on it.
                (grasp_tip, jaw_closed, yaw_action)
            }
        };
        let delta = (target - state.tip_command) / c.max_step_m;
        let v = delta / delta.amax().max(1.0);
        vec![v.x as f32, v.y as f32, v.z as f32, yaw as f32, jaw as f32]
    }
}
