//! EcmReach (SurRoL ECMReach): bring the endoscope's camera tip within the
//! tolerance of a goal sampled in a 10 cm cube in front of its RCM.
//!
//! Observation (11, world frame): the ECM's state (camera tip, its
//! velocity, commanded roll, four joints). Achieved goal: the camera tip.
//! Desired goal: the goal position.

use rand::RngExt;
use rapier3d::na::Vector3;
use rapier3d::prelude::PhysicsWorld;
use serde::{Deserialize, Serialize};

use super::camera_view::{CameraScene, ECM_STATE_DIM, check_camera_task, push_ecm_state};
use super::{ArmState, Observation, StartPose, Task, TaskConfig, point_goal_reached, point_goal_reward};
use crate::error::{Error, Result};
use crate::rng::Rng;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EcmReachConfig {
    pub scene: CameraScene,
    /// Goals are uniform in this box (world, m).
    pub goal_min: [f64; 3],
    pub goal_max: [f64; 3],
}

pub struct EcmReach {
    config: TaskConfig,
    params: EcmReachConfig,
    goal: Vector3<f64>,
}

impl EcmReach {
    pub fn new(config: &TaskConfig) -> Result<Self> {
        config.only_tables(&["ecm_reach"])?;
        let params: EcmReachConfig = config.table("ecm_reach")?;
        check_camera_task(config, "ecm_reach.scene", &params.scene)?;
        for k in 0..3 {
            if !(params.goal_min[k].is_finite() && params.goal_max[k].is_finite() && params.goal_min[k] <= params.goal_max[k]) {
                return Err(Error::Config {
                    origin: "task config".into(),
                    message: format!("ecm_reach.goal_min {:?} must not exceed ecm_reach.goal_max {:?}", params.goal_min, params.goal_max),
                });
            }
        }
        Ok(Self { config: config.clone(), params, goal: Vector3::zeros() })
    }
}

impl Task for EcmReach {
    fn name(&self) -> &'static str {
        "ecm-reach"
    }

    fn config(&self) -> &TaskConfig {
        &self.config
    }

    fn reset(&mut self, world: &mut PhysicsWorld, rng: &mut Rng) -> StartPose {
        self.params.scene.build(world);
        let (lo, hi) = (self.params.goal_min, self.params.goal_max);
        self.goal = Vector3::from_fn(|k, _| if lo[k] < hi[k] { rng.random_range(lo[k]..hi[k]) } else { lo[k] });
        self.config.start.sample(rng)
    }

    fn observation_dim(&self) -> usize {
        ECM_STATE_DIM
    }

    fn goal_dim(&self) -> usize {
        3
    }

    fn observe(&self, state: &ArmState) -> Observation {
        let mut observation = Vec::with_capacity(ECM_STATE_DIM);
        push_ecm_state(state, &mut observation);
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

    /// Straight toward the goal at full speed, slower inside the last step.
    fn oracle_action(&self, state: &ArmState) -> Vec<f32> {
        let delta = (self.goal - state.tip) / self.config.control.max_step_m;
        let v = delta / delta.amax().max(1.0);
        vec![v.x as f32, v.y as f32, v.z as f32, 0.0]
    }
}
