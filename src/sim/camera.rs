//! The endoscope's camera: a pinhole at the ECM's tip, looking along the
//! tool axis. Image-space quantities (where a point appears, how far the
//! horizon is turned) are computed from this model geometrically; nothing
//! is rendered.
//!
//! Camera frame: the ECM tip frame (DH frame 4) turned about its z axis by
//! `mount_roll_deg`; z is the viewing direction, x points to the image's
//! right and y to the image's bottom (the computer-vision convention).
//! Normalised image coordinates run from −1 to 1 across the field of view,
//! (0, 0) at the centre, y downwards.

use rapier3d::na::{Isometry3, Point3, UnitQuaternion, Vector3};
use serde::{Deserialize, Serialize};

/// A pinhole camera with a square field of view (SurRoL: 60°, 256 × 256).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraModel {
    /// Full field of view across the image width and height (degrees).
    pub fov_deg: f64,
    /// Image size in pixels (width, height), for pixel coordinates.
    pub image_px: [u32; 2],
    /// The camera frame's turn about the view axis from the tip frame
    /// (degrees): the image's x axis is the tip's x axis turned by it.
    pub mount_roll_deg: f64,
}

impl Default for CameraModel {
    fn default() -> Self {
        Self { fov_deg: 60.0, image_px: [256, 256], mount_roll_deg: 0.0 }
    }
}

impl CameraModel {
    /// Refuses a field of view the pinhole cannot have and empty images.
    pub fn check(&self) -> Result<(), String> {
        if !(self.fov_deg.is_finite() && self.fov_deg > 0.0 && self.fov_deg < 180.0) {
            return Err(format!("camera.fov_deg = {} must be between 0 and 180", self.fov_deg));
        }
        if self.image_px.contains(&0) {
            return Err(format!("camera.image_px = {:?} must be positive", self.image_px));
        }
        if !self.mount_roll_deg.is_finite() {
            return Err(format!("camera.mount_roll_deg = {} must be finite", self.mount_roll_deg));
        }
        Ok(())
    }

    /// The camera frame in the tip frame: a turn about the view axis.
    pub fn mount(&self) -> UnitQuaternion<f64> {
        UnitQuaternion::from_axis_angle(&Vector3::z_axis(), self.mount_roll_deg.to_radians())
    }

    /// tan of half the field of view: the image edge's slope.
    fn half_width(&self) -> f64 {
        (self.fov_deg.to_radians() / 2.0).tan()
    }

    /// Normalised image coordinates of the world point `p` seen from the
    /// camera at `camera` (its world pose), and its depth along the view
    /// axis (m). `None` for points at or behind the camera's plane.
    pub fn project(&self, camera: &Isometry3<f64>, p: &Vector3<f64>) -> Option<ImagePoint> {
        let c = camera.inverse_transform_point(&Point3::from(*p));
        if c.z <= 1e-9 {
            return None;
        }
        let s = self.half_width();
        Some(ImagePoint { x: c.x / (c.z * s), y: c.y / (c.z * s), depth: c.z })
    }

    /// Pixel coordinates (x right, y down, from the top-left corner) of a
    /// normalised image point.
    pub fn pixel(&self, point: &ImagePoint) -> [f64; 2] {
        let [w, h] = self.image_px;
        [(point.x + 1.0) / 2.0 * w as f64, (point.y + 1.0) / 2.0 * h as f64]
    }
}

/// Where a point appears in the image.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ImagePoint {
    /// Normalised, −1 (left edge) to 1 (right edge).
    pub x: f64,
    /// Normalised, −1 (top edge) to 1 (bottom edge).
    pub y: f64,
    /// Distance along the view axis (m).
    pub depth: f64,
}

impl ImagePoint {
    /// Whether the point lies inside the image.
    pub fn in_view(&self) -> bool {
        self.x.abs() <= 1.0 && self.y.abs() <= 1.0
    }

    /// Distance from the image centre, in normalised units.
    pub fn off_centre(&self) -> f64 {
        self.x.hypot(self.y)
    }
}

/// How far the image is turned from level (rad, in (−π, π]): the camera's
/// roll about its view axis away from the pose in which the world's up (+Y)
/// appears straight up in the image (−y). Rolling the camera by minus this
/// angle levels the image. With the camera looking straight up or down the
/// horizon is undefined; the world's −Z (away from a viewer at the front
/// of the table) stands in for up.
pub fn horizon_error(camera: &Isometry3<f64>) -> f64 {
    let up = camera.rotation.inverse() * Vector3::y();
    let (x, y) = if up.x.hypot(up.y) > 1e-6 {
        (up.x, up.y)
    } else {
        let far = camera.rotation.inverse() * -Vector3::z();
        (far.x, far.y)
    };
    (-x).atan2(-y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rapier3d::na::Translation3;

    /// A camera at `eye` looking at `at`, its image x level (world up appears up).
    fn look_at(eye: Vector3<f64>, at: Vector3<f64>) -> Isometry3<f64> {
        let z = (at - eye).normalize();
        let x = z.cross(&Vector3::y()).normalize(); // image right
        let y = z.cross(&x); // image down
        let r = rapier3d::na::Rotation3::from_basis_unchecked(&[x, y, z]);
        Isometry3::from_parts(Translation3::from(eye), UnitQuaternion::from_rotation_matrix(&r))
    }

    #[test]
    fn the_point_looked_at_is_centred_and_the_image_edges_are_at_half_the_field_of_view() {
        let cam = CameraModel::default();
        let pose = look_at(Vector3::new(0.0, 0.2, 0.15), Vector3::new(0.01, 0.0, -0.02));
        let centre = cam.project(&pose, &Vector3::new(0.01, 0.0, -0.02)).unwrap();
        assert!(centre.x.abs() < 1e-12 && centre.y.abs() < 1e-12);
        let [u, v] = cam.pixel(&centre);
        assert!((u - 128.0).abs() < 1e-9 && (v - 128.0).abs() < 1e-9);
        let corner = cam.pixel(&ImagePoint { x: 1.0, y: -1.0, depth: 1.0 });
        assert_eq!(corner, [256.0, 0.0], "the top-right corner");
        // A point 30° off the axis toward the image's right lies on its right edge.
        let depth = 0.1;
        let right = pose * Point3::new(depth * 30f64.to_radians().tan(), 0.0, depth);
        let p = cam.project(&pose, &right.coords).unwrap();
        assert!((p.x - 1.0).abs() < 1e-12 && p.y.abs() < 1e-12 && (p.depth - depth).abs() < 1e-12);
        assert!(p.in_view());
        // Behind the camera: not projected.
        let behind = pose * Point3::new(0.0, 0.0, -0.05);
        assert!(cam.project(&pose, &behind.coords).is_none());
    }

    #[test]
    fn world_up_appears_up_in_a_level_image_and_rolling_the_camera_turns_the_horizon() {
        let level = look_at(Vector3::new(0.0, 0.2, 0.15), Vector3::zeros());
        assert!(horizon_error(&level).abs() < 1e-12);
        // A point above the target appears above the centre (negative y).
        let above = CameraModel::default().project(&level, &Vector3::new(0.0, 0.01, 0.0)).unwrap();
        assert!(above.y < 0.0 && above.x.abs() < 1e-12);
        for roll in [0.3, -1.0, 2.5] {
            let rolled = level * UnitQuaternion::from_axis_angle(&Vector3::z_axis(), roll);
            let err = horizon_error(&rolled);
            assert!((err.abs() - roll.abs()).abs() < 1e-9, "roll {roll}: horizon error {err}");
            assert!(err.signum() == roll.signum(), "roll {roll}: horizon error {err}");
        }
    }
}
