//! EcmMisorient (SurRoL MisOrient): the endoscope starts with its image
//! rolled away from level; roll it until the horizon is level.
//!
//! Observation (13): the ECM's state (11) and the horizon's misorientation
//! as (sin, cos). Goal (1): the horizon's misorientation (rad); the desired
//! one is 0. Success: |achieved − desired| within `tolerance_rad` (0.01).

use rand::RngExt;
use rapier3d::prelude::PhysicsWorld;
use serde::{Deserialize, Serialize};

use super::camera_view::{CameraScene, ECM_STATE_DIM, check_camera_task, horizon, push_ecm_state, servo_action};
use super::{ArmState, Observation, RewardMode, StartPose, Task, TaskConfig};
use crate::error::{Error, Result};
use crate::rng::Rng;
use crate::sim::camera::CameraModel;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EcmMisorientConfig {
    pub scene: CameraScene,
    /// Success: the horizon within this of level (rad).
    pub tolerance_rad: f64,
    /// The oracle's servo gain: the share of the error it takes away per step.
    pub oracle_gain: f64,
}

pub struct EcmMisorient {
    config: TaskConfig,
    params: EcmMisorientConfig,
    camera: CameraModel,
}

impl EcmMisorient {
    pub fn new(config: &TaskConfig) -> Result<Self> {
        config.only_tables(&["ecm_misorient"])?;
        let params: EcmMisorientConfig = config.table("ecm_misorient")?;
        let camera = check_camera_task(config, "ecm_misorient.scene", &params.scene)?;
        let bad = |message: String| Err(Error::Config { origin: "task config".into(), message });
        if !(params.tolerance_rad.is_finite() && params.tolerance_rad > 0.0) {
            return bad(format!("ecm_misorient.tolerance_rad = {} must be > 0", params.tolerance_rad));
        }
        if !(params.oracle_gain > 0.0 && params.oracle_gain <= 1.0) {
            return bad(format!("ecm_misorient.oracle_gain = {} must lie in (0, 1]", params.oracle_gain));
        }
        Ok(Self { config: config.clone(), params, camera })
    }
}

impl Task for EcmMisorient {
    fn name(&self) -> &'static str {
        "ecm-misorient"
    }

    fn config(&self) -> &TaskConfig {
        &self.config
    }

    fn reset(&mut self, world: &mut PhysicsWorld, rng: &mut Rng) -> StartPose {
        self.params.scene.build(world);
        let mut start = self.config.start.sample(rng);
        // At least 0.1 rad away from a zero roll, so that the image starts visibly turned.
        let y = self.config.start.yaw_deg.to_radians();
        if start.yaw.abs() < 0.1 && y > 0.1 {
            start.yaw = 0.1_f64.copysign(start.yaw) + rng.random_range(0.0..(y - 0.1)) * start.yaw.signum();
        }
        start
    }

    fn observation_dim(&self) -> usize {
        ECM_STATE_DIM + 2
    }

    fn goal_dim(&self) -> usize {
        1
    }

    fn observe(&self, state: &ArmState) -> Observation {
        let h = horizon(state);
        let mut observation = Vec::with_capacity(ECM_STATE_DIM + 2);
        push_ecm_state(state, &mut observation);
        observation.extend([h.sin() as f32, h.cos() as f32]);
        Observation { observation, achieved_goal: vec![h as f32], desired_goal: vec![0.0] }
    }

    fn compute_reward(&self, achieved: &[f32], desired: &[f32]) -> f32 {
        let error = (achieved[0] - desired[0]).abs();
        match self.config.episode.reward {
            RewardMode::Sparse => -((!self.is_success(achieved, desired)) as i32 as f32),
            RewardMode::Dense => -error,
        }
    }

    fn is_success(&self, achieved: &[f32], desired: &[f32]) -> bool {
        (achieved[0] - desired[0]).abs() <= self.params.tolerance_rad as f32
    }

    /// No position goal: the camera tip may stay where it is.
    fn tip_error(&self, _state: &ArmState) -> f64 {
        0.0
    }

    fn orientation_error(&self, state: &ArmState) -> Option<f64> {
        Some(horizon(state).abs())
    }

    /// Visual servoing on the horizon alone: roll against its error.
    fn oracle_action(&self, state: &ArmState) -> Vec<f32> {
        servo_action(&self.camera, &self.config, state, None, self.params.oracle_gain)
    }
}
