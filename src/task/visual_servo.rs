//! Image-based visual servoing of the endoscope: the control law the ECM
//! tasks' oracles use. It reads only what the image shows (a target's
//! normalised image coordinates and the horizon's misorientation) and
//! commands a camera motion the ECM can make: the scope pivots about its
//! RCM and rolls about its own axis.

use rapier3d::na::{Isometry3, UnitQuaternion, Vector3};

use crate::sim::camera::{CameraModel, ImagePoint};

/// A camera motion for one control step (world frame).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CameraMotion {
    /// Where the camera tip should move (m).
    pub tip_step: Vector3<f64>,
    /// How far the scope should roll (rad); rolling by δ turns the horizon by δ.
    pub roll_step: f64,
}

/// One servo step toward a centred target and a level image, taking `gain`
/// (0–1) of each error away: the view axis, which always runs through the
/// RCM, turns toward the ray through the target's image point, keeping the
/// tip's distance from the RCM; the roll cancels the horizon's error.
/// `seen` is where the target appears (`None`: out of view, hold still);
/// `camera` is the camera's pose (world), `rcm` the ECM's RCM (world).
pub fn centre_and_level(
    model: &CameraModel,
    camera: &Isometry3<f64>,
    rcm: &Vector3<f64>,
    seen: Option<&ImagePoint>,
    horizon_error: f64,
    gain: f64,
) -> CameraMotion {
    let roll_step = -gain * horizon_error;
    let Some(point) = seen else {
        return CameraMotion { tip_step: Vector3::zeros(), roll_step };
    };
    let slope = (model.fov_deg.to_radians() / 2.0).tan();
    let view = camera.rotation * Vector3::z();
    let ray = (camera.rotation * Vector3::new(point.x * slope, point.y * slope, 1.0)).normalize();
    // The turn that takes the view axis onto the ray, scaled down by the gain.
    let turn = UnitQuaternion::rotation_between(&view, &ray).map(|q| q.powf(gain)).unwrap_or_else(UnitQuaternion::identity);
    let tip = camera.translation.vector;
    let new_tip = rcm + turn * (tip - rcm);
    CameraMotion { tip_step: new_tip - tip, roll_step }
}
