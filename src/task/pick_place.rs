//! The shared core of the grasp tasks (needle-pick, gauze-retrieve,
//! peg-transfer): one observation layout, one reward, one scripted oracle.
//! Each task supplies its scene and its object's grasp geometry through
//! [`PickScene`]; [`PickPlace`] turns that into a [`Task`].
//!
//! Observation (41, world frame, SI units):
//! - 0..14: the instrument, as NeedleReach's: tip position (3), tip velocity
//!   (3), commanded wrist yaw (1), the six arm joints and the jaw angle (7);
//! - 14..17: the object's position (its body origin);
//! - 17..23: its orientation, the first two columns of its rotation matrix
//!   (continuous, unlike a quaternion's sign);
//! - 23..26: the object's grasp point minus the jaws' grasp point;
//! - 26..29: the object's grasp point (where the jaws close on it);
//! - 29..32: its velocity;
//! - 32: 1 while it is held (both blades squeeze it, or the assisted
//!   mode's weld holds it), else 0;
//! - 33: the weaker blade's force on it (N);
//! - 34..37: the commanded tip position minus the tip's: the position
//!   controller's lead. Actions move the command, so without it the state
//!   is hidden (pressing down on the pad, the command runs ahead of the
//!   tip), and a policy cannot tell what its next action will do;
//! - 37: the jaw's angular velocity (rad/s): whether it is still closing;
//! - 38..40: sin 2Δ and cos 2Δ, Δ the wrist turn that puts the jaw plane
//!   across the grip. The jaws are symmetric under a half turn, so 2Δ:
//!   continuous where the heading itself jumps by π;
//! - 40: that turn within the yaw limits (rad): the oracle's yaw error. Where
//!   the shorter turn would pass a limit, the other way round. Without it a
//!   policy at the limit kept turning into it (needle-pick: 4 of 40 failed
//!   episodes of a demo-trained SAC policy, the needle never touched).
//!
//! Achieved goal: the object's goal point (needle midpoint, gauze centre,
//! block centre). Desired goal: where it must go.

use rapier3d::na::{Isometry3, Vector3};
use rapier3d::prelude::{PhysicsWorld, RigidBodyHandle};

use super::pose_reach::wrap_half_turn;
use super::{ArmState, ControlConfig, EpisodeConfig, Observation, StartPose, Task, TaskConfig, point_goal_reached, point_goal_reward};
use crate::error::{Error, Result};
use crate::rng::{Rng, standard_normal};
use crate::sim::convert::from_pose;
use crate::sim::scene::{add_fixed_box, add_soft_pad};

/// Length of every grasp task's observation.
pub const OBSERVATION_DIM: usize = 41;

/// Height above the grasp the oracle approaches from (m).
pub const APPROACH_CLEARANCE_M: f64 = 0.012;

/// What `PickScene::reset` built.
pub struct Placement {
    /// The object to move.
    pub object: RigidBodyHandle,
    /// Where it must go (its goal point's target, world frame).
    pub goal: Vector3<f64>,
}

/// Where and how the jaws close on an object.
pub struct Grip {
    /// The point the jaws' grasp point must reach (world frame).
    pub point: Vector3<f64>,
    /// Heading about Y of the edge the jaws close across (0 = world x, turning
    /// from x toward −z): the jaw plane must be turned 90° from it.
    pub heading: f64,
}

/// How the oracle delivers the object once held.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Delivery {
    /// Straight up `lift_first_m` (0: not at all), then to the goal, and keep
    /// holding it there (needle, gauze).
    Hold { lift_first_m: f64 },
    /// Up to `clearance_m` above the goal, over it, straight down, then let
    /// go (a block over a peg).
    Place { clearance_m: f64 },
}

/// One grasp task's scene and object.
pub trait PickScene: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    /// Builds the episode's scene and samples the goal from `rng`; the start
    /// pose is drawn after it.
    fn reset(&mut self, world: &mut PhysicsWorld, rng: &mut Rng) -> Placement;
    /// The object's point that must reach the goal (the achieved goal).
    fn goal_point(&self, pose: &Isometry3<f64>) -> Vector3<f64> {
        pose.translation.vector
    }
    fn grip(&self, pose: &Isometry3<f64>) -> Grip;
    /// The jaws' grasp point lies this far down the blades from the hinge (m).
    fn grasp_depth_m(&self) -> f64;
    /// The jaw opening (degrees) below which the jaws have closed on the
    /// object, rather than still swinging shut.
    fn closed_jaw_deg(&self) -> f64;
    /// Assisted mode: the weld forms only once friction has lifted the
    /// object this far above its resting height (m).
    fn weld_after_lift_m(&self) -> f64;
    fn delivery(&self) -> Delivery {
        Delivery::Hold { lift_first_m: 0.0 }
    }
    /// Whether `achieved` meets `desired`; by default within the episode's tolerance.
    fn goal_reached(&self, episode: &EpisodeConfig, achieved: &[f32], desired: &[f32]) -> bool {
        point_goal_reached(episode, achieved, desired)
    }
}

/// A grasp task: a [`PickScene`] with the shared observation, reward and oracle.
pub struct PickPlace<S: PickScene> {
    config: TaskConfig,
    scene: S,
    goal: Vector3<f64>,
    object: [RigidBodyHandle; 1],
    /// The object's resting height (its origin's y) at the episode's start.
    rest_height: f64,
}

impl<S: PickScene> PickPlace<S> {
    pub fn new(config: &TaskConfig, scene: S) -> Self {
        Self { config: config.clone(), scene, goal: Vector3::zeros(), object: [RigidBodyHandle::invalid()], rest_height: 0.0 }
    }

    pub fn scene(&self) -> &S {
        &self.scene
    }

    pub fn goal(&self) -> Vector3<f64> {
        self.goal
    }

    /// The jaws' grasp point for a tip (hinge) position: down the blades,
    /// which the tasks keep pointing straight down.
    fn jaw_grasp_point(&self, tip: &Vector3<f64>) -> Vector3<f64> {
        tip - Vector3::new(0.0, self.scene.grasp_depth_m(), 0.0)
    }

    fn reached(&self, point: &Vector3<f64>) -> bool {
        let a: Vec<f32> = point.iter().map(|&v| v as f32).collect();
        let d: Vec<f32> = self.goal.iter().map(|&v| v as f32).collect();
        self.scene.goal_reached(&self.config.episode, &a, &d)
    }
}

/// The wrist turn from `yaw` that puts the jaw plane across an edge of
/// heading `heading` (ψ = heading + 90°, modulo the jaws' half-turn
/// symmetry): the shorter way, unless that passes `limit`, then the other.
pub fn yaw_to_grip(yaw: f64, heading: f64, limit: f64) -> f64 {
    let mut target = yaw + wrap_half_turn(heading + std::f64::consts::FRAC_PI_2 - yaw);
    if target.abs() > limit {
        target -= std::f64::consts::PI * target.signum();
    }
    target - yaw
}

/// Heading about Y of a pose's local x axis (0 = world x, turning toward −z).
pub fn heading_of_x(pose: &Isometry3<f64>) -> f64 {
    let t = pose.rotation * Vector3::x();
    (-t.z).atan2(t.x)
}

impl<S: PickScene> Task for PickPlace<S> {
    fn name(&self) -> &'static str {
        self.scene.name()
    }

    fn config(&self) -> &TaskConfig {
        &self.config
    }

    fn reset(&mut self, world: &mut PhysicsWorld, rng: &mut Rng) -> StartPose {
        let placement = self.scene.reset(world, rng);
        self.object = [placement.object];
        self.goal = placement.goal;
        self.rest_height = world.bodies[placement.object].translation().y as f64;
        self.config.start.sample(rng)
    }

    fn objects(&self) -> &[RigidBodyHandle] {
        &self.object
    }

    fn may_weld(&self, world: &PhysicsWorld, object: RigidBodyHandle) -> bool {
        let lifted = from_pose(world.bodies[object].position()).translation.vector.y - self.rest_height;
        lifted >= self.scene.weld_after_lift_m()
    }

    fn observation_dim(&self) -> usize {
        OBSERVATION_DIM
    }

    fn goal_dim(&self) -> usize {
        3
    }

    fn observe(&self, state: &ArmState) -> Observation {
        let object = &state.objects[0];
        let position = object.pose.translation.vector;
        let rotation = object.pose.rotation.to_rotation_matrix();
        let m = rotation.matrix();
        let grip = self.scene.grip(&object.pose);
        let turn = 2.0 * wrap_half_turn(grip.heading + std::f64::consts::FRAC_PI_2 - state.yaw);
        let turn_within_limits = yaw_to_grip(state.yaw, grip.heading, self.config.control.yaw_limit_deg.to_radians());
        let grip = grip.point;
        let mut o = Vec::with_capacity(OBSERVATION_DIM);
        o.extend(state.tip.iter().map(|&v| v as f32));
        o.extend(state.tip_velocity.iter().map(|&v| v as f32));
        o.push(state.yaw as f32);
        o.extend(state.joints.iter().map(|&v| v as f32));
        o.extend(position.iter().map(|&v| v as f32));
        o.extend(m.column(0).iter().chain(m.column(1).iter()).map(|&v| v as f32));
        o.extend((grip - self.jaw_grasp_point(&state.tip)).iter().map(|&v| v as f32));
        o.extend(grip.iter().map(|&v| v as f32));
        o.extend(object.velocity.iter().map(|&v| v as f32));
        o.push((object.hold.grasped || object.hold.welded) as i32 as f32);
        o.push(object.hold.grip_force_n() as f32);
        o.extend((state.tip_command - state.tip).iter().map(|&v| v as f32));
        o.push(state.joint_velocities[6] as f32);
        o.push(turn.sin() as f32);
        o.push(turn.cos() as f32);
        o.push(turn_within_limits as f32);
        Observation {
            observation: o,
            achieved_goal: self.scene.goal_point(&object.pose).iter().map(|&v| v as f32).collect(),
            desired_goal: self.goal.iter().map(|&v| v as f32).collect(),
        }
    }

    fn compute_reward(&self, achieved: &[f32], desired: &[f32]) -> f32 {
        match self.config.episode.reward {
            super::RewardMode::Sparse => -((!self.scene.goal_reached(&self.config.episode, achieved, desired)) as i32 as f32),
            super::RewardMode::Dense => point_goal_reward(&self.config.episode, achieved, desired),
        }
    }

    fn is_success(&self, achieved: &[f32], desired: &[f32]) -> bool {
        self.scene.goal_reached(&self.config.episode, achieved, desired)
    }

    /// Distance from the object's goal point to the goal (m).
    fn tip_error(&self, state: &ArmState) -> f64 {
        (self.scene.goal_point(&state.objects[0].pose) - self.goal).norm()
    }

    /// Above the grasp point with the jaw plane across the object, open;
    /// down; close; once both blades hold it, deliver it (straight to the
    /// goal, or over it and down, then let go). If it slips out, or the
    /// jaws close on nothing, start over.
    fn oracle_action(&self, state: &ArmState) -> Vec<f32> {
        let c = &self.config.control;
        let object = &state.objects[0];
        let point = self.scene.goal_point(&object.pose);
        let grip = self.scene.grip(&object.pose);
        let (jaw_closed, jaw_open) = (-1.0, 1.0);
        // The tip (hinge) position at which the jaws' grasp point sits on the grip point.
        let grasp_tip = grip.point + Vector3::new(0.0, self.scene.grasp_depth_m(), 0.0);

        // The jaw has closed on the object (not still swinging shut).
        let settled = state.joints[6] < self.scene.closed_jaw_deg().to_radians() && state.joint_velocities[6].abs() < 1.0;
        let held = object.hold.welded || object.hold.grasped;
        let delivery = self.scene.delivery();
        let placing = matches!(delivery, Delivery::Place { .. });
        let (target, jaw, yaw) = if placing && !held && self.reached(&point) {
            // Placed: rise clear with the jaw open.
            (Vector3::new(state.tip_command.x, grasp_tip.y + APPROACH_CLEARANCE_M, state.tip_command.z), jaw_open, 0.0)
        } else if held && (object.hold.welded || settled) {
            match delivery {
                Delivery::Hold { lift_first_m } => {
                    // Straight up off the tray first, then to the goal.
                    let lifted = self.rest_height + lift_first_m;
                    let to = if point.y < lifted { Vector3::new(point.x, lifted + 0.001, point.z) } else { self.goal };
                    (state.tip_command + (to - point), jaw_closed, 0.0)
                }
                Delivery::Place { clearance_m } => {
                    let (to, seated) = place_step(&point, &self.goal, clearance_m);
                    (state.tip_command + (to - point), if seated { jaw_open } else { jaw_closed }, 0.0)
                }
            }
        } else if held {
            // Let the jaw finish closing before lifting.
            (state.tip_command, jaw_closed, 0.0)
        } else {
            let (target, jaw, yaw) = approach(state, &grip, self.scene.grasp_depth_m(), APPROACH_TOLERANCE_M, c);
            // Shut on nothing right over the grip (the blades missed it).
            let empty = settled && object.hold.grip_force_n() < 0.1 * self.config.physics.grasp_threshold_n;
            // Pressed below the grasp with the jaw stuck part-open: a blade
            // rests on the object and closing only wedges it (demo-trained
            // needle-pick policies sat like this for the rest of the episode).
            let wedged = state.joints[6] > (self.scene.closed_jaw_deg() + 10.0).to_radians()
                && state.joint_velocities[6].abs() < 0.5
                && state.tip.y < grasp_tip.y - 0.0005;
            if jaw == jaw_closed && (empty || wedged) {
                // Open and rise to try again, rather than sit there shut.
                (target + Vector3::new(0.0, APPROACH_CLEARANCE_M, 0.0), jaw_open, yaw)
            } else {
                (target, jaw, yaw)
            }
        };
        oracle_action_to(state, c, &target, jaw, yaw)
    }
}

/// How far (m) the oracle's tip command may lie sideways from above a loose
/// object's grasp before it comes down: the closing blades centre a loose
/// object between them.
pub const APPROACH_TOLERANCE_M: f64 = 0.0015;

/// The oracle's way onto a grip with an open jaw: above the grip point with
/// the jaw plane across it (within `tolerance_m` sideways), then down, then
/// close. Returns the tip target, the jaw action and the yaw action.
pub fn approach(state: &ArmState, grip: &Grip, grasp_depth_m: f64, tolerance_m: f64, c: &ControlConfig) -> (Vector3<f64>, f64, f64) {
    let (jaw_closed, jaw_open) = (-1.0, 1.0);
    // The tip (hinge) position at which the jaws' grasp point sits on the grip point.
    let grasp_tip = grip.point + Vector3::new(0.0, grasp_depth_m, 0.0);
    let yaw_error = yaw_to_grip(state.yaw, grip.heading, c.yaw_limit_deg.to_radians());
    let yaw_action = (yaw_error / c.max_yaw_step_deg.to_radians()).clamp(-1.0, 1.0);
    let horizontal = Vector3::new(grasp_tip.x - state.tip_command.x, 0.0, grasp_tip.z - state.tip_command.z).norm();
    let above = grasp_tip + Vector3::new(0.0, APPROACH_CLEARANCE_M, 0.0);
    // On the way down, a grip nudged sideways by the descent itself sends the
    // tip back up only past the loose-object tolerance (else it would bob
    // up and down for ever over an object another arm holds).
    let descending = state.tip_command.y < above.y - 0.003;
    let tolerance_m = if descending { tolerance_m.max(APPROACH_TOLERANCE_M) } else { tolerance_m };
    if horizontal > tolerance_m || yaw_error.abs() > 3f64.to_radians() {
        // Go above the grasp (up first if low, so the blades never sweep the object).
        let low = state.tip_command.y < above.y - 0.003;
        let target = if low { Vector3::new(state.tip_command.x, above.y, state.tip_command.z) } else { above };
        (target, jaw_open, yaw_action)
    } else if state.tip_command.y > grasp_tip.y + 0.0005 {
        // Down onto it, open.
        (grasp_tip, jaw_open, yaw_action)
    } else {
        // Close on it.
        (grasp_tip, jaw_closed, yaw_action)
    }
}

/// Where the oracle takes a held object's point next to place it at
/// `goal` (a block over a peg): up to `clearance_m` above the goal, over
/// it, then straight down. Returns that target and whether the object is
/// seated (then the jaw lets go).
pub fn place_step(point: &Vector3<f64>, goal: &Vector3<f64>, clearance_m: f64) -> (Vector3<f64>, bool) {
    let travel = goal.y + clearance_m;
    let horizontal = Vector3::new(goal.x - point.x, 0.0, goal.z - point.z).norm();
    let low = point.y < travel - 0.002;
    let seated = horizontal < 0.003 && (point.y - goal.y).abs() < 0.0015;
    let to = if seated {
        *point
    } else if horizontal < 0.001 || (low && horizontal < 0.003) {
        // Over the goal: straight down (correcting sideways on the way).
        *goal
    } else if low {
        // Straight up off the peg before moving across.
        Vector3::new(point.x, travel, point.z)
    } else {
        Vector3::new(goal.x, travel, goal.z)
    };
    (to, seated)
}

/// A PSM action that moves the tip command toward `target` as far as one
/// step allows, with the given yaw and jaw actions.
pub fn oracle_action_to(state: &ArmState, c: &ControlConfig, target: &Vector3<f64>, jaw: f64, yaw: f64) -> Vec<f32> {
    let delta = (target - state.tip_command) / c.max_step_m;
    let v = delta / delta.amax().max(1.0);
    vec![v.x as f32, v.y as f32, v.z as f32, yaw as f32, jaw as f32]
}

/// Lays the tray (its top surface is the world's y = 0 plane) and the soft
/// training pad on it; returns the height of the pad's top surface.
pub fn lay_tray(world: &mut PhysicsWorld, tray_half_extents: [f64; 3], pad_half_extents: [f64; 3], pad_friction: f64) -> f64 {
    let tray = Vector3::from(tray_half_extents);
    let pad = Vector3::from(pad_half_extents);
    add_fixed_box(world, &Isometry3::translation(0.0, -tray.y, 0.0), tray);
    add_soft_pad(world, &Isometry3::translation(0.0, pad.y, 0.0), pad, pad_friction);
    2.0 * pad.y
}

/// A goal above the tray centre: x and z drawn from N(0, spread²), clipped
/// to ±2σ, at `height` (as SurRoL's).
pub fn spread_goal(rng: &mut Rng, spread_m: f64, height_m: f64) -> Vector3<f64> {
    let n = standard_normal(rng, 2);
    let spread = |v: f32| (v as f64).clamp(-2.0, 2.0) * spread_m;
    Vector3::new(spread(n[0]), height_m, spread(n[1]))
}

/// Refuses a non-finite or out-of-range value, naming its field.
pub fn check_values(positive: &[(&str, f64)], non_negative: &[(&str, f64)]) -> Result<()> {
    let bad = |message: String| Err(Error::Config { origin: "task config".into(), message });
    for &(field, v) in positive {
        if !(v.is_finite() && v > 0.0) {
            return bad(format!("{field} = {v} must be > 0"));
        }
    }
    for &(field, v) in non_negative {
        if !(v.is_finite() && v >= 0.0) {
            return bad(format!("{field} = {v} must be >= 0"));
        }
    }
    Ok(())
}

/// Refuses an object that can start beyond the edge of its tray: `reach`
/// is how far from the tray's centre any part of it can lie, in x or z.
/// (A scene built of overlapping metre-sized objects also steps so slowly
/// that a bad config would hang instead of failing.)
pub fn check_fits_on_tray(object: &str, reach: f64, tray: &str, tray_half_extents: [f64; 3]) -> Result<()> {
    let room = tray_half_extents[0].min(tray_half_extents[2]);
    if !(reach <= room) {
        return Err(Error::Config {
            origin: "task config".into(),
            message: format!("{object} can lie {reach} m from the centre, beyond the edge of {tray} ({room} m)"),
        });
    }
    Ok(())
}

/// Refuses a `physics.length_unit` meant for metre-sized bodies in a
/// millimetre scene: rapier would predict contacts centimetres out, between
/// everything, and step some hundred times slower (peg-transfer at 1: 0.75 s
/// per control step instead of 3 ms). Found by fuzzing a config whose
/// `length_unit` line was lost, so that the default of 1 applied.
pub fn check_millimetre_scale(config: &TaskConfig) -> Result<()> {
    let unit = config.physics.length_unit;
    if unit > 0.1 {
        return Err(Error::Config {
            origin: "task config".into(),
            message: format!("physics.length_unit = {unit} is for metre-sized bodies; task `{}` is millimetre-scale: use 0.01", config.task),
        });
    }
    Ok(())
}

/// Refuses half extents that are not all positive, naming the field.
pub fn check_half_extents(fields: &[(&str, [f64; 3])]) -> Result<()> {
    for &(field, h) in fields {
        if !h.iter().all(|v| v.is_finite() && *v > 0.0) {
            return Err(Error::Config { origin: "task config".into(), message: format!("{field} = {h:?} must be positive") });
        }
    }
    Ok(())
}
