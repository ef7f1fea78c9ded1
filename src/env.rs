//! Layer 3: the Gym-style environment and its vectorised form.
//!
//! An [`Env`] is one rapier world holding the instrument (the PSM, or the
//! ECM for camera tasks) and one task's scene. An action moves the commanded
//! tip pose; inverse kinematics turns it into joint targets, and the joint
//! motors track those targets over the physics substeps of one control step.
//! Nothing is teleported.

use rapier3d::na::{Isometry3, Translation3, Vector3};
use rapier3d::prelude::*;
use rayon::prelude::*;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::rng::{Rng, episode_seed, rng_from_seed, standard_normal};
use crate::sim::convert::from_pose;
use crate::sim::convert::{from_vector, to_vector};
use crate::sim::description::{EcmDescription, LinkShape, RobotDescription};
use crate::sim::ecm::{ECM_DOF, Ecm, EcmJoints, EcmKinematics};
use crate::sim::grasp::{Collisions, Grasping, Hold, instrument_collisions};
use crate::sim::kinematics::{ARM_DOF, ArmJoints, IkError, PsmKinematics, tool_down_rotation};
use crate::sim::physics::GraspMode;
use crate::sim::psm::{DOF, Psm};
use crate::task::{ArmState, InstrumentKind, ObjectState, Observation, RobotPlacement, StartPose, Task, TaskConfig, TrackingMetrics};

/// Number of action components of the PSM: dx, dy, dz, wrist yaw increment, jaw.
pub const PSM_ACTION_DIM: usize = 5;

/// A box-shaped space: `shape`, and per-component bounds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BoxSpace {
    pub shape: Vec<usize>,
    pub low: Vec<f32>,
    pub high: Vec<f32>,
}

/// Per-step diagnostics.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct StepInfo {
    pub success: bool,
    /// Distance from the simulated tip to the goal, in millimetres.
    pub tip_error_mm: f64,
    /// The simulation became non-finite or lost the arm: the episode is truncated.
    pub physics_fault: bool,
    /// Inverse kinematics found no joints for the commanded pose; the arm held its targets.
    pub ik_failed: bool,
    /// Some action component lay outside [−1, 1] and was clipped.
    pub action_clipped: bool,
    /// Orientation error in degrees, for tasks that ask for an orientation.
    pub orientation_error_deg: Option<f64>,
    /// Path-tracking metrics so far, for tasks that follow a path.
    pub tracking: Option<TrackingMetrics>,
    /// For tasks with loose objects: how the jaws hold the first one.
    pub grasp: Option<GraspInfo>,
    /// Contacts of the instrument's links other than the blades with the
    /// tray or the objects during this step (tasks with arm contacts).
    pub instrument_collisions: Collisions,
    /// The action penalty taken off this step's reward (0 for tasks without
    /// one): reward = task reward of (achieved, desired) − this, so a
    /// relabelled goal's reward keeps it (HER, Gymnasium's `compute_reward`).
    pub action_penalty: f32,
}

/// How the jaws hold an object, and where it is.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct GraspInfo {
    /// "friction" or "assisted".
    pub mode: String,
    /// Both blades squeeze the object toward each other with at least
    /// `physics.grasp_threshold_n`, on average over the control step.
    pub grasped: bool,
    /// The assisted grasp's weld holds it.
    pub welded: bool,
    /// The weaker blade's squeeze on the object, averaged over the control step (N).
    pub grip_force_n: f64,
    /// Object position (world, m).
    pub object_position: [f64; 3],
    /// Object orientation (world, quaternion x, y, z, w).
    pub object_rotation: [f64; 4],
}

impl GraspInfo {
    fn new(mode: GraspMode, object: &ObjectState) -> Self {
        let t = object.pose.translation.vector;
        let q = object.pose.rotation.quaternion().coords;
        Self {
            mode: mode.name().to_string(),
            grasped: object.hold.grasped,
            welded: object.hold.welded,
            grip_force_n: object.hold.grip_force_n(),
            object_position: [t.x, t.y, t.z],
            object_rotation: [q.x, q.y, q.z, q.w],
        }
    }
}

/// What `step` returns.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub observation: Observation,
    pub reward: f32,
    pub terminated: bool,
    pub truncated: bool,
    pub info: StepInfo,
}

/// A simulated arm, built by `reset`. (Boxing the larger variant would save
/// a few hundred bytes at the price of an indirection.)
#[allow(clippy::large_enum_variant)]
enum ArmBody {
    Psm(Psm),
    Ecm(Ecm),
}

/// One instrument of the env: its body and what it is commanded to do.
struct Instrument {
    kind: InstrumentKind,
    world_from_base: Isometry3<f64>,
    body: ArmBody,
    /// Joint targets its servos hold now: the PSM's six and its jaw, or the ECM's four.
    targets: Vec<f64>,
    /// Commanded tip position (world), the setpoint actions move.
    tip_command: Vector3<f64>,
    /// Commanded wrist yaw (rad); the ECM's commanded roll.
    yaw: f64,
    /// The PSM's grasps and assisted weld (unused by the ECM).
    grasping: Grasping,
}

impl Instrument {
    fn psm(&self) -> Option<&Psm> {
        match &self.body {
            ArmBody::Psm(psm) => Some(psm),
            ArmBody::Ecm(_) => None,
        }
    }

    fn ecm(&self) -> Option<&Ecm> {
        match &self.body {
            ArmBody::Ecm(ecm) => Some(ecm),
            ArmBody::Psm(_) => None,
        }
    }

    fn set_targets(&self, world: &mut PhysicsWorld, targets: &[f64], velocities: &[f64]) {
        match &self.body {
            ArmBody::Psm(psm) => psm.set_targets(world, &to_array(targets), &to_array(velocities)),
            ArmBody::Ecm(ecm) => ecm.set_targets(world, &to_array(targets), &to_array(velocities)),
        }
    }

    fn is_finite(&self, world: &PhysicsWorld) -> bool {
        match &self.body {
            ArmBody::Psm(psm) => psm.is_finite(world),
            ArmBody::Ecm(ecm) => ecm.is_finite(world),
        }
    }
}

fn to_array<const N: usize>(v: &[f64]) -> [f64; N] {
    v.try_into().expect("one value per joint")
}

/// What one control step asks of one instrument: servo targets to ramp to.
struct Move {
    previous: Vec<f64>,
    next: Vec<f64>,
    /// The PSM's jaw is commanded to close (the assisted weld may form).
    jaw_closing: bool,
}

/// One or more simulated instruments doing one task.
pub struct Env {
    config: TaskConfig,
    description: RobotDescription,
    kinematics: PsmKinematics,
    ecm_description: EcmDescription,
    ecm_kinematics: EcmKinematics,
    task: Box<dyn Task>,
    world: PhysicsWorld,
    /// The task's instruments, in action order; empty until `reset`.
    instruments: Vec<Instrument>,
    world_from_base: Isometry3<f64>,
    rng: Rng,
    /// The last action applied (for action-rate penalties).
    previous_action: Vec<f32>,
    /// The last `control.action_history` actions chosen, most recent first.
    recent_actions: std::collections::VecDeque<Vec<f32>>,
    /// Perturbations drawn for this episode, with their own random stream.
    disturbance: Disturbance,
    steps: usize,
    done: bool,
}

/// Checks an action for the instruments `robot` places: its length and
/// values; clips it to [−1, 1].
pub fn validate_action(action: &[f32], robot: &RobotPlacement) -> Result<(Vec<f32>, bool)> {
    let dim = robot.action_dim();
    if action.len() != dim {
        return Err(Error::InvalidAction(format!("expected {dim} numbers ({}), got {}", robot.action_names(), action.len())));
    }
    let mut clipped = false;
    let mut out = vec![0.0; dim];
    for (i, &a) in action.iter().enumerate() {
        if !a.is_finite() {
            return Err(Error::InvalidAction(format!("action[{i}] = {a} is not a finite number")));
        }
        clipped |= !(-1.0..=1.0).contains(&a);
        out[i] = a.clamp(-1.0, 1.0);
    }
    Ok((out, clipped))
}

impl Env {
    /// An env for a built-in task by name.
    pub fn from_task(name: &str) -> Result<Self> {
        Self::new(TaskConfig::builtin(name)?)
    }

    pub fn new(config: TaskConfig) -> Result<Self> {
        config.validate("task config")?;
        // Base frame: origin at the RCM, z up (world Y), turned by robot.yaw_deg.
        let world_from_base = config.robot.world_from_base();
        let description = RobotDescription::psm();
        let ecm_description = EcmDescription::ecm();
        Ok(Self {
            task: config.build_task(),
            kinematics: PsmKinematics::new(&description),
            description,
            ecm_kinematics: EcmKinematics::new(&ecm_description),
            ecm_description,
            previous_action: vec![0.0; config.robot.action_dim()],
            config,
            world: PhysicsWorld::default(),
            instruments: Vec::new(),
            world_from_base,
            rng: rng_from_seed(0),
            recent_actions: std::collections::VecDeque::new(),
            disturbance: Disturbance::default(),
            steps: 0,
            done: true,
        })
    }

    pub fn config(&self) -> &TaskConfig {
        &self.config
    }

    pub fn task(&self) -> &dyn Task {
        self.task.as_ref()
    }

    pub fn world(&self) -> &PhysicsWorld {
        &self.world
    }

    /// The (first) PSM, once `reset` has been called (`None` for camera tasks).
    pub fn psm(&self) -> Option<&Psm> {
        self.psms().next()
    }

    /// Every PSM of the task, in action order, once `reset` has been called.
    pub fn psms(&self) -> impl Iterator<Item = &Psm> {
        self.instruments.iter().filter_map(Instrument::psm)
    }

    /// The ECM, once `reset` has been called, for tasks with the camera arm.
    pub fn ecm(&self) -> Option<&Ecm> {
        self.instruments.iter().find_map(Instrument::ecm)
    }

    /// Every instrument's moving bodies and their shapes, in action order,
    /// once `reset` has been called (the viewer draws them).
    pub fn instrument_links(&self) -> Vec<(Vec<RigidBodyHandle>, &[LinkShape])> {
        self.instruments
            .iter()
            .map(|i| match &i.body {
                ArmBody::Psm(psm) => (psm.moving_bodies().collect(), psm.shapes.as_slice()),
                ArmBody::Ecm(ecm) => (ecm.moving_bodies().collect(), ecm.shapes.as_slice()),
            })
            .collect()
    }

    /// Each instrument's kind, in action order.
    pub fn instrument_kinds(&self) -> Vec<InstrumentKind> {
        self.config.robot.instruments().into_iter().map(|(kind, _)| kind).collect()
    }

    /// Whether `reset` has built the world (and an episode can be observed).
    pub fn is_reset(&self) -> bool {
        !self.instruments.is_empty()
    }

    /// The (first) arm this env's task drives.
    pub fn instrument_kind(&self) -> InstrumentKind {
        self.config.robot.instrument
    }

    /// Numbers in one action: 5 per PSM, 4 for the ECM, concatenated in the
    /// order of the task's instruments.
    pub fn action_dim(&self) -> usize {
        self.config.robot.action_dim()
    }

    /// World pose of the first instrument's base frame.
    pub fn world_from_base(&self) -> &Isometry3<f64> {
        &self.world_from_base
    }

    /// Control steps taken in this episode.
    pub fn episode_steps(&self) -> usize {
        self.steps
    }

    pub fn action_space(&self) -> BoxSpace {
        let n = self.action_dim();
        BoxSpace { shape: vec![n], low: vec![-1.0; n], high: vec![1.0; n] }
    }

    /// Length of `Observation::observation`: the task's, plus the action history.
    pub fn observation_dim(&self) -> usize {
        self.task.observation_dim() + self.config.control.action_history * self.action_dim()
    }

    pub fn goal_dim(&self) -> usize {
        self.task.goal_dim()
    }

    /// The flattened observation space (observation ++ achieved ++ desired).
    pub fn observation_space(&self) -> BoxSpace {
        let n = self.observation_dim() + 2 * self.goal_dim();
        BoxSpace { shape: vec![n], low: vec![f32::NEG_INFINITY; n], high: vec![f32::INFINITY; n] }
    }

    /// Starts a new episode, seeded: the same seed gives the same episode.
    pub fn reset(&mut self, seed: u64) -> Result<Observation> {
        self.rng = rng_from_seed(seed);
        let physics = &self.config.physics;
        self.world = physics.new_world();

        let start = self.task.reset(&mut self.world, &mut self.rng);
        let starts: Vec<StartPose> = std::iter::once(start).chain(self.task.other_starts()).collect();
        let placements = self.config.robot.instruments();
        if starts.len() != placements.len() {
            return Err(Error::Invalid(format!("task `{}` drew {} start poses for its {} instruments", self.task.name(), starts.len(), placements.len())));
        }
        // Perturbations draw from their own stream, so switching them on
        // leaves the episode's goal and start unchanged.
        self.disturbance = Disturbance::sample(&self.config.perturb, seed);
        let d = &self.disturbance;
        let perturbed = (d.mass != 1.0 || d.stiffness != 1.0 || d.damping != 1.0).then(|| self.description.scaled(d.mass, d.stiffness, d.damping));
        let mut physics = physics.clone();
        physics.gravity_compensation *= d.gravity_compensation;
        self.instruments.clear();
        for (slot, ((kind, world_from_base), start)) in placements.into_iter().zip(&starts).enumerate() {
            let out_of_reach = |e: IkError| {
                Error::Invalid(format!("start pose {:?} (yaw {:.3}) is out of instrument {}'s reach: {e}", start.tip.as_slice(), start.yaw, slot + 1))
            };
            let (body, targets) = match kind {
                InstrumentKind::Psm => {
                    let home: ArmJoints = [0.0, 0.0, 0.12, 0.0, 0.0, 0.0];
                    let arm = self.solve_ik(&world_from_base, &start.tip, start.yaw, &home).map_err(out_of_reach)?;
                    let mut q0 = [0.0; DOF];
                    q0[..ARM_DOF].copy_from_slice(&arm);
                    q0[ARM_DOF] = start.holding.unwrap_or_else(|| self.jaw_target(0.0));
                    let description = perturbed.as_ref().unwrap_or(&self.description);
                    (ArmBody::Psm(Psm::build_in_slot(&mut self.world, description, &physics, world_from_base, &q0, slot)), q0.to_vec())
                }
                InstrumentKind::Ecm => {
                    let q0 = self.solve_ecm_ik(&world_from_base, &start.tip, start.yaw).map_err(out_of_reach)?;
                    let d = &self.disturbance;
                    let description = self.ecm_description.scaled(d.mass, d.stiffness, d.damping);
                    (ArmBody::Ecm(Ecm::build_in_slot(&mut self.world, &description, &physics, world_from_base, &q0, slot)), q0.to_vec())
                }
            };
            let grasping = Grasping::new(&physics);
            self.instruments.push(Instrument { kind, world_from_base, body, targets, tip_command: start.tip, yaw: start.yaw, grasping });
        }
        self.settle(&starts)?;
        let dim = self.action_dim();
        self.previous_action = vec![0.0; dim];
        self.recent_actions = std::iter::repeat_n(vec![0.0; dim], self.config.control.action_history).collect();
        self.steps = 0;
        self.done = false;
        let state = self.sensed(self.arm_state());
        let observation = self.task.observe(&state);
        Ok(self.with_action_history(observation))
    }

    /// Runs the task's settling steps before the episode: every instrument
    /// holds still, the jaws of a PSM that starts holding close, and the
    /// objects are held in place until the end.
    fn settle(&mut self, starts: &[StartPose]) -> Result<()> {
        let steps = self.task.settle_steps();
        if steps == 0 {
            return Ok(());
        }
        let still: Vec<f32> = self
            .instruments
            .iter()
            .zip(starts)
            .flat_map(|(instrument, start)| {
                let mut a = vec![0.0; instrument.kind.action_dim()];
                if instrument.kind == InstrumentKind::Psm && start.holding.is_some() {
                    a[4] = -1.0;
                }
                a
            })
            .collect();
        // The objects stay where the task put them while the jaws close:
        // a light needle would otherwise fall out of blades still closing.
        let objects = self.task.objects().to_vec();
        for &h in &objects {
            self.world.bodies[h].set_body_type(RigidBodyType::KinematicPositionBased, true);
        }
        for _ in 0..steps {
            let (_, moves) = self.plan_moves(&still, &Vector3::zeros());
            let (fault, _) = self.run_substeps(&moves);
            if fault || !self.instruments.iter().all(|i| i.is_finite(&self.world)) {
                return Err(Error::Invalid(format!("task `{}`: the simulation failed while its starting grasp settled", self.task.name())));
            }
        }
        // Released: from here on only the grip holds them.
        for &h in &objects {
            self.world.bodies[h].set_body_type(RigidBodyType::Dynamic, true);
        }
        Ok(())
    }

    /// Appends the recent actions (most recent first) to the observation.
    fn with_action_history(&self, mut observation: Observation) -> Observation {
        for a in &self.recent_actions {
            observation.observation.extend_from_slice(a);
        }
        observation
    }

    /// The state as the policy senses it: with observation noise, if any.
    fn sensed(&mut self, mut state: ArmState) -> ArmState {
        let p = &self.config.perturb;
        let rng = &mut self.disturbance.rng;
        let mut others = std::mem::take(&mut state.others);
        for arm in std::iter::once(&mut state).chain(&mut others) {
            if p.obs_noise_mm > 0.0 {
                let n = standard_normal(rng, 3);
                arm.tip += Vector3::new(n[0] as f64, n[1] as f64, n[2] as f64) * p.obs_noise_mm * 1e-3;
            }
            if p.joint_noise > 0.0 {
                let n = standard_normal(rng, arm.joints.len());
                arm.joints.iter_mut().zip(n).for_each(|(q, e)| *q += e as f64 * p.joint_noise);
            }
        }
        state.others = others;
        state
    }

    /// PSM joint targets for a tip position (world) and yaw, near `seed`.
    fn solve_ik(&self, world_from_base: &Isometry3<f64>, tip: &Vector3<f64>, yaw: f64, seed: &ArmJoints) -> Result<ArmJoints, IkError> {
        let base_tip = world_from_base.inverse_transform_point(&(*tip).into());
        let target = Isometry3::from_parts(Translation3::from(base_tip.coords), tool_down_rotation(yaw));
        self.kinematics.inverse(&target, seed)
    }

    /// ECM joint targets for a camera tip position (world) and roll.
    fn solve_ecm_ik(&self, world_from_base: &Isometry3<f64>, tip: &Vector3<f64>, roll: f64) -> Result<EcmJoints, IkError> {
        let base_tip = world_from_base.inverse_transform_point(&(*tip).into());
        let q = self.ecm_kinematics.joints_for_tip(&base_tip.coords, roll);
        if !q.iter().all(|v| v.is_finite()) {
            return Err(IkError::NotFinite);
        }
        self.ecm_kinematics.within_limits(&q)?;
        Ok(q)
    }

    fn jaw_target(&self, action: f32) -> f64 {
        let [lo, hi] = self.description.jaw.limits_si();
        lo + (hi - lo) * (action as f64 + 1.0) / 2.0
    }

    /// The task's view of its instruments and objects: the first
    /// instrument's state, with the others' in `others`.
    pub fn arm_state(&self) -> ArmState {
        let mut states = self.instruments.iter().map(|i| self.instrument_state(i));
        let mut first = states.next().expect("reset builds the instruments");
        first.others = states.collect();
        first
    }

    fn instrument_state(&self, instrument: &Instrument) -> ArmState {
        match &instrument.body {
            ArmBody::Psm(psm) => self.psm_state(instrument, psm),
            ArmBody::Ecm(ecm) => self.ecm_state(instrument, ecm),
        }
    }

    fn psm_state(&self, instrument: &Instrument, psm: &Psm) -> ArmState {
        let tip = psm.tip_pose(&self.world).translation.vector;
        let body = &self.world.bodies[psm.bodies[ARM_DOF]];
        let tip_velocity = from_vector(body.velocity_at_point(to_vector(&tip)));
        // Tool yaw: the jaw axis x6 is (−cos ψ, −sin ψ, 0) in the base frame.
        let x6 = psm.tip_pose_base(&self.world).rotation * Vector3::x();
        let tip_yaw = (-x6.y).atan2(-x6.x);
        ArmState {
            tip,
            tip_velocity,
            yaw: instrument.yaw,
            tip_yaw,
            tip_command: instrument.tip_command,
            joints: psm.joint_positions(&self.world).to_vec(),
            joint_velocities: psm.joint_velocities(&self.world).to_vec(),
            camera: None,
            objects: self.object_states(|h| instrument.grasping.hold(&self.world, psm, h)),
            others: Vec::new(),
        }
    }

    fn ecm_state(&self, instrument: &Instrument, ecm: &Ecm) -> ArmState {
        let tip = ecm.tip_pose(&self.world).translation.vector;
        let body = &self.world.bodies[ecm.bodies[ECM_DOF]];
        let tip_velocity = from_vector(body.velocity_at_point(to_vector(&tip)));
        let joints = ecm.joint_positions(&self.world);
        ArmState {
            tip,
            tip_velocity,
            yaw: instrument.yaw,
            tip_yaw: joints[ECM_DOF - 1],
            tip_command: instrument.tip_command,
            joints: joints.to_vec(),
            joint_velocities: ecm.joint_velocities(&self.world).to_vec(),
            camera: Some(ecm.camera_pose(&self.world)),
            objects: self.object_states(|_| Default::default()),
            others: Vec::new(),
        }
    }

    /// The task's loose objects, each with the hold `hold` reports.
    fn object_states(&self, hold: impl Fn(RigidBodyHandle) -> Hold) -> Vec<ObjectState> {
        self.task
            .objects()
            .iter()
            .map(|&h| {
                let body = &self.world.bodies[h];
                ObjectState { pose: from_pose(body.position()), velocity: from_vector(body.linvel()), hold: hold(h) }
            })
            .collect()
    }

    /// Advances one control step.
    pub fn step(&mut self, action: &[f32]) -> Result<Step> {
        let (action, action_clipped) = validate_action(action, &self.config.robot)?;
        if self.done || self.instruments.is_empty() {
            return Err(Error::Invalid("step called before reset or after the episode ended".into()));
        }
        // Actuation latency: the action applied now is the one chosen k steps ago.
        let latency = self.disturbance.latency;
        let chosen = action.clone();
        let action = if latency == 0 {
            action
        } else {
            let queue = &mut self.disturbance.queue;
            queue.push_back(action);
            if queue.len() > latency { queue.pop_front().expect("non-empty") } else { vec![0.0; chosen.len()] }
        };
        let state = self.arm_state();
        // Tremor shakes what reaches the arms, not the setpoints the policy moves.
        let time = (self.steps + 1) as f64 * self.config.physics.control_period();
        let shaken = self.disturbance.tremor(&self.config.perturb, time);
        let (ik_failed, moves) = self.plan_moves(&action, &shaken);
        let (mut physics_fault, collisions) = self.run_substeps(&moves);
        self.steps += 1;

        physics_fault |= !self.instruments.iter().all(|i| i.is_finite(&self.world));
        let mut orientation_error_deg = None;
        let objects_finite = self.task.objects().iter().all(|&h| {
            let p = self.world.bodies[h].position();
            p.translation.is_finite() && p.rotation.is_finite()
        });
        physics_fault |= !objects_finite;
        let fault_rate = self.config.perturb.fault_rate;
        if fault_rate > 0.0 && !physics_fault {
            use rand::RngExt;
            physics_fault = self.disturbance.rng.random::<f64>() < fault_rate;
        }
        let true_state = if physics_fault {
            ArmState { tip_velocity: Vector3::zeros(), ..state }
        } else {
            let state = self.arm_state();
            self.task.on_step(self.steps, &state);
            orientation_error_deg = self.task.orientation_error(&state).map(f64::to_degrees);
            state
        };
        let observation = self.task.observe(&true_state);
        let tip_error = if physics_fault { f64::NAN } else { self.task.tip_error(&true_state) };
        // Rewards, success and errors use the true state; the policy gets the sensed one.
        let action_penalty = self.task.action_penalty(&chosen, &self.previous_action);
        let reward = self.task.compute_reward(&observation.achieved_goal, &observation.desired_goal) - action_penalty;
        if self.recent_actions.pop_back().is_some() {
            self.recent_actions.push_front(chosen.clone());
        }
        self.previous_action = chosen;
        let success = !physics_fault && self.task.step_success(&observation);
        let ended = !physics_fault && self.task.ended(&true_state);
        let grasp = true_state.objects.first().map(|o| GraspInfo::new(self.config.physics.grasp, o));
        let observation = if physics_fault || !self.config.perturb.senses_noisily() {
            observation
        } else {
            let sensed = self.sensed(true_state);
            self.task.observe(&sensed)
        };
        let observation = self.with_action_history(observation);
        let terminated = (success && self.config.episode.terminate_on_success) || ended;
        let truncated = physics_fault || self.steps >= self.config.episode.steps;
        self.done = terminated || truncated;
        Ok(Step {
            observation,
            reward,
            terminated,
            truncated,
            info: StepInfo {
                success,
                tip_error_mm: tip_error * 1e3,
                physics_fault,
                ik_failed,
                action_clipped,
                orientation_error_deg,
                tracking: self.task.tracking(),
                grasp,
                instrument_collisions: collisions,
                action_penalty,
            },
        })
    }

    /// Each instrument's slice of `action` turned into new servo targets:
    /// its setpoint moves by the action (clipped to the workspace), and
    /// inverse kinematics solves for the setpoint shaken by `shaken`. Returns
    /// whether any instrument's IK failed (that one holds its targets).
    fn plan_moves(&mut self, action: &[f32], shaken: &Vector3<f64>) -> (bool, Vec<Move>) {
        let c = &self.config.control;
        let yaw_limit = c.yaw_limit_deg.to_radians();
        let mut ik_failed = false;
        let mut moves = Vec::with_capacity(self.instruments.len());
        let mut offset = 0;
        for k in 0..self.instruments.len() {
            let instrument = &self.instruments[k];
            let a = &action[offset..offset + instrument.kind.action_dim()];
            offset += a.len();
            // Actions move the setpoint, not the measured tip (as the dVRK's
            // relative moves do): the commanded path is exactly bounded by
            // max_step_m per step, and servo lag never compounds.
            let mut tip_target = instrument.tip_command;
            for k in 0..3 {
                tip_target[k] = (tip_target[k] + a[k] as f64 * c.max_step_m).clamp(c.workspace_min[k], c.workspace_max[k]);
            }
            // The PSM's wrist yaw, or the ECM's scope roll.
            let yaw = (instrument.yaw + a[3] as f64 * c.max_yaw_step_deg.to_radians()).clamp(-yaw_limit, yaw_limit);
            let commanded = Vector3::from_fn(|k, _| (tip_target[k] + shaken[k]).clamp(c.workspace_min[k], c.workspace_max[k]));
            let previous = instrument.targets.clone();
            let mut next = previous.clone();
            let (solved, jaw_closing) = match instrument.kind {
                InstrumentKind::Psm => {
                    let solved = self.solve_ik(&instrument.world_from_base, &commanded, yaw, &Psm::arm(&to_array(&previous)));
                    if let Ok(arm) = &solved {
                        next[..ARM_DOF].copy_from_slice(arm);
                    }
                    next[ARM_DOF] = self.jaw_target(a[4]);
                    if let Some(speed) = c.max_jaw_speed_deg_s {
                        let most = speed.to_radians() * self.config.physics.control_period();
                        next[ARM_DOF] = previous[ARM_DOF] + (next[ARM_DOF] - previous[ARM_DOF]).clamp(-most, most);
                    }
                    // SurRoL's sign convention: the lower half of the jaw range closes.
                    (solved.map(|_| ()), a[4] < 0.0)
                }
                InstrumentKind::Ecm => {
                    let solved = self.solve_ecm_ik(&instrument.world_from_base, &commanded, yaw);
                    if let Ok(q) = &solved {
                        next.copy_from_slice(q);
                    }
                    (solved.map(|_| ()), false)
                }
            };
            if solved.is_ok() {
                let instrument = &mut self.instruments[k];
                instrument.tip_command = tip_target;
                instrument.yaw = yaw;
            }
            ik_failed |= solved.is_err();
            moves.push(Move { previous, next, jaw_closing });
        }
        (ik_failed, moves)
    }

    /// Runs one control step's physics substeps, the servos following a
    /// linear ramp to each move's targets, as the dVRK's trajectory
    /// interpolation does, with its slope as velocity feed-forward. Returns
    /// (physics fault, the PSMs' collisions).
    fn run_substeps(&mut self, moves: &[Move]) -> (bool, Collisions) {
        let substeps = self.config.physics.substeps;
        let period = self.config.physics.control_period();
        let velocities: Vec<Vec<f64>> = moves.iter().map(|m| m.next.iter().zip(&m.previous).map(|(n, p)| (n - p) / period).collect()).collect();
        let mut physics_fault = false;
        let mut collisions = Collisions::default();
        let contacts = self.config.physics.arm_contacts;
        let (world, task) = (&mut self.world, &self.task);
        for instrument in &mut self.instruments {
            instrument.grasping.begin_step();
        }
        // One buffer for every ramp: no allocation per substep.
        let mut ramp = Vec::with_capacity(DOF);
        for s in 1..=substeps {
            let f = s as f64 / substeps as f64;
            for ((instrument, m), velocity) in self.instruments.iter().zip(moves).zip(&velocities) {
                ramp.clear();
                ramp.extend(m.previous.iter().zip(&m.next).map(|(p, n)| p + (n - p) * f));
                instrument.set_targets(world, &ramp, velocity);
            }
            world.step();
            // rapier quarantines bodies whose state went non-finite.
            if !world.quarantine().is_empty() {
                physics_fault = true;
                break;
            }
            let mut step_collisions = Collisions::default();
            for (instrument, m) in self.instruments.iter_mut().zip(moves) {
                let ArmBody::Psm(psm) = &instrument.body else { continue };
                if contacts {
                    step_collisions = step_collisions.and(instrument_collisions(world, psm));
                }
                instrument.grasping.accumulate(world, psm, task.objects());
                instrument.grasping.update(world, psm, task.objects(), m.jaw_closing, |world, o| task.may_weld(world, o));
            }
            collisions = collisions.max(step_collisions);
        }
        for (instrument, m) in self.instruments.iter_mut().zip(moves) {
            instrument.targets.clone_from(&m.next);
        }
        (physics_fault, collisions)
    }

    /// One physics substep with the servo targets unchanged (benchmarks).
    pub fn step_physics_only(&mut self) {
        self.world.step();
    }

    /// The scripted expert's action for the current state.
    pub fn oracle_action(&self) -> Vec<f32> {
        self.task.oracle_action(&self.arm_state())
    }
}

/// What `VecEnv::step` returns, one entry per env.
///
/// With [`AutoReset::SameStep`], an env whose episode ended was reset at
/// once: its `observations` entry is the new episode's first observation and
/// `final_observations` holds the last one. With [`AutoReset::NextStep`] its
/// entry is the last observation, and the next `step` resets it instead of
/// stepping it (`stepped` false, reward 0, no flags, a default info).
#[derive(Clone, Debug, PartialEq)]
pub struct VecStep {
    pub observations: Vec<Observation>,
    pub rewards: Vec<f32>,
    pub terminated: Vec<bool>,
    pub truncated: Vec<bool>,
    pub infos: Vec<StepInfo>,
    pub final_observations: Vec<Option<Observation>>,
    /// Whether the env took a step (false: it was reset, `NextStep` only).
    pub stepped: Vec<bool>,
}

/// When a `VecEnv` resets an env whose episode ended (Gymnasium's autoreset modes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AutoReset {
    /// In the step that ended it (the trainers' mode, SB3's).
    #[default]
    SameStep,
    /// In the following step, whose action for that env is ignored
    /// (Gymnasium's default, and RLlib's).
    NextStep,
}

/// One env's part of a `VecEnv` step.
struct EnvStep {
    step: Step,
    final_observation: Option<Observation>,
    stepped: bool,
}

/// N envs stepped in parallel on a rayon pool, with automatic reset.
/// Results are identical whatever the number of threads.
pub struct VecEnv {
    envs: Vec<Env>,
    episodes: Vec<u64>,
    seed: u64,
    pool: rayon::ThreadPool,
    autoreset: AutoReset,
    /// Envs whose episode ended in the last step and wait for their reset (`NextStep`).
    awaiting_reset: Vec<bool>,
}

impl VecEnv {
    /// `threads = 0` uses one thread per core.
    pub fn new(config: &TaskConfig, num_envs: usize, seed: u64, threads: usize) -> Result<Self> {
        if num_envs == 0 {
            return Err(Error::Invalid("a VecEnv needs at least one env (num_envs = 0)".into()));
        }
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().map_err(|e| Error::Invalid(format!("cannot start {threads} threads: {e}")))?;
        let envs = (0..num_envs).map(|_| Env::new(config.clone())).collect::<Result<Vec<_>>>()?;
        Ok(Self { envs, episodes: vec![0; num_envs], seed, pool, autoreset: AutoReset::SameStep, awaiting_reset: vec![false; num_envs] })
    }

    /// Chooses when envs whose episode ended are reset (from the next `step` on).
    pub fn set_autoreset(&mut self, mode: AutoReset) {
        self.autoreset = mode;
    }

    pub fn autoreset(&self) -> AutoReset {
        self.autoreset
    }

    /// Starts a new seed sequence: env i's episodes are then those of `seed`.
    pub fn reseed(&mut self, seed: u64) -> Result<Vec<Observation>> {
        self.seed = seed;
        self.reset()
    }

    pub fn num_envs(&self) -> usize {
        self.envs.len()
    }

    /// Numbers in one env's action.
    pub fn action_dim(&self) -> usize {
        self.envs[0].action_dim()
    }

    pub fn envs(&self) -> &[Env] {
        &self.envs
    }

    pub fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    /// Runs `work` on this VecEnv's thread pool: parallel work inside it
    /// (`rayon::join`) shares the envs' threads instead of starting others.
    pub fn install<R: Send>(&self, work: impl FnOnce() -> R + Send) -> R {
        self.pool.install(work)
    }

    /// Resets every env to the first episode of its seed sequence.
    pub fn reset(&mut self) -> Result<Vec<Observation>> {
        let zeros = vec![0; self.envs.len()];
        self.reset_to(&zeros)
    }

    /// Episode index of each env in its seed sequence.
    pub fn episode_counters(&self) -> &[u64] {
        &self.episodes
    }

    /// Starts episode `episodes[i]` of env i's seed sequence (to resume a run).
    pub fn reset_to(&mut self, episodes: &[u64]) -> Result<Vec<Observation>> {
        if episodes.len() != self.envs.len() {
            return Err(Error::Invalid(format!("{} episode counters for {} envs", episodes.len(), self.envs.len())));
        }
        self.episodes.copy_from_slice(episodes);
        self.awaiting_reset.fill(false);
        let seed = self.seed;
        let episodes = &self.episodes;
        let envs = &mut self.envs;
        self.pool.install(|| envs.par_iter_mut().enumerate().map(|(i, env)| env.reset(episode_seed(seed, i, episodes[i]))).collect())
    }

    /// Steps every env with its slice of `actions` (num_envs × action_dim, row-major).
    pub fn step(&mut self, actions: &[f32]) -> Result<VecStep> {
        Ok(self.step_alongside(actions, || ())?.0)
    }

    /// [`step`](Self::step), while `work` runs beside the envs on this
    /// VecEnv's threads (a learner's updates, say): neither waits for the
    /// other's slowest part. `work` does not run if an action is refused.
    pub fn step_alongside<R: Send>(&mut self, actions: &[f32], work: impl FnOnce() -> R + Send) -> Result<(VecStep, R)> {
        let n = self.envs.len();
        let robot = &self.envs[0].config().robot;
        let dim = robot.action_dim();
        if actions.len() != n * dim {
            return Err(Error::InvalidAction(format!("expected {} numbers ({n} envs × {dim}), got {}", n * dim, actions.len())));
        }
        // Check every action before touching any env, so a bad one loses nothing.
        for (i, a) in actions.chunks(dim).enumerate() {
            validate_action(a, robot).map_err(|e| Error::InvalidAction(format!("env {i}: {e}")))?;
        }
        let (seed, autoreset) = (self.seed, self.autoreset);
        let envs = &mut self.envs;
        let episodes = &mut self.episodes;
        let awaiting = &mut self.awaiting_reset;
        let step_envs = || -> Vec<Result<EnvStep>> {
            envs.par_iter_mut()
                .zip(episodes.par_iter_mut())
                .zip(awaiting.par_iter_mut())
                .zip(actions.par_chunks(dim))
                .enumerate()
                .map(|(i, (((env, episode), awaiting), action))| {
                    if *awaiting {
                        *awaiting = false;
                        *episode += 1;
                        let observation = env.reset(episode_seed(seed, i, *episode))?;
                        let step = Step { observation, reward: 0.0, terminated: false, truncated: false, info: StepInfo::default() };
                        return Ok(EnvStep { step, final_observation: None, stepped: false });
                    }
                    let mut step = env.step(action)?;
                    let mut final_observation = None;
                    if step.terminated || step.truncated {
                        match autoreset {
                            AutoReset::SameStep => {
                                *episode += 1;
                                let first = env.reset(episode_seed(seed, i, *episode))?;
                                final_observation = Some(std::mem::replace(&mut step.observation, first));
                            }
                            AutoReset::NextStep => *awaiting = true,
                        }
                    }
                    Ok(EnvStep { step, final_observation, stepped: true })
                })
                .collect()
        };
        let (results, work_result) = self.pool.install(|| rayon::join(step_envs, work));
        let mut out = VecStep {
            observations: Vec::with_capacity(n),
            rewards: Vec::with_capacity(n),
            terminated: Vec::with_capacity(n),
            truncated: Vec::with_capacity(n),
            infos: Vec::with_capacity(n),
            final_observations: Vec::with_capacity(n),
            stepped: Vec::with_capacity(n),
        };
        for r in results {
            let EnvStep { step, final_observation, stepped } = r?;
            out.observations.push(step.observation);
            out.rewards.push(step.reward);
            out.terminated.push(step.terminated);
            out.truncated.push(step.truncated);
            out.infos.push(step.info);
            out.final_observations.push(final_observation);
            out.stepped.push(stepped);
        }
        Ok((out, work_result))
    }
}

/// The perturbations of one episode.
#[derive(Clone, Debug)]
struct Disturbance {
    rng: Rng,
    /// Tremor direction (unit), frequency (Hz) and phase (rad).
    tremor_direction: Vector3<f64>,
    tremor_hz: f64,
    tremor_phase: f64,
    queue: std::collections::VecDeque<Vec<f32>>,
    /// Control steps between an action and its effect, this episode.
    latency: usize,
    mass: f64,
    stiffness: f64,
    damping: f64,
    gravity_compensation: f64,
}

impl Default for Disturbance {
    fn default() -> Self {
        Self::sample(&crate::task::perturb::PerturbConfig::default(), 0)
    }
}

impl Disturbance {
    fn sample(p: &crate::task::perturb::PerturbConfig, seed: u64) -> Self {
        use rand::RngExt;
        let mut rng = rng_from_seed(seed ^ 0x7E3B_0AA5_D15E_A5ED);
        let n = standard_normal(&mut rng, 3);
        let direction = Vector3::new(n[0] as f64, n[1] as f64, n[2] as f64);
        let tremor_direction = if direction.norm() > 1e-9 { direction.normalize() } else { Vector3::x() };
        let tremor_hz = rng.random_range(8.0..12.0);
        let tremor_phase = rng.random_range(0.0..std::f64::consts::TAU);
        let mut spread = |s: f64| if s > 0.0 { rng.random_range(1.0 - s..1.0 + s) } else { 1.0 };
        let (mass, stiffness, damping, gravity_compensation) =
            (spread(p.mass_spread), spread(p.stiffness_spread), spread(p.damping_spread), spread(p.gravity_compensation_spread));
        // Drawn last, and only when it varies, so the other draws stay as they were.
        let latency = if p.latency_max_steps > p.latency_steps { rng.random_range(p.latency_steps..=p.latency_max_steps) } else { p.latency_steps };
        Self {
            rng,
            tremor_direction,
            tremor_hz,
            tremor_phase,
            queue: std::collections::VecDeque::new(),
            latency,
            mass,
            stiffness,
            damping,
            gravity_compensation,
        }
    }

    /// The tremor displacement at time `t` (m): oscillation plus white noise.
    fn tremor(&mut self, p: &crate::task::perturb::PerturbConfig, t: f64) -> Vector3<f64> {
        let mut d = Vector3::zeros();
        if p.tremor_mm > 0.0 {
            d += self.tremor_direction * (p.tremor_mm * 1e-3) * (std::f64::consts::TAU * self.tremor_hz * t + self.tremor_phase).sin();
        }
        if p.tremor_noise_mm > 0.0 {
            let n = standard_normal(&mut self.rng, 3);
            d += Vector3::new(n[0] as f64, n[1] as f64, n[2] as f64) * p.tremor_noise_mm * 1e-3;
        }
        d
    }
}
