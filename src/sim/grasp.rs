//! What the instrument touches: each blade's contact force on an object,
//! whether the object is held, collisions of the instrument's other links
//! with the scene, and the assisted grasp's weld.
//!
//! Forces come from the contact impulses of the last physics step (rapier
//! reports the step's total), divided by its duration.

use rapier3d::na::{Isometry3, Vector3};
use rapier3d::prelude::*;

use super::convert::{from_pose, from_vector, to_pose};
use super::kinematics::ARM_DOF;
use super::physics::{GraspMode, PhysicsConfig};
use super::psm::Psm;

/// Contact force (N) of each blade (+x6, −x6) on `object` during the last
/// step, as world vectors: what the blade pushed the object with.
pub fn blade_force_vectors(world: &PhysicsWorld, psm: &Psm, object: RigidBodyHandle) -> [Vector3<f64>; 2] {
    let dt = world.integration_parameters.dt as f64;
    std::array::from_fn(|k| {
        let blade = psm.colliders[ARM_DOF + k];
        world
            .contact_pairs_with(blade)
            .filter_map(|pair| {
                let (other, sign) = if pair.collider1 == blade { (pair.collider2, 1.0) } else { (pair.collider1, -1.0) };
                // rapier's impulse pushes collider2 away from collider1.
                (world.colliders.get(other).and_then(|c| c.parent()) == Some(object)).then(|| from_vector(pair.total_impulse()) * sign)
            })
            .sum::<Vector3<f64>>()
            / dt
    })
}

/// Whether each blade (+x6, −x6) is in contact with `object` (geometric
/// contact, whatever the force).
pub fn blades_touching(world: &PhysicsWorld, psm: &Psm, object: RigidBodyHandle) -> [bool; 2] {
    std::array::from_fn(|k| {
        let blade = psm.colliders[ARM_DOF + k];
        world.contact_pairs_with(blade).any(|pair| {
            let other = if pair.collider1 == blade { pair.collider2 } else { pair.collider1 };
            world.colliders.get(other).and_then(|c| c.parent()) == Some(object) && pair.has_any_active_contact()
        })
    })
}

/// How hard each blade (+x6, −x6) pressed on `object` during the last step (N).
pub fn blade_forces(world: &PhysicsWorld, psm: &Psm, object: RigidBodyHandle) -> [f64; 2] {
    blade_force_vectors(world, psm, object).map(|f| f.norm())
}

/// Each blade's squeeze on `object` (N): its push along the jaw's closing
/// direction, toward the other blade (zero if it pushes the other way). A
/// blade pressing down on a needle from above squeezes nothing.
pub fn blade_squeeze(world: &PhysicsWorld, psm: &Psm, object: RigidBodyHandle) -> [f64; 2] {
    let x6 = from_pose(world.bodies[psm.bodies[ARM_DOF]].position()).rotation * Vector3::x();
    let [plus, minus] = blade_force_vectors(world, psm, object);
    [(-plus.dot(&x6)).max(0.0), minus.dot(&x6).max(0.0)]
}

/// Contacts of the instrument's links other than the blades (the shaft,
/// the wrist) with anything outside the instrument during the last step:
/// a tissue-safety measure.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct Collisions {
    /// Link–object pairs in contact.
    pub pairs: u32,
    /// The largest force among them (N).
    pub peak_force_n: f64,
}

impl Collisions {
    /// Two instruments' readings in one substep together.
    pub fn and(self, other: Collisions) -> Collisions {
        Collisions { pairs: self.pairs + other.pairs, peak_force_n: self.peak_force_n.max(other.peak_force_n) }
    }

    /// The worse of two readings (over the substeps of one control step).
    pub fn max(self, other: Collisions) -> Collisions {
        Collisions { pairs: self.pairs.max(other.pairs), peak_force_n: self.peak_force_n.max(other.peak_force_n) }
    }
}

pub fn instrument_collisions(world: &PhysicsWorld, psm: &Psm) -> Collisions {
    let dt = world.integration_parameters.dt as f64;
    let mut out = Collisions::default();
    for &link in &psm.colliders[..ARM_DOF] {
        for pair in world.contact_pairs_with(link) {
            if pair.has_any_active_contact() {
                out.pairs += 1;
                out.peak_force_n = out.peak_force_n.max(pair.total_impulse_magnitude() as f64 / dt);
            }
        }
    }
    out
}

/// What the jaws do to one object (by default: nothing).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Hold {
    /// Each blade's squeeze on the object (N): its push toward the other blade.
    pub blade_squeeze_n: [f64; 2],
    /// Both blades squeeze it with at least the grasp threshold.
    pub grasped: bool,
    /// The assisted grasp's weld holds it.
    pub welded: bool,
}

impl Hold {
    /// The grip: the force the weaker blade presses with (N).
    pub fn grip_force_n(&self) -> f64 {
        // `min` may return either zero of min(0.0, -0.0), and which one
        // depends on the build's optimisation level; adding +0.0 makes a
        // zero grip +0.0 in every build, so observations match bit for bit.
        self.blade_squeeze_n[0].min(self.blade_squeeze_n[1]) + 0.0
    }
}

/// The grasp state of one env: the mode, the assisted grasp's weld, and
/// the blade impulses on each object summed over the current control step.
#[derive(Clone, Debug, Default)]
pub struct Grasping {
    mode: GraspMode,
    threshold_n: f64,
    weld_max_force_n: f64,
    weld: Option<(ImpulseJointHandle, RigidBodyHandle)>,
    /// Per object: each blade's squeeze impulse summed over the substeps so far (N·s).
    impulses: Vec<(RigidBodyHandle, [f64; 2])>,
    /// Simulated time those sums cover (s).
    window_s: f64,
}

impl Grasping {
    pub fn new(physics: &PhysicsConfig) -> Self {
        Self {
            mode: physics.grasp,
            threshold_n: physics.grasp_threshold_n,
            weld_max_force_n: physics.weld_max_force_n,
            weld: None,
            impulses: Vec::new(),
            window_s: 0.0,
        }
    }

    /// Starts a new averaging window (one control step).
    pub fn begin_step(&mut self) {
        self.impulses.clear();
        self.window_s = 0.0;
    }

    /// Adds the last physics step's blade impulses on `objects` to the window.
    pub fn accumulate(&mut self, world: &PhysicsWorld, psm: &Psm, objects: &[RigidBodyHandle]) {
        let dt = world.integration_parameters.dt as f64;
        for &object in objects {
            let f = blade_squeeze(world, psm, object);
            match self.impulses.iter_mut().find(|(o, _)| *o == object) {
                Some((_, sum)) => {
                    sum[0] += f[0] * dt;
                    sum[1] += f[1] * dt;
                }
                None => self.impulses.push((object, [f[0] * dt, f[1] * dt])),
            }
        }
        self.window_s += dt;
    }

    pub fn mode(&self) -> GraspMode {
        self.mode
    }

    /// The object the weld holds, if any.
    pub fn welded(&self) -> Option<RigidBodyHandle> {
        self.weld.map(|(_, o)| o)
    }

    /// How the jaws held `object` over the last control step: each blade's
    /// mean normal force (the last physics step's, before any step).
    pub fn hold(&self, world: &PhysicsWorld, psm: &Psm, object: RigidBodyHandle) -> Hold {
        let blade_squeeze_n = match self.impulses.iter().find(|(o, _)| *o == object) {
            Some((_, sum)) if self.window_s > 0.0 => [sum[0] / self.window_s, sum[1] / self.window_s],
            _ => blade_squeeze(world, psm, object),
        };
        Hold { blade_squeeze_n, grasped: blade_squeeze_n.iter().all(|&f| f >= self.threshold_n), welded: self.welded() == Some(object) }
    }

    /// The assisted grasp after a physics step (nothing in friction mode).
    ///
    /// A weld from the wrist to the object is made when the jaw is commanded
    /// closed, both blades touch the object and `may_weld(object)` (the
    /// task's lift condition) holds. It goes when the jaw is commanded open,
    /// when both blades lose contact, or when it pulls harder than the cap.
    pub fn update(
        &mut self,
        world: &mut PhysicsWorld,
        psm: &Psm,
        objects: &[RigidBodyHandle],
        jaw_closing: bool,
        may_weld: impl Fn(&PhysicsWorld, RigidBodyHandle) -> bool,
    ) {
        if self.mode != GraspMode::Assisted {
            return;
        }
        if let Some((joint, object)) = self.weld {
            let dt = world.integration_parameters.dt as f64;
            let pull_n = world.impulse_joints.get(joint).map_or(0.0, |j| {
                let i = j.impulses;
                (i[0] * i[0] + i[1] * i[1] + i[2] * i[2]).sqrt() as f64 / dt
            });
            let lost = blades_touching(world, psm, object).iter().all(|&t| !t);
            if !jaw_closing || lost || pull_n > self.weld_max_force_n {
                world.impulse_joints.remove(joint, true);
                self.weld = None;
            }
            return;
        }
        if !jaw_closing {
            return;
        }
        let wrist = psm.bodies[ARM_DOF];
        for &object in objects {
            let touching = blade_squeeze(world, psm, object).iter().all(|&f| f > 0.0);
            if touching && may_weld(world, object) {
                // The weld keeps the pose the object has now, relative to the wrist.
                let wrist_pose = from_pose(world.bodies[wrist].position());
                let object_pose = from_pose(world.bodies[object].position());
                let wrist_from_object: Isometry3<f64> = wrist_pose.inverse() * object_pose;
                let joint = FixedJointBuilder::new().local_frame1(to_pose(&wrist_from_object)).local_frame2(Pose::IDENTITY).contacts_enabled(true).build();
                let handle = world.impulse_joints.insert(wrist, object, joint, true);
                self.weld = Some((handle, object));
                return;
            }
        }
    }
}
