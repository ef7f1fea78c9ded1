//! PoseReach: reach the point 5 mm above the needle with the jaw plane laid
//! across the needle — position within the tolerance and jaw-plane angle
//! within `angle_tolerance_deg`. The approach before driving a needle.
//!
//! Observation: as NeedleReach (14). Goals (5, world frame): tip position
//! (3, m) and the jaw-plane angle ψ as (cos 2ψ, sin 2ψ) — a plane's angle is
//! defined modulo 180°, and this pair is continuous across that wrap.

use rapier3d::na::Vector3;
use rapier3d::prelude::PhysicsWorld;
use serde::{Deserialize, Serialize};

use super::needle_reach::NeedleReach;
use super::{ArmState, Observation, RewardMode, StartPose, Task, TaskConfig};
use crate::error::{Error, Result};
use crate::rng::Rng;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoseReachConfig {
    pub angle_tolerance_deg: f64,
}

impl PoseReachConfig {
    pub fn validate(&self, origin: &str) -> Result<()> {
        if !(self.angle_tolerance_deg.is_finite() && self.angle_tolerance_deg > 0.0 && self.angle_tolerance_deg <= 90.0) {
            return Err(Error::Config {
                origin: origin.into(),
                message: format!("pose_reach.angle_tolerance_deg = {} must lie in (0, 90]", self.angle_tolerance_deg),
            });
        }
        Ok(())
    }
}

/// `angle` brought into [−π/2, π/2): the same plane.
pub fn wrap_half_turn(angle: f64) -> f64 {
    let pi = std::f64::consts::PI;
    (angle + pi / 2.0).rem_euclid(pi) - pi / 2.0
}

pub struct PoseReach {
    reach: NeedleReach,
    tolerance_rad: f64,
    /// Goal jaw-plane angle (rad, in [−π/2, π/2)).
    goal_yaw: f64,
}

impl PoseReach {
    pub fn new(config: &TaskConfig) -> Result<Self> {
        config.only_tables(&["needle_reach", "pose_reach"])?;
        let params: PoseReachConfig = config.table("pose_reach")?;
        params.validate("task config")?;
        Ok(Self { reach: NeedleReach::with_scene(config)?, tolerance_rad: params.angle_tolerance_deg.to_radians(), goal_yaw: 0.0 })
    }

    pub fn goal_yaw(&self) -> f64 {
        self.goal_yaw
    }

    fn angle_goal(yaw: f64) -> [f32; 2] {
        [(2.0 * yaw).cos() as f32, (2.0 * yaw).sin() as f32]
    }

    /// Angle between two jaw planes given as (cos 2ψ, sin 2ψ) pairs (rad).
    fn angle_between(a: &[f32], b: &[f32]) -> f32 {
        let dot = a[0] * b[0] + a[1] * b[1];
        let cross = a[0] * b[1] - a[1] * b[0];
        0.5 * cross.atan2(dot).abs()
    }
}

impl Task for PoseReach {
    fn name(&self) -> &'static str {
        "pose-reach"
    }

    fn config(&self) -> &TaskConfig {
        self.reach.config()
    }

    fn reset(&mut self, world: &mut PhysicsWorld, rng: &mut Rng) -> StartPose {
        let start = self.reach.reset(world, rng);
        // The needle lies along world x turned by φ about Y; the jaws grasp it
        // when their plane is across the wire at its middle: ψ = φ + 90°.
        let (axis, phi) = self.reach.needle_pose.rotation.axis_angle().map_or((Vector3::y(), 0.0), |(a, ang)| (a.into_inner(), ang));
        let phi = if axis.y >= 0.0 { phi } else { -phi };
        self.goal_yaw = wrap_half_turn(phi + std::f64::consts::FRAC_PI_2);
        start
    }

    fn observation_dim(&self) -> usize {
        self.reach.observation_dim()
    }

    fn goal_dim(&self) -> usize {
        5
    }

    fn observe(&self, state: &ArmState) -> Observation {
        let mut obs = self.reach.observe(state);
        obs.achieved_goal.extend(Self::angle_goal(state.tip_yaw));
        obs.desired_goal.extend(Self::angle_goal(self.goal_yaw));
        obs
    }

    fn compute_reward(&self, achieved: &[f32], desired: &[f32]) -> f32 {
        let d = super::goal_distance(&achieved[..3], &desired[..3]);
        let angle = Self::angle_between(&achieved[3..5], &desired[3..5]);
        let c = &self.config().episode;
        match c.reward {
            RewardMode::Sparse => -((!self.is_success(achieved, desired)) as i32 as f32),
            // An angle error of one tolerance costs as much as one position tolerance.
            RewardMode::Dense => -(d + angle * (c.success_tolerance_m / self.tolerance_rad) as f32),
        }
    }

    fn is_success(&self, achieved: &[f32], desired: &[f32]) -> bool {
        super::goal_distance(&achieved[..3], &desired[..3]) <= self.config().episode.success_tolerance_m as f32
            && Self::angle_between(&achieved[3..5], &desired[3..5]) <= self.tolerance_rad as f32
    }

    fn tip_error(&self, state: &ArmState) -> f64 {
        self.reach.tip_error(state)
    }

    fn orientation_error(&self, state: &ArmState) -> Option<f64> {
        Some(wrap_half_turn(state.tip_yaw - self.goal_yaw).abs())
    }

    /// NeedleReach's straight approach, and the wrist turned the shorter way
    /// to the goal plane that the yaw limits allow.
    fn oracle_action(&self, state: &ArmState) -> Vec<f32> {
        let mut action = self.reach.oracle_action(state);
        let c = &self.config().control;
        let limit = c.yaw_limit_deg.to_radians();
        let mut target = state.yaw + wrap_half_turn(self.goal_yaw - state.yaw);
        if target.abs() > limit {
            target -= std::f64::consts::PI * target.signum();
        }
        action[3] = ((target - state.yaw) / c.max_yaw_step_deg.to_radians()).clamp(-1.0, 1.0) as f32;
        action
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_turn_wrap_keeps_planes() {
        let pi = std::f64::consts::PI;
        assert!((wrap_half_turn(0.3) - 0.3).abs() < 1e-12);
        assert!((wrap_half_turn(0.3 + pi) - 0.3).abs() < 1e-12);
        assert!((wrap_half_turn(-0.3 - 2.0 * pi) + 0.3).abs() < 1e-12);
        assert!(wrap_half_turn(pi / 2.0 + 0.01) < -1.5);
    }
}
