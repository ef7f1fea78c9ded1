//! NeedleReach: bring the tip within the tolerance of a point above a needle.
//!
//! Observation (14, world frame): tip position (3, m), tip velocity (3, m/s),
//! commanded wrist yaw (1, rad), the six arm joint positions (rad, insertion
//! in m) and the jaw angle (1, rad). Achieved goal: the tip position.
//! Desired goal: the goal position.

use rapier3d::na::{Isometry3, Vector3};
use rapier3d::prelude::PhysicsWorld;
use serde::{Deserialize, Serialize};

use super::{ArmState, Observation, StartPose, Task, TaskConfig, flat_pose, point_goal_reached, point_goal_reward};
use crate::error::{Error, Result};
use crate::rng::Rng;
use crate::sim::scene::{NeedleShape, add_fixed_box, add_needle};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NeedleReachConfig {
    pub tray_half_extents: [f64; 3],
    pub pad_half_extents: [f64; 3],
    pub needle: NeedleShape,
    pub needle_region_m: f64,
    pub goal_height_m: f64,
}

impl NeedleReachConfig {
    pub fn validate(&self, origin: &str) -> Result<()> {
        let bad = |message: String| Err(Error::Config { origin: origin.to_string(), message });
        let n = &self.needle;
        for (field, v) in
            [("needle_reach.needle.arc_radius", n.arc_radius), ("needle_reach.needle.arc_deg", n.arc_deg), ("needle_reach.needle.wire_radius", n.wire_radius)]
        {
            if !(v.is_finite() && v > 0.0) {
                return bad(format!("{field} = {v} must be > 0"));
            }
        }
        if !(self.needle_region_m.is_finite() && self.needle_region_m >= 0.0) {
            return bad(format!("needle_reach.needle_region_m = {} must be >= 0", self.needle_region_m));
        }
        if !self.goal_height_m.is_finite() {
            return bad(format!("needle_reach.goal_height_m = {} must be finite", self.goal_height_m));
        }
        Ok(())
    }
}

pub struct NeedleReach {
    config: TaskConfig,
    params: NeedleReachConfig,
    goal: Vector3<f64>,
    /// World pose of the needle's centre this episode.
    pub needle_pose: Isometry3<f64>,
}

impl NeedleReach {
    pub fn new(config: &TaskConfig) -> Result<Self> {
        config.only_tables(&["needle_reach"])?;
        Self::with_scene(config)
    }

    /// The scene and goal of `[needle_reach]`, for tasks that build on it
    /// (they check their own set of tables).
    pub fn with_scene(config: &TaskConfig) -> Result<Self> {
        let params: NeedleReachConfig = config.table("needle_reach")?;
        params.validate("task config")?;
        Ok(Self { config: config.clone(), params, goal: Vector3::zeros(), needle_pose: Isometry3::identity() })
    }

    pub fn goal(&self) -> Vector3<f64> {
        self.goal
    }
}

impl Task for NeedleReach {
    fn name(&self) -> &'static str {
        "needle-reach"
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
        add_fixed_box(world, &Isometry3::translation(0.0, pad.y, 0.0), pad);

        self.needle_pose = flat_pose(rng, p.needle_region_m, 2.0 * pad.y + p.needle.wire_radius);
        add_needle(world, &self.needle_pose, &p.needle);
        self.goal = self.needle_pose.translation.vector + Vector3::new(0.0, p.goal_height_m, 0.0);
        self.config.start.sample(rng)
    }

    fn observation_dim(&self) -> usize {
        14
    }

    fn goal_dim(&self) -> usize {
        3
    }

    fn observe(&self, state: &ArmState) -> Observation {
        let mut observation = Vec::with_capacity(14);
        observation.extend(state.tip.iter().map(|&v| v as f32));
        observation.extend(state.tip_velocity.iter().map(|&v| v as f32));
        observation.push(state.yaw as f32);
        observation.extend(state.joints.iter().map(|&v| v as f32));
        Observation { observation, achieved_goal: state.tip.iter().map(|&v| v as f32).collect(), desired_goal: self.goal.iter().map(|&v| v as f32).collect() }
    }

    fn compute_reward(&self, achieved: &[f32], desired: &[f32]) -> f32 {
        point_goal_reward(&self.config.episode, achieved, desired)
    }

    fn is_success(&self, achieved: &[f32], desired: &[f32]) -> bool {
        point_goal_reached(&self.config.episode, achieved, desired)
    }

    fn tip_error(&self, state: &ArmState) -> f64 {
        (state.tip - self.goal).norm()
    }

    /// Straight toward the goal at full speed, then proportionally slower
    /// inside the last step so the tip lands on the goal instead of overshooting.
    fn oracle_action(&self, state: &ArmState) -> Vec<f32> {
        let delta = (self.goal - state.tip) / self.config.control.max_step_m;
        let scale = delta.amax().max(1.0);
        let v = delta / scale;
        vec![v.x as f32, v.y as f32, v.z as f32, 0.0, 0.0]
    }
}
