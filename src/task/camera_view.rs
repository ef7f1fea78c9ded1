//! What the camera (ECM) tasks share: their check that the config drives
//! the ECM, the table they look at, the ECM's state as observation numbers,
//! the image quantities, and the visual-servo oracle's motion as an action.

use rapier3d::na::{Isometry3, Vector3};
use rapier3d::prelude::PhysicsWorld;
use serde::{Deserialize, Serialize};

use super::visual_servo::CameraMotion;
use super::{ArmState, ControlConfig, InstrumentKind, TaskConfig};
use crate::error::{Error, Result};
use crate::sim::camera::{CameraModel, ImagePoint, horizon_error};
use crate::sim::description::EcmDescription;
use crate::sim::scene::add_fixed_box;

/// Observation numbers of the ECM's own state: camera tip (3, m), its
/// velocity (3, m/s), the commanded roll (1, rad) and the four joints
/// (yaw, pitch, insertion in m, roll).
pub const ECM_STATE_DIM: usize = 11;

/// The table under the camera: a tray whose top surface is the world's y = 0.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraScene {
    pub tray_half_extents: [f64; 3],
}

impl CameraScene {
    pub fn build(&self, world: &mut PhysicsWorld) {
        let tray = Vector3::from(self.tray_half_extents);
        add_fixed_box(world, &Isometry3::translation(0.0, -tray.y, 0.0), tray);
    }

    fn check(&self, table: &str) -> Result<()> {
        if !self.tray_half_extents.iter().all(|v| v.is_finite() && *v > 0.0) {
            return Err(Error::Config { origin: "task config".into(), message: format!("{table}.tray_half_extents {:?} must be > 0", self.tray_half_extents) });
        }
        Ok(())
    }
}

/// Refuses a camera task config that does not drive the ECM, and returns
/// the scene of its task table (`scene` key) and the camera it looks through.
pub fn check_camera_task(config: &TaskConfig, table: &str, scene: &CameraScene) -> Result<CameraModel> {
    if config.robot.instrument != InstrumentKind::Ecm {
        return Err(Error::Config {
            origin: "task config".into(),
            message: format!("task `{}` drives the endoscope: [robot] needs instrument = \"ecm\"", config.task),
        });
    }
    scene.check(table)?;
    Ok(EcmDescription::ecm().camera)
}

/// The camera frame of a camera task's state.
pub fn camera_pose(state: &ArmState) -> Isometry3<f64> {
    state.camera.expect("camera tasks drive the ECM")
}

/// Appends the ECM's state (`ECM_STATE_DIM` numbers).
pub fn push_ecm_state(state: &ArmState, out: &mut Vec<f32>) {
    out.extend(state.tip.iter().map(|&v| v as f32));
    out.extend(state.tip_velocity.iter().map(|&v| v as f32));
    out.push(state.yaw as f32);
    out.extend(state.joints.iter().map(|&v| v as f32));
}

/// Where `point` (world) appears in the camera's image; a point behind the
/// camera is reported far outside it (10, 10) so that it never counts as seen.
pub fn seen(model: &CameraModel, state: &ArmState, point: &Vector3<f64>) -> ImagePoint {
    model.project(&camera_pose(state), point).unwrap_or(ImagePoint { x: 10.0, y: 10.0, depth: 0.0 })
}

/// The horizon's misorientation in the camera's image (rad).
pub fn horizon(state: &ArmState) -> f64 {
    horizon_error(&camera_pose(state))
}

/// The distance (m) of `point` (world) from the camera's view axis: zero when it is centred.
pub fn off_axis_m(state: &ArmState, point: &Vector3<f64>) -> f64 {
    let camera = camera_pose(state);
    let view = camera.rotation * Vector3::z();
    (point - camera.translation.vector).cross(&view).norm()
}

/// Where `point` (world) appears, for a learner's goal: the x and y of the
/// unit direction toward it in the camera frame over tan(fov / 2). Inside the
/// image this is the normalised image point times the cosine of the point's
/// angle off the view axis; unlike the image point it stays continuous when
/// the point leaves the view or passes behind the camera.
pub fn appears_at(model: &CameraModel, state: &ArmState, point: &Vector3<f64>) -> [f32; 2] {
    let camera = camera_pose(state);
    let d = camera.inverse_transform_vector(&(point - camera.translation.vector)).normalize();
    let slope = (model.fov_deg.to_radians() / 2.0).tan();
    [(d.x / slope) as f32, (d.y / slope) as f32]
}

/// The camera tasks' oracle: one visual-servoing step toward `target` (if
/// given and in view) and a level horizon, as an ECM action.
pub fn servo_action(model: &CameraModel, config: &TaskConfig, state: &ArmState, target: Option<&Vector3<f64>>, gain: f64) -> Vec<f32> {
    let camera = camera_pose(state);
    let seen = target.and_then(|t| model.project(&camera, t)).filter(|p| p.in_view());
    let motion = super::visual_servo::centre_and_level(model, &camera, &Vector3::from(config.robot.rcm), seen.as_ref(), horizon(state), gain);
    motion_action(&motion, &config.control)
}

/// A camera motion as an ECM action: tip motion in units of `max_step_m`,
/// roll in units of `max_yaw_step_deg`, each clipped to [−1, 1].
pub fn motion_action(motion: &CameraMotion, control: &ControlConfig) -> Vec<f32> {
    let mut action: Vec<f32> = motion.tip_step.iter().map(|&v| (v / control.max_step_m).clamp(-1.0, 1.0) as f32).collect();
    action.push((motion.roll_step / control.max_yaw_step_deg.to_radians()).clamp(-1.0, 1.0) as f32);
    action
}
