//! GestureTrace: follow a reference point that moves along a path at a set
//! speed — a suturing arc, a straight incision line or a figure-eight
//! knot-tying loop, sampled per episode from the seed.
//!
//! Observation (27, world frame): the NeedleReach observation (14), the
//! current reference point (3), the reference a few steps ahead (3 each,
//! `look_ahead_steps`), and the path progress in [0, 1]. Achieved goal: the
//! tip; desired goal: the current reference point. Dense reward: minus the
//! distance to the reference, minus a small action-rate penalty.
//! Metrics: RMS and maximum tracking error over the path, path completion.
//! Success: the whole path traced with RMS ≤ 2 mm and maximum ≤ 5 mm.

use rand::RngExt;
use rapier3d::na::{Rotation3, Vector3};
use rapier3d::prelude::PhysicsWorld;
use serde::{Deserialize, Serialize};

use super::{ArmState, Observation, RewardMode, StartPose, Task, TaskConfig, TrackingMetrics, goal_distance};
use crate::error::{Error, Result};
use crate::rng::Rng;
use crate::sim::scene::add_fixed_box;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PathFamily {
    /// A circular suturing arc.
    Arc,
    /// A straight incision line.
    Line,
    /// A figure-eight knot-tying loop (lemniscate of Gerono).
    FigureEight,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GestureTraceConfig {
    /// Families sampled uniformly per episode.
    pub families: Vec<PathFamily>,
    /// Speed of the reference point (m/s).
    pub speed_m_s: f64,
    pub arc_radius_m: [f64; 2],
    pub arc_span_deg: [f64; 2],
    pub line_length_m: [f64; 2],
    /// Half-width of the figure-eight (m).
    pub figure_eight_size_m: [f64; 2],
    /// Largest tilt of the path's plane from the horizontal (degrees).
    pub tilt_deg: f64,
    /// The path's centre is sampled in this box (world frame).
    pub centre_min: [f64; 3],
    pub centre_max: [f64; 3],
    /// Control steps ahead of the current reference shown to the policy.
    pub look_ahead_steps: Vec<usize>,
    /// Penalty per unit of squared action change between steps.
    pub action_rate_penalty: f64,
    pub success_rms_mm: f64,
    pub success_max_mm: f64,
    pub tray_half_extents: [f64; 3],
}

impl GestureTraceConfig {
    pub fn validate(&self, origin: &str) -> Result<()> {
        let bad = |m: String| Err(Error::Config { origin: origin.into(), message: m });
        if self.families.is_empty() {
            return bad("gesture_trace.families is empty: name at least one of arc, line, figure-eight".into());
        }
        if !(self.speed_m_s.is_finite() && self.speed_m_s > 0.0) {
            return bad(format!("gesture_trace.speed_m_s = {} must be > 0", self.speed_m_s));
        }
        for (name, [lo, hi]) in [
            ("arc_radius_m", self.arc_radius_m),
            ("arc_span_deg", self.arc_span_deg),
            ("line_length_m", self.line_length_m),
            ("figure_eight_size_m", self.figure_eight_size_m),
        ] {
            if !(lo.is_finite() && hi.is_finite() && lo > 0.0 && lo <= hi) {
                return bad(format!("gesture_trace.{name} = [{lo}, {hi}] must be positive with min <= max"));
            }
        }
        if self.look_ahead_steps.is_empty() || self.look_ahead_steps.contains(&0) {
            return bad("gesture_trace.look_ahead_steps must list positive step counts".into());
        }
        for k in 0..3 {
            if !(self.centre_min[k] <= self.centre_max[k]) {
                return bad(format!("gesture_trace.centre_min {:?} exceeds centre_max {:?}", self.centre_min, self.centre_max));
            }
        }
        Ok(())
    }
}

/// A path sampled densely and evenly by arc length.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Path {
    pub family: Option<PathFamily>,
    /// Points at equal arc-length spacing (world frame).
    pub points: Vec<Vector3<f64>>,
    pub length_m: f64,
}

impl Path {
    /// Resamples a polyline to `n + 1` points evenly spaced by arc length.
    fn from_polyline(family: PathFamily, poly: &[Vector3<f64>], n: usize) -> Self {
        let mut cumulative = vec![0.0];
        for w in poly.windows(2) {
            cumulative.push(cumulative.last().unwrap() + (w[1] - w[0]).norm());
        }
        let length = *cumulative.last().unwrap();
        let mut points = Vec::with_capacity(n + 1);
        let mut j = 0;
        for i in 0..=n {
            let s = length * i as f64 / n as f64;
            while j + 1 < cumulative.len() - 1 && cumulative[j + 1] < s {
                j += 1;
            }
            let seg = (cumulative[j + 1] - cumulative[j]).max(1e-12);
            let t = ((s - cumulative[j]) / seg).clamp(0.0, 1.0);
            points.push(poly[j] + (poly[j + 1] - poly[j]) * t);
        }
        Self { family: Some(family), points, length_m: length }
    }

    /// The point at arc length `s` (clamped to the path).
    pub fn at(&self, s: f64) -> Vector3<f64> {
        let n = self.points.len() - 1;
        let x = (s / self.length_m).clamp(0.0, 1.0) * n as f64;
        let i = (x.floor() as usize).min(n.saturating_sub(1));
        let t = x - i as f64;
        self.points[i] + (self.points[(i + 1).min(n)] - self.points[i]) * t
    }
}

pub struct GestureTrace {
    config: TaskConfig,
    params: GestureTraceConfig,
    pub path: Path,
    /// Control steps done in this episode (the reference's clock).
    steps: usize,
    sum_sq_m2: f64,
    max_m: f64,
    tracked: usize,
}

impl GestureTrace {
    pub fn new(config: &TaskConfig) -> Result<Self> {
        config.only_tables(&["gesture_trace"])?;
        let params: GestureTraceConfig = config.table("gesture_trace")?;
        params.validate("task config")?;
        Ok(Self { params, config: config.clone(), path: Path::default(), steps: 0, sum_sq_m2: 0.0, max_m: 0.0, tracked: 0 })
    }

    fn step_length(&self) -> f64 {
        self.params.speed_m_s * self.config.physics.control_period()
    }

    /// Control steps the reference needs to cover the path.
    pub fn path_steps(&self) -> usize {
        (self.path.length_m / self.step_length()).ceil() as usize
    }

    /// The reference point after `k` control steps.
    pub fn reference(&self, k: usize) -> Vector3<f64> {
        self.path.at(k as f64 * self.step_length())
    }

    fn sample_path(&self, rng: &mut Rng) -> Path {
        let p = &self.params;
        let range = |rng: &mut Rng, [lo, hi]: [f64; 2]| if lo < hi { rng.random_range(lo..hi) } else { lo };
        let family = p.families[rng.random_range(0..p.families.len())];
        // The curve in its own plane (x, z), centred on the origin.
        let poly: Vec<Vector3<f64>> = match family {
            PathFamily::Arc => {
                let r = range(rng, p.arc_radius_m);
                let span = range(rng, p.arc_span_deg).to_radians();
                (0..=200)
                    .map(|i| {
                        let t = -span / 2.0 + span * i as f64 / 200.0;
                        Vector3::new(r * t.sin(), 0.0, r * (1.0 - t.cos()) - r / 2.0)
                    })
                    .collect()
            }
            PathFamily::Line => {
                let l = range(rng, p.line_length_m);
                vec![Vector3::new(-l / 2.0, 0.0, 0.0), Vector3::new(l / 2.0, 0.0, 0.0)]
            }
            PathFamily::FigureEight => {
                let a = range(rng, p.figure_eight_size_m);
                (0..=400)
                    .map(|i| {
                        let t = std::f64::consts::TAU * i as f64 / 400.0;
                        Vector3::new(a * t.sin(), 0.0, a * t.sin() * t.cos())
                    })
                    .collect()
            }
        };
        // A random heading, a random tilt of the plane, a random centre.
        let heading = Rotation3::from_axis_angle(&Vector3::y_axis(), rng.random_range(-std::f64::consts::PI..std::f64::consts::PI));
        let tilt_axis = Vector3::new(rng.random_range(-1.0..1.0), 0.0, rng.random_range(-1.0..1.0));
        let tilt = if tilt_axis.norm() > 1e-6 {
            Rotation3::from_axis_angle(&rapier3d::na::Unit::new_normalize(tilt_axis), rng.random_range(0.0..=p.tilt_deg.to_radians()))
        } else {
            Rotation3::identity()
        };
        let centre =
            Vector3::from_fn(|k, _| if p.centre_min[k] < p.centre_max[k] { rng.random_range(p.centre_min[k]..p.centre_max[k]) } else { p.centre_min[k] });
        let world: Vec<Vector3<f64>> = poly.iter().map(|v| centre + tilt * (heading * v)).collect();
        Path::from_polyline(family, &world, 400)
    }
}

impl Task for GestureTrace {
    fn name(&self) -> &'static str {
        "gesture-trace"
    }

    fn config(&self) -> &TaskConfig {
        &self.config
    }

    fn reset(&mut self, world: &mut PhysicsWorld, rng: &mut Rng) -> StartPose {
        let tray = Vector3::from(self.params.tray_half_extents);
        add_fixed_box(world, &rapier3d::na::Isometry3::translation(0.0, -tray.y, 0.0), tray);
        self.path = self.sample_path(rng);
        (self.steps, self.sum_sq_m2, self.max_m, self.tracked) = (0, 0.0, 0.0, 0);
        // The tip starts on the path's first point: the gesture starts there.
        StartPose { tip: self.path.points[0], yaw: 0.0, holding: None }
    }

    fn observation_dim(&self) -> usize {
        14 + 3 + 3 * self.params.look_ahead_steps.len() + 1
    }

    fn goal_dim(&self) -> usize {
        3
    }

    fn observe(&self, state: &ArmState) -> Observation {
        let f = |v: Vector3<f64>| [v.x as f32, v.y as f32, v.z as f32];
        let mut observation = Vec::with_capacity(self.observation_dim());
        observation.extend(f(state.tip));
        observation.extend(f(state.tip_velocity));
        observation.push(state.yaw as f32);
        observation.extend(state.joints.iter().map(|&v| v as f32));
        let reference = self.reference(self.steps);
        observation.extend(f(reference));
        for &k in &self.params.look_ahead_steps {
            observation.extend(f(self.reference(self.steps + k)));
        }
        observation.push((self.steps as f64 / self.path_steps().max(1) as f64).min(1.0) as f32);
        Observation { observation, achieved_goal: f(state.tip).to_vec(), desired_goal: f(reference).to_vec() }
    }

    fn compute_reward(&self, achieved: &[f32], desired: &[f32]) -> f32 {
        let d = goal_distance(achieved, desired);
        match self.config.episode.reward {
            RewardMode::Dense => -d,
            RewardMode::Sparse => -((d > (self.params.success_max_mm * 1e-3) as f32) as i32 as f32),
        }
    }

    fn is_success(&self, achieved: &[f32], desired: &[f32]) -> bool {
        goal_distance(achieved, desired) <= (self.params.success_max_mm * 1e-3) as f32
    }

    fn tip_error(&self, state: &ArmState) -> f64 {
        (state.tip - self.reference(self.steps)).norm()
    }

    fn on_step(&mut self, steps_done: usize, state: &ArmState) {
        self.steps = steps_done;
        if steps_done <= self.path_steps() {
            let e = (state.tip - self.reference(steps_done)).norm();
            self.sum_sq_m2 += e * e;
            self.max_m = self.max_m.max(e);
            self.tracked += 1;
        }
    }

    fn action_penalty(&self, action: &[f32], previous: &[f32]) -> f32 {
        let change: f32 = action[..3].iter().zip(&previous[..3]).map(|(a, b)| (a - b) * (a - b)).sum();
        self.params.action_rate_penalty as f32 * change
    }

    fn tracking(&self) -> Option<TrackingMetrics> {
        let rms = if self.tracked > 0 { (self.sum_sq_m2 / self.tracked as f64).sqrt() } else { 0.0 };
        Some(TrackingMetrics {
            rms_error_mm: rms * 1e3,
            max_error_mm: self.max_m * 1e3,
            completion: (self.steps as f64 / self.path_steps().max(1) as f64).min(1.0),
            centred_fraction: None,
        })
    }

    fn reference_path(&self) -> Option<Vec<Vector3<f64>>> {
        Some((0..=self.path_steps()).map(|k| self.reference(k)).collect())
    }

    fn step_success(&self, _obs: &Observation) -> bool {
        let t = self.tracking().expect("tracking");
        t.completion >= 1.0 && t.rms_error_mm <= self.params.success_rms_mm && t.max_error_mm <= self.params.success_max_mm
    }

    /// Put the setpoint on the next reference point.
    fn oracle_action(&self, state: &ArmState) -> Vec<f32> {
        let next = self.reference(self.steps + 1);
        let delta = (next - state.tip_command) / self.config.control.max_step_m;
        let scale = delta.amax().max(1.0);
        let v = delta / scale;
        vec![v.x as f32, v.y as f32, v.z as f32, 0.0, 0.0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resampled_paths_are_evenly_spaced() {
        let poly: Vec<Vector3<f64>> = (0..=50).map(|i| Vector3::new((i as f64 / 50.0).powi(3), 0.0, 0.0)).collect();
        let path = Path::from_polyline(PathFamily::Line, &poly, 100);
        assert!((path.length_m - 1.0).abs() < 1e-9);
        for w in path.points.windows(2) {
            assert!(((w[1] - w[0]).norm() - 0.01).abs() < 1e-9);
        }
        assert!((path.at(0.5) - Vector3::new(0.5, 0.0, 0.0)).norm() < 1e-9);
        assert_eq!(path.at(7.0), path.points[100]);
    }
}
