//! EcmStaticTrack (SurRoL StaticTrack, with the check it meant to make):
//! keep a target cube centred in the endoscope's image, among distractor
//! cubes, with the image level. Success: the target's image point within
//! `centre_tolerance` (normalised, 0.01) of the centre **and** the horizon
//! within `horizon_tolerance_rad` (0.01) of level.
//!
//! Observation (18): the ECM's state (11), where the target appears (2, see
//! below), the horizon's misorientation as (sin, cos) (2), and the target's
//! position (3, world). Goal (3): where the target appears and the
//! horizon's misorientation (rad); the desired goal is (0, 0, 0).
//!
//! Where the target appears: the x and y of the unit direction toward it in
//! the camera frame, divided by tan(fov / 2). Inside the image this is the
//! normalised image point times the cosine of the target's angle off the
//! view axis (within 2e-5 of the image point inside the 0.01 tolerance),
//! and unlike the image point it stays continuous when the target leaves
//! the view or passes behind the camera, which a learner's goals need.

use rand::RngExt;
use rapier3d::na::{Isometry3, Vector3};
use rapier3d::prelude::PhysicsWorld;
use serde::{Deserialize, Serialize};

use super::camera_view::{CameraScene, ECM_STATE_DIM, appears_at, check_camera_task, horizon, off_axis_m, push_ecm_state, servo_action};
use super::{ArmState, Observation, RewardMode, StartPose, Task, TaskConfig};
use crate::error::{Error, Result};
use crate::rng::Rng;
use crate::sim::camera::CameraModel;
use crate::sim::scene::add_fixed_box;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EcmStaticTrackConfig {
    pub scene: CameraScene,
    /// Half the edge of the target and distractor cubes (m).
    pub cube_half_m: f64,
    /// The target's centre is uniform within ±this in x and z (m).
    pub target_region_m: f64,
    /// Distractor cubes, uniform within ±`distractor_region_m`, at least
    /// `distractor_gap_m` from the target.
    pub distractors: usize,
    pub distractor_region_m: f64,
    pub distractor_gap_m: f64,
    /// The camera starts aimed at a point up to this far from the target in
    /// x and z (m), its tip this far from the RCM (m).
    pub aim_offset_m: f64,
    pub start_distance_m: [f64; 2],
    /// Success: the target within this of the image centre (normalised).
    pub centre_tolerance: f64,
    /// Success: the horizon within this of level (rad).
    pub horizon_tolerance_rad: f64,
    /// The oracle's servo gain: the share of each error it takes away per step.
    pub oracle_gain: f64,
}

pub struct EcmStaticTrack {
    config: TaskConfig,
    params: EcmStaticTrackConfig,
    camera: CameraModel,
    target: Vector3<f64>,
    /// The distractors' centres this episode (world).
    pub distractors: Vec<Vector3<f64>>,
}

impl EcmStaticTrack {
    pub fn new(config: &TaskConfig) -> Result<Self> {
        config.only_tables(&["ecm_static_track"])?;
        let p: EcmStaticTrackConfig = config.table("ecm_static_track")?;
        let camera = check_camera_task(config, "ecm_static_track.scene", &p.scene)?;
        let bad = |message: String| Err(Error::Config { origin: "task config".into(), message });
        for (field, v) in [
            ("cube_half_m", p.cube_half_m),
            ("centre_tolerance", p.centre_tolerance),
            ("horizon_tolerance_rad", p.horizon_tolerance_rad),
            ("start_distance_m[0]", p.start_distance_m[0]),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return bad(format!("ecm_static_track.{field} = {v} must be > 0"));
            }
        }
        for (field, v) in [
            ("target_region_m", p.target_region_m),
            ("distractor_region_m", p.distractor_region_m),
            ("distractor_gap_m", p.distractor_gap_m),
            ("aim_offset_m", p.aim_offset_m),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return bad(format!("ecm_static_track.{field} = {v} must be >= 0"));
            }
        }
        if !(p.start_distance_m[1].is_finite() && p.start_distance_m[0] <= p.start_distance_m[1]) {
            return bad(format!("ecm_static_track.start_distance_m = {:?} must be [low, high] with low <= high", p.start_distance_m));
        }
        if p.distractors > 16 {
            return bad(format!("ecm_static_track.distractors = {} is more than 16", p.distractors));
        }
        if !(p.oracle_gain > 0.0 && p.oracle_gain <= 1.0) {
            return bad(format!("ecm_static_track.oracle_gain = {} must lie in (0, 1]", p.oracle_gain));
        }
        Ok(Self { config: config.clone(), params: p, camera, target: Vector3::zeros(), distractors: Vec::new() })
    }

    /// The target cube's centre this episode (world).
    pub fn target(&self) -> Vector3<f64> {
        self.target
    }

    fn goal(&self, state: &ArmState) -> [f32; 3] {
        let [x, y] = appears_at(&self.camera, state, &self.target);
        [x, y, horizon(state) as f32]
    }
}

impl Task for EcmStaticTrack {
    fn name(&self) -> &'static str {
        "ecm-static-track"
    }

    fn config(&self) -> &TaskConfig {
        &self.config
    }

    fn reset(&mut self, world: &mut PhysicsWorld, rng: &mut Rng) -> StartPose {
        let p = &self.params;
        p.scene.build(world);
        let half = Vector3::repeat(p.cube_half_m);
        let uniform = |r: f64, rng: &mut Rng| if r > 0.0 { rng.random_range(-r..r) } else { 0.0 };
        self.target = Vector3::new(uniform(p.target_region_m, rng), p.cube_half_m, uniform(p.target_region_m, rng));
        add_fixed_box(world, &Isometry3::translation(self.target.x, self.target.y, self.target.z), half);
        self.distractors.clear();
        // Drawn until placed (a crowded config places fewer after 1,000 tries).
        for _ in 0..1000 {
            if self.distractors.len() == p.distractors {
                break;
            }
            let d = Vector3::new(uniform(p.distractor_region_m, rng), p.cube_half_m, uniform(p.distractor_region_m, rng));
            let clear = (d - self.target).norm() >= p.distractor_gap_m && self.distractors.iter().all(|o| (d - o).norm() >= 2.0 * p.cube_half_m);
            if clear {
                add_fixed_box(world, &Isometry3::translation(d.x, d.y, d.z), half);
                self.distractors.push(d);
            }
        }
        // The camera aims near the target, its image rolled.
        let aim = self.target + Vector3::new(uniform(p.aim_offset_m, rng), 0.0, uniform(p.aim_offset_m, rng));
        let [lo, hi] = p.start_distance_m;
        let distance = if lo < hi { rng.random_range(lo..hi) } else { lo };
        let rcm = Vector3::from(self.config.robot.rcm);
        let tip = rcm + (aim - rcm).normalize() * distance;
        let y = self.config.start.yaw_deg.to_radians();
        StartPose { tip, yaw: if y > 0.0 { rng.random_range(-y..y) } else { 0.0 }, holding: None }
    }

    fn observation_dim(&self) -> usize {
        ECM_STATE_DIM + 7
    }

    fn goal_dim(&self) -> usize {
        3
    }

    fn observe(&self, state: &ArmState) -> Observation {
        let achieved = self.goal(state);
        let h = horizon(state);
        let mut observation = Vec::with_capacity(ECM_STATE_DIM + 7);
        push_ecm_state(state, &mut observation);
        observation.extend([achieved[0], achieved[1], h.sin() as f32, h.cos() as f32]);
        observation.extend(self.target.iter().map(|&v| v as f32));
        Observation { observation, achieved_goal: achieved.to_vec(), desired_goal: vec![0.0; 3] }
    }

    fn compute_reward(&self, achieved: &[f32], desired: &[f32]) -> f32 {
        match self.config.episode.reward {
            RewardMode::Sparse => -((!self.is_success(achieved, desired)) as i32 as f32),
            RewardMode::Dense => -((achieved[0] - desired[0]).hypot(achieved[1] - desired[1]) + (achieved[2] - desired[2]).abs()),
        }
    }

    fn is_success(&self, achieved: &[f32], desired: &[f32]) -> bool {
        (achieved[0] - desired[0]).hypot(achieved[1] - desired[1]) <= self.params.centre_tolerance as f32
            && (achieved[2] - desired[2]).abs() <= self.params.horizon_tolerance_rad as f32
    }

    /// The viewer marks the target cube.
    fn goal_point(&self, _desired: &[f32]) -> Option<Vector3<f64>> {
        Some(self.target)
    }

    /// The goal is an image point, not a place: the viewer traces the camera tip.
    fn traced_point(&self, _achieved: &[f32]) -> Option<Vector3<f64>> {
        None
    }

    /// The target's distance from the camera's view axis (m).
    fn tip_error(&self, state: &ArmState) -> f64 {
        off_axis_m(state, &self.target)
    }

    fn orientation_error(&self, state: &ArmState) -> Option<f64> {
        Some(horizon(state).abs())
    }

    /// Image-based visual servoing: centre the target's image point, level the horizon.
    fn oracle_action(&self, state: &ArmState) -> Vec<f32> {
        servo_action(&self.camera, &self.config, state, Some(&self.target), self.params.oracle_gain)
    }
}
