//! The robot description file (`assets/robots/*.toml`).
//!
//! We use our own small serde format instead of URDF: the dVRK publishes its
//! kinematics as modified-DH parameters, and keeping those numbers as the one
//! source of truth means the analytic kinematics and the rapier multibody are
//! built from the very same values (URDF would need them converted to
//! joint-origin poses and back).

use serde::{Deserialize, Serialize};
use std::path::Path;

use super::camera::CameraModel;
use crate::error::{Error, Result};

/// Kind of a DH joint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JointKind {
    Revolute,
    Prismatic,
}

/// A link primitive, in the link's own DH frame (metres, kilograms).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "shape", rename_all = "lowercase", deny_unknown_fields)]
pub enum LinkShape {
    /// An axis-aligned box.
    Box { half_extents: [f64; 3], center: [f64; 3], mass: f64 },
    /// A cylinder along the link frame's z axis.
    Cylinder { radius: f64, half_length: f64, center: [f64; 3], mass: f64 },
}

impl LinkShape {
    pub fn mass(&self) -> f64 {
        match self {
            LinkShape::Box { mass, .. } | LinkShape::Cylinder { mass, .. } => *mass,
        }
    }
    pub fn center(&self) -> [f64; 3] {
        match self {
            LinkShape::Box { center, .. } | LinkShape::Cylinder { center, .. } => *center,
        }
    }

    /// Refuses sizes parry cannot build a collider from (it asserts that
    /// they are positive: a `-0.0` radius failed there, found by fuzzing).
    fn check(&self) -> std::result::Result<(), String> {
        let sizes: Vec<f64> = match self {
            LinkShape::Box { half_extents, .. } => half_extents.to_vec(),
            LinkShape::Cylinder { radius, half_length, .. } => vec![*radius, *half_length],
        };
        if !sizes.iter().all(|v| v.is_finite() && *v > 0.0) {
            return Err(format!("link sizes {sizes:?} must be positive"));
        }
        if !self.center().iter().all(|v| v.is_finite()) {
            return Err(format!("link center {:?} must be finite", self.center()));
        }
        Ok(())
    }
}

/// A joint's position servo: a rapier joint motor with a PD law,
/// force = stiffness · (target − q) + damping · (target_velocity − q̇), capped at max_force.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Servo {
    /// N·m/rad (revolute) or N/m (prismatic).
    pub stiffness: f64,
    /// N·m·s/rad or N·s/m.
    pub damping: f64,
    /// N·m or N.
    pub max_force: f64,
}

/// One joint of the arm, with the modified-DH parameters of the link it moves.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DhJoint {
    pub name: String,
    pub kind: JointKind,
    /// Twist about the previous x axis (degrees).
    pub alpha_deg: f64,
    /// Length along the previous x axis (metres).
    pub a: f64,
    /// Offset along the new z axis (metres); the prismatic variable adds to it.
    pub d: f64,
    /// Constant added to a revolute joint variable (degrees).
    pub offset_deg: f64,
    /// Joint limits: degrees for revolute joints, metres for prismatic ones.
    pub limits: [f64; 2],
    /// Reflected rotor inertia of the actuator (kg·m² or kg).
    pub armature: f64,
    pub servo: Servo,
    pub link: LinkShape,
}

impl DhJoint {
    pub fn alpha(&self) -> f64 {
        self.alpha_deg.to_radians()
    }
    pub fn offset(&self) -> f64 {
        self.offset_deg.to_radians()
    }
    /// Limits in SI units (radians or metres).
    pub fn limits_si(&self) -> [f64; 2] {
        match self.kind {
            JointKind::Revolute => [self.limits[0].to_radians(), self.limits[1].to_radians()],
            JointKind::Prismatic => self.limits,
        }
    }
}

/// The jaw: two blades hinged on the tip frame's z axis (the wrist yaw
/// axis), symmetric about the tool axis (y6). The jaw angle is the opening
/// between the blades; each blade turns by half of it, one each way, driven
/// by its own force-limited servo toward the same target.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JawJoint {
    pub name: String,
    /// Opening angle between the blades (degrees); negative squeezes.
    pub limits: [f64; 2],
    /// Per blade.
    pub armature: f64,
    /// Per blade, on the blade's own angle (N·m/rad).
    pub stiffness: f64,
    /// Per blade (N·m·s/rad).
    pub damping: f64,
    /// Force each blade presses with at its midpoint when the servo
    /// saturates (N): the servo torque is capped at grip_force_n × the
    /// distance from the hinge to the blade's centre.
    pub grip_force_n: f64,
    /// Coulomb friction coefficient of the blades' surfaces.
    pub friction: f64,
    /// The blade on the +x6 side, in frame 6 at a zero jaw angle; the other
    /// blade is its mirror image through the y6-z6 plane.
    pub link: LinkShape,
}

impl JawJoint {
    /// Opening limits in radians.
    pub fn limits_si(&self) -> [f64; 2] {
        [self.limits[0].to_radians(), self.limits[1].to_radians()]
    }

    /// Distance from the hinge to the blade's centre (m), the grip force's lever.
    pub fn lever_m(&self) -> f64 {
        let c = self.link.center();
        c[0].hypot(c[1])
    }

    /// Each blade's servo: on half the opening angle, torque capped by the grip force.
    pub fn blade_servo(&self) -> Servo {
        Servo { stiffness: self.stiffness, damping: self.damping, max_force: self.grip_force_n * self.lever_m() }
    }

    /// The blade shape on the `side` (+1 or −1) of the tool axis.
    pub fn blade(&self, side: f64) -> LinkShape {
        let mut shape = self.link.clone();
        match &mut shape {
            LinkShape::Box { center, .. } | LinkShape::Cylinder { center, .. } => center[0] *= side,
        }
        shape
    }
}

/// A serial arm described by modified-DH joints plus a jaw.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RobotDescription {
    pub name: String,
    pub joints: Vec<DhJoint>,
    pub jaw: JawJoint,
}

/// The PSM description shipped in `assets/robots/psm.toml`, compiled in so the
/// binary works from any directory.
pub const PSM_TOML: &str = include_str!("../../assets/robots/psm.toml");

impl LinkShape {
    fn scale_mass(&mut self, factor: f64) {
        match self {
            LinkShape::Box { mass, .. } | LinkShape::Cylinder { mass, .. } => *mass *= factor,
        }
    }
}

impl RobotDescription {
    /// A copy with every link mass and servo gain scaled (dynamics randomisation).
    pub fn scaled(&self, mass: f64, stiffness: f64, damping: f64) -> Self {
        let mut d = self.clone();
        for j in &mut d.joints {
            j.servo.stiffness *= stiffness;
            j.servo.damping *= damping;
            j.link.scale_mass(mass);
        }
        d.jaw.stiffness *= stiffness;
        d.jaw.damping *= damping;
        d.jaw.link.scale_mass(mass);
        d
    }

    /// The dVRK PSM.
    pub fn psm() -> Self {
        Self::from_toml_str(PSM_TOML, "assets/robots/psm.toml").expect("the shipped PSM description is valid")
    }

    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_toml_str(&text, &path.display().to_string())
    }

    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self> {
        let desc: RobotDescription = toml::from_str(text).map_err(|e| Error::Config { origin: origin.to_string(), message: e.to_string() })?;
        desc.validate(origin)?;
        Ok(desc)
    }

    fn validate(&self, origin: &str) -> Result<()> {
        let bad = |message: String| Error::Config { origin: origin.to_string(), message };
        if self.joints.len() != 6 {
            return Err(bad(format!("joints: the PSM needs 6 DH joints, found {}", self.joints.len())));
        }
        let links = self.joints.iter().map(|j| (&j.name, j.limits, j.armature, j.servo, &j.link)).chain(std::iter::once((
            &self.jaw.name,
            self.jaw.limits,
            self.jaw.armature,
            self.jaw.blade_servo(),
            &self.jaw.link,
        )));
        if !(self.jaw.friction.is_finite() && self.jaw.friction >= 0.0) {
            return Err(bad(format!("jaw.friction = {} must be >= 0", self.jaw.friction)));
        }
        if self.jaw.lever_m() <= 0.0 {
            return Err(bad("jaw.link.center must lie off the hinge (the grip force needs a lever)".into()));
        }
        check_dh(&self.joints).map_err(bad)?;
        for (name, limits, armature, servo, link) in links {
            check_joint(name, limits, armature, servo, link).map_err(bad)?;
        }
        Ok(())
    }
}

/// The DH numbers of every joint must be finite.
fn check_dh(joints: &[DhJoint]) -> std::result::Result<(), String> {
    match joints.iter().find(|j| ![j.alpha_deg, j.a, j.d, j.offset_deg].iter().all(|v| v.is_finite())) {
        Some(j) => Err(format!("joint `{}`: alpha_deg, a, d and offset_deg must be finite", j.name)),
        None => Ok(()),
    }
}

/// One joint's servo, limits, armature and link must make a buildable body.
fn check_joint(name: &str, limits: [f64; 2], armature: f64, servo: Servo, link: &LinkShape) -> std::result::Result<(), String> {
    for (field, v) in [("stiffness", servo.stiffness), ("damping", servo.damping), ("max_force", servo.max_force)] {
        if !(v.is_finite() && v > 0.0) {
            return Err(format!("joint `{name}`: servo.{field} = {v} must be > 0"));
        }
    }
    if !(limits[0].is_finite() && limits[1].is_finite() && limits[0] < limits[1]) {
        return Err(format!("joint `{name}`: limits {limits:?} must be finite with lower < upper"));
    }
    if !(armature.is_finite() && armature >= 0.0) {
        return Err(format!("joint `{name}`: armature {armature} must be >= 0"));
    }
    if !(link.mass().is_finite() && link.mass() > 0.0) {
        return Err(format!("joint `{name}`: link mass {} must be > 0", link.mass()));
    }
    link.check().map_err(|e| format!("joint `{name}`: {e}"))
}

/// A camera arm: modified-DH joints (the dVRK ECM's R, R, P, R) and the
/// endoscope's camera at its tip.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EcmDescription {
    pub name: String,
    pub joints: Vec<DhJoint>,
    pub camera: CameraModel,
}

/// The ECM description shipped in `assets/robots/ecm.toml`, compiled in.
pub const ECM_TOML: &str = include_str!("../../assets/robots/ecm.toml");

/// The ECM's joint kinds, in order.
const ECM_KINDS: [JointKind; 4] = [JointKind::Revolute, JointKind::Revolute, JointKind::Prismatic, JointKind::Revolute];

impl EcmDescription {
    /// A copy with every link mass and servo gain scaled (dynamics randomisation).
    pub fn scaled(&self, mass: f64, stiffness: f64, damping: f64) -> Self {
        let mut d = self.clone();
        for j in &mut d.joints {
            j.servo.stiffness *= stiffness;
            j.servo.damping *= damping;
            j.link.scale_mass(mass);
        }
        d
    }

    /// The dVRK ECM.
    pub fn ecm() -> Self {
        Self::from_toml_str(ECM_TOML, "assets/robots/ecm.toml").expect("the shipped ECM description is valid")
    }

    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_toml_str(&text, &path.display().to_string())
    }

    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self> {
        let desc: EcmDescription = toml::from_str(text).map_err(|e| Error::Config { origin: origin.to_string(), message: e.to_string() })?;
        desc.validate(origin)?;
        Ok(desc)
    }

    fn validate(&self, origin: &str) -> Result<()> {
        let bad = |message: String| Error::Config { origin: origin.to_string(), message };
        let kinds: Vec<JointKind> = self.joints.iter().map(|j| j.kind).collect();
        if kinds != ECM_KINDS {
            return Err(bad(format!("joints: the ECM needs 4 DH joints of kinds {ECM_KINDS:?}, found {kinds:?}")));
        }
        check_dh(&self.joints).map_err(bad)?;
        for j in &self.joints {
            check_joint(&j.name, j.limits, j.armature, j.servo, &j.link).map_err(bad)?;
        }
        self.camera.check().map_err(bad)
    }
}
