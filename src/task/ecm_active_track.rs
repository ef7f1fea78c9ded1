//! EcmActiveTrack (SurRoL ActiveTrack): follow a target cube that moves
//! over the table along a random smooth path, keeping it near the centre of
//! the endoscope's image. Dense reward; the episode ends when the target
//! leaves the view (`end_when_lost`). Reported: the fraction of steps with
//! the target within `centre_tolerance` (0.1, normalised) of the centre
//! (`info.tracking.centred_fraction`).
//!
//! The path: around a centre uniform within ±`target_region_m`, each of x
//! and z is the sum of two sines of amplitude `amplitude_m / 2`, periods
//! uniform in `period_s` and random phases: smooth, at most
//! 2π·amplitude/period_min fast.
//!
//! Observation (21): the ECM's state (11), where the target appears (2, as
//! in ecm-static-track), the horizon's misorientation as (sin, cos) (2),
//! the target's position (3) and velocity (3, world). Goal (2): where the
//! target appears; the desired goal is (0, 0). Success (per step): within
//! `centre_tolerance` of it.

use rand::RngExt;
use rapier3d::na::Vector3;
use rapier3d::prelude::PhysicsWorld;
use serde::{Deserialize, Serialize};

use super::camera_view::{CameraScene, ECM_STATE_DIM, appears_at, camera_pose, check_camera_task, horizon, off_axis_m, push_ecm_state, servo_action};
use super::{ArmState, Observation, RewardMode, StartPose, Task, TaskConfig, TrackingMetrics};
use crate::error::{Error, Result};
use crate::rng::Rng;
use crate::sim::camera::CameraModel;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EcmActiveTrackConfig {
    pub scene: CameraScene,
    /// Half the edge of the target cube (m; drawn by the viewer as the goal point).
    pub cube_half_m: f64,
    /// The path's centre is uniform within ±this in x and z (m).
    pub target_region_m: f64,
    /// The path's reach from its centre in x and in z (m).
    pub amplitude_m: f64,
    /// Each sine's period is uniform in this range (s).
    pub period_s: [f64; 2],
    /// The camera starts aimed at the target, its tip this far from the RCM (m).
    pub start_distance_m: [f64; 2],
    /// The tracking band: success while the target is within this of the centre (normalised).
    pub centre_tolerance: f64,
    /// End the episode when the target leaves the view (SurRoL's rule).
    pub end_when_lost: bool,
    /// The oracle's servo gain.
    pub oracle_gain: f64,
}

/// One axis of the path: two sines.
#[derive(Clone, Copy, Debug, Default)]
struct Wave {
    centre: f64,
    omega: [f64; 2],
    phase: [f64; 2],
}

impl Wave {
    fn at(&self, t: f64, amplitude: f64) -> (f64, f64) {
        let a = amplitude / 2.0;
        let p = self.centre + a * ((self.omega[0] * t + self.phase[0]).sin() + (self.omega[1] * t + self.phase[1]).sin());
        let v = a * (self.omega[0] * (self.omega[0] * t + self.phase[0]).cos() + self.omega[1] * (self.omega[1] * t + self.phase[1]).cos());
        (p, v)
    }
}

pub struct EcmActiveTrack {
    config: TaskConfig,
    params: EcmActiveTrackConfig,
    camera: CameraModel,
    waves: [Wave; 2],
    /// The target's position and velocity now (world).
    target: Vector3<f64>,
    velocity: Vector3<f64>,
    steps: usize,
    centred_steps: usize,
    sum_sq_m2: f64,
    max_m: f64,
}

impl EcmActiveTrack {
    pub fn new(config: &TaskConfig) -> Result<Self> {
        config.only_tables(&["ecm_active_track"])?;
        let p: EcmActiveTrackConfig = config.table("ecm_active_track")?;
        let camera = check_camera_task(config, "ecm_active_track.scene", &p.scene)?;
        let bad = |message: String| Err(Error::Config { origin: "task config".into(), message });
        for (field, v) in [
            ("cube_half_m", p.cube_half_m),
            ("centre_tolerance", p.centre_tolerance),
            ("period_s[0]", p.period_s[0]),
            ("start_distance_m[0]", p.start_distance_m[0]),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return bad(format!("ecm_active_track.{field} = {v} must be > 0"));
            }
        }
        for (field, v) in [("target_region_m", p.target_region_m), ("amplitude_m", p.amplitude_m)] {
            if !(v.is_finite() && v >= 0.0) {
                return bad(format!("ecm_active_track.{field} = {v} must be >= 0"));
            }
        }
        for (field, r) in [("period_s", p.period_s), ("start_distance_m", p.start_distance_m)] {
            if !(r[1].is_finite() && r[0] <= r[1]) {
                return bad(format!("ecm_active_track.{field} = {r:?} must be [low, high] with low <= high"));
            }
        }
        if !(p.oracle_gain > 0.0 && p.oracle_gain <= 1.0) {
            return bad(format!("ecm_active_track.oracle_gain = {} must lie in (0, 1]", p.oracle_gain));
        }
        Ok(Self {
            config: config.clone(),
            params: p,
            camera,
            waves: [Wave::default(); 2],
            target: Vector3::zeros(),
            velocity: Vector3::zeros(),
            steps: 0,
            centred_steps: 0,
            sum_sq_m2: 0.0,
            max_m: 0.0,
        })
    }

    /// The target's centre now (world).
    pub fn target(&self) -> Vector3<f64> {
        self.target
    }

    fn move_target(&mut self, t: f64) {
        let a = self.params.amplitude_m;
        let ((x, vx), (z, vz)) = (self.waves[0].at(t, a), self.waves[1].at(t, a));
        self.target = Vector3::new(x, self.params.cube_half_m, z);
        self.velocity = Vector3::new(vx, 0.0, vz);
    }

    fn image_direction(&self, state: &ArmState) -> [f32; 2] {
        appears_at(&self.camera, state, &self.target)
    }
}

impl Task for EcmActiveTrack {
    fn name(&self) -> &'static str {
        "ecm-active-track"
    }

    fn config(&self) -> &TaskConfig {
        &self.config
    }

    fn reset(&mut self, world: &mut PhysicsWorld, rng: &mut Rng) -> StartPose {
        let p = &self.params;
        p.scene.build(world);
        let uniform = |r: f64, rng: &mut Rng| if r > 0.0 { rng.random_range(-r..r) } else { 0.0 };
        let range = |r: [f64; 2], rng: &mut Rng| if r[0] < r[1] { rng.random_range(r[0]..r[1]) } else { r[0] };
        for k in 0..2 {
            let centre = uniform(p.target_region_m, rng);
            let omega = [std::f64::consts::TAU / range(p.period_s, rng), std::f64::consts::TAU / range(p.period_s, rng)];
            let phase = [rng.random_range(0.0..std::f64::consts::TAU), rng.random_range(0.0..std::f64::consts::TAU)];
            self.waves[k] = Wave { centre, omega, phase };
        }
        (self.steps, self.centred_steps, self.sum_sq_m2, self.max_m) = (0, 0, 0.0, 0.0);
        self.move_target(0.0);
        // The camera starts aimed at the target, its image rolled.
        let distance = range(self.params.start_distance_m, rng);
        let rcm = Vector3::from(self.config.robot.rcm);
        let tip = rcm + (self.target - rcm).normalize() * distance;
        let y = self.config.start.yaw_deg.to_radians();
        StartPose { tip, yaw: if y > 0.0 { rng.random_range(-y..y) } else { 0.0 }, holding: None }
    }

    fn observation_dim(&self) -> usize {
        ECM_STATE_DIM + 10
    }

    fn goal_dim(&self) -> usize {
        2
    }

    fn observe(&self, state: &ArmState) -> Observation {
        let achieved = self.image_direction(state);
        let h = horizon(state);
        let mut observation = Vec::with_capacity(ECM_STATE_DIM + 10);
        push_ecm_state(state, &mut observation);
        observation.extend([achieved[0], achieved[1], h.sin() as f32, h.cos() as f32]);
        observation.extend(self.target.iter().chain(self.velocity.iter()).map(|&v| v as f32));
        Observation { observation, achieved_goal: achieved.to_vec(), desired_goal: vec![0.0; 2] }
    }

    fn compute_reward(&self, achieved: &[f32], desired: &[f32]) -> f32 {
        let off = (achieved[0] - desired[0]).hypot(achieved[1] - desired[1]);
        match self.config.episode.reward {
            RewardMode::Sparse => -((off > self.params.centre_tolerance as f32) as i32 as f32),
            RewardMode::Dense => -off,
        }
    }

    fn is_success(&self, achieved: &[f32], desired: &[f32]) -> bool {
        (achieved[0] - desired[0]).hypot(achieved[1] - desired[1]) <= self.params.centre_tolerance as f32
    }

    /// The target's distance from the camera's view axis (m).
    fn tip_error(&self, state: &ArmState) -> f64 {
        off_axis_m(state, &self.target)
    }

    /// The target moves on to this step's time; the tracking figures count
    /// where it then appears (as the step's success does).
    fn on_step(&mut self, steps_done: usize, state: &ArmState) {
        self.move_target(steps_done as f64 * self.config.physics.control_period());
        let error = off_axis_m(state, &self.target);
        let centred = self.is_success(&self.image_direction(state), &[0.0, 0.0]);
        self.steps += 1;
        self.centred_steps += centred as usize;
        self.sum_sq_m2 += error * error;
        self.max_m = self.max_m.max(error);
    }

    fn tracking(&self) -> Option<TrackingMetrics> {
        let n = self.steps.max(1) as f64;
        Some(TrackingMetrics {
            rms_error_mm: (self.sum_sq_m2 / n).sqrt() * 1e3,
            max_error_mm: self.max_m * 1e3,
            completion: self.steps as f64 / self.config.episode.steps as f64,
            centred_fraction: Some(self.centred_steps as f64 / n),
        })
    }

    /// The target left the image (or went behind the camera).
    fn ended(&self, state: &ArmState) -> bool {
        self.params.end_when_lost && !self.camera.project(&camera_pose(state), &self.target).is_some_and(|p| p.in_view())
    }

    fn goal_point(&self, _desired: &[f32]) -> Option<Vector3<f64>> {
        Some(self.target)
    }

    fn traced_point(&self, _achieved: &[f32]) -> Option<Vector3<f64>> {
        None
    }

    /// Visual servoing on the target's image point (and the horizon).
    fn oracle_action(&self, state: &ArmState) -> Vec<f32> {
        servo_action(&self.camera, &self.config, state, Some(&self.target), self.params.oracle_gain)
    }
}
