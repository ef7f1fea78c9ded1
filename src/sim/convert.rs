//! Conversions between our f64 nalgebra math and rapier's f32 glam types.

use rapier3d::math::{Pose, Rotation, Vector};
use rapier3d::na::{Isometry3, Quaternion, Translation3, UnitQuaternion, Vector3};

pub fn to_pose(iso: &Isometry3<f64>) -> Pose {
    let t = iso.translation.vector;
    let q = iso.rotation.quaternion();
    Pose::from_parts(Vector::new(t.x as f32, t.y as f32, t.z as f32), Rotation::from_xyzw(q.i as f32, q.j as f32, q.k as f32, q.w as f32).normalize())
}

pub fn from_pose(pose: &Pose) -> Isometry3<f64> {
    let t = pose.translation;
    let q = pose.rotation;
    Isometry3::from_parts(
        Translation3::new(t.x as f64, t.y as f64, t.z as f64),
        UnitQuaternion::from_quaternion(Quaternion::new(q.w as f64, q.x as f64, q.y as f64, q.z as f64)),
    )
}

pub fn to_vector(v: &Vector3<f64>) -> Vector {
    Vector::new(v.x as f32, v.y as f32, v.z as f32)
}

pub fn from_vector(v: Vector) -> Vector3<f64> {
    Vector3::new(v.x as f64, v.y as f64, v.z as f64)
}
