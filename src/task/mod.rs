//! Layer 2: gesture definitions — goal sampling, observations, rewards,
//! success tests and scripted oracles. One file per task, one config per
//! task in `assets/tasks/NAME.toml`.

pub mod bi_peg_transfer;
pub mod bimanual;
pub mod camera_view;
pub mod ecm_active_track;
pub mod ecm_misorient;
pub mod ecm_reach;
pub mod ecm_static_track;
pub mod gauze_retrieve;
pub mod gesture_trace;
pub mod needle_pick;
pub mod needle_reach;
pub mod needle_regrasp;
pub mod peg_transfer;
pub mod perturb;
pub mod pick_place;
pub mod pose_reach;
pub mod visual_servo;

use rand::RngExt;
use rapier3d::na::{Isometry3, Vector3};
use rapier3d::prelude::{PhysicsWorld, RigidBodyHandle};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::rng::Rng;
use crate::sim::grasp::Hold;
use crate::sim::physics::{GraspMode, PhysicsConfig};

/// The longest action history an observation may carry.
pub const MAX_ACTION_HISTORY: usize = 10;

/// A built-in task: its id, a one-line summary, its default config and its
/// constructor. Adding a task adds one entry here.
pub struct TaskInfo {
    pub name: &'static str,
    pub summary: &'static str,
    /// What the task's orientation error measures, for reports (tasks
    /// without one: the PSM's "jaw angle error").
    pub orientation_label: &'static str,
    pub default_config: &'static str,
    /// Builds the task from a config whose `task` is `name`; it parses and
    /// checks the task's own tables and refuses any it does not know.
    pub build: fn(&TaskConfig) -> Result<Box<dyn Task>>,
}

fn boxed<T: Task + 'static>(task: Result<T>) -> Result<Box<dyn Task>> {
    task.map(|t| Box::new(t) as Box<dyn Task>)
}

/// Every task gesture-lab knows.
pub const TASKS: &[TaskInfo] = &[
    TaskInfo {
        name: "needle-reach",
        summary: "bring the tool tip within 5 mm of a point 5 mm above a needle lying on the tray (SurRoL NeedleReach)",
        orientation_label: "jaw angle error",
        default_config: include_str!("../../assets/tasks/needle-reach.toml"),
        build: |c| boxed(needle_reach::NeedleReach::new(c)),
    },
    TaskInfo {
        name: "gesture-trace",
        summary: "follow a reference moving along a suturing arc, incision line or figure-eight: RMS <= 2 mm, max <= 5 mm",
        orientation_label: "jaw angle error",
        default_config: include_str!("../../assets/tasks/gesture-trace.toml"),
        build: |c| boxed(gesture_trace::GestureTrace::new(c)),
    },
    TaskInfo {
        name: "pose-reach",
        summary: "reach 5 mm above the needle with the jaw plane across it: within 5 mm and 10 degrees",
        orientation_label: "jaw angle error",
        default_config: include_str!("../../assets/tasks/pose-reach.toml"),
        build: |c| boxed(pose_reach::PoseReach::new(c)),
    },
    TaskInfo {
        name: "needle-pick",
        summary: "grasp a loose suture needle and bring its midpoint within 5 mm of a goal 40 mm above the tray (SurRoL NeedlePick)",
        orientation_label: "jaw angle error",
        default_config: include_str!("../../assets/tasks/needle-pick.toml"),
        build: |c| boxed(needle_pick::build(c)),
    },
    TaskInfo {
        name: "gauze-retrieve",
        summary: "grasp a loose gauze pad and carry its centre within 5 mm of a goal 34 mm above the tray (SurRoL GauzeRetrieve)",
        orientation_label: "jaw angle error",
        default_config: include_str!("../../assets/tasks/gauze-retrieve.toml"),
        build: |c| boxed(gauze_retrieve::build(c)),
    },
    TaskInfo {
        name: "peg-transfer",
        summary: "lift a ring block off a far peg and seat it on a target near peg: 5 mm in x-z, 4 mm in height (SurRoL PegTransfer)",
        orientation_label: "jaw angle error",
        default_config: include_str!("../../assets/tasks/peg-transfer.toml"),
        build: |c| boxed(peg_transfer::build(c)),
    },
    TaskInfo {
        name: "needle-regrasp",
        summary: "two PSMs: PSM2 takes the needle PSM1 holds, PSM1 lets go, and the handover point reaches a goal within 5 mm (SurRoL NeedleRegrasp)",
        orientation_label: "jaw angle error",
        default_config: include_str!("../../assets/tasks/needle-regrasp.toml"),
        build: |c| boxed(needle_regrasp::NeedleRegrasp::new(c)),
    },
    TaskInfo {
        name: "bi-peg-transfer",
        summary: "two PSMs: PSM2 lifts a ring block off its peg and hands it to PSM1, which seats it on a target peg: 5 mm in x-z, 4 mm in height (SurRoL BiPegTransfer)",
        orientation_label: "jaw angle error",
        default_config: include_str!("../../assets/tasks/bi-peg-transfer.toml"),
        build: |c| boxed(bi_peg_transfer::BiPegTransfer::new(c)),
    },
    TaskInfo {
        name: "ecm-reach",
        summary: "bring the endoscope's camera tip within 5 mm of a goal in a 10 cm cube (SurRoL ECMReach)",
        orientation_label: "jaw angle error",
        default_config: include_str!("../../assets/tasks/ecm-reach.toml"),
        build: |c| boxed(ecm_reach::EcmReach::new(c)),
    },
    TaskInfo {
        name: "ecm-misorient",
        summary: "roll the endoscope until the image horizon is level within 0.01 rad (SurRoL MisOrient)",
        orientation_label: "horizon error",
        default_config: include_str!("../../assets/tasks/ecm-misorient.toml"),
        build: |c| boxed(ecm_misorient::EcmMisorient::new(c)),
    },
    TaskInfo {
        name: "ecm-static-track",
        summary: "keep a target cube centred in the endoscope's image (0.01) among distractors, the horizon level (0.01 rad) (SurRoL StaticTrack)",
        orientation_label: "horizon error",
        default_config: include_str!("../../assets/tasks/ecm-static-track.toml"),
        build: |c| boxed(ecm_static_track::EcmStaticTrack::new(c)),
    },
    TaskInfo {
        name: "ecm-active-track",
        summary: "keep a target moving over the table within 0.1 of the endoscope's image centre for 500 steps; ends when it leaves the view (SurRoL ActiveTrack)",
        orientation_label: "jaw angle error",
        default_config: include_str!("../../assets/tasks/ecm-active-track.toml"),
        build: |c| boxed(ecm_active_track::EcmActiveTrack::new(c)),
    },
];

/// What task `name`'s orientation error measures, for reports.
pub fn orientation_label(name: &str) -> &'static str {
    task_info(name).map_or("orientation error", |t| t.orientation_label)
}

pub fn task_info(name: &str) -> Result<&'static TaskInfo> {
    TASKS
        .iter()
        .find(|t| t.name == name)
        .ok_or_else(|| Error::UnknownTask { name: name.to_string(), known: TASKS.iter().map(|t| t.name).collect::<Vec<_>>().join(", ") })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RewardMode {
    /// −1 while the tip is outside the tolerance, 0 inside.
    Sparse,
    /// Minus the distance to the goal in metres.
    Dense,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EpisodeConfig {
    pub steps: usize,
    pub success_tolerance_m: f64,
    pub reward: RewardMode,
    pub terminate_on_success: bool,
}

/// How actions move the instrument (world frame, metres).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlConfig {
    pub max_step_m: f64,
    pub max_yaw_step_deg: f64,
    pub yaw_limit_deg: f64,
    pub workspace_min: [f64; 3],
    pub workspace_max: [f64; 3],
    /// The last k actions the policy chose, appended to the observation (most
    /// recent first, k x 5 numbers): under actuation latency they are the
    /// actions still on their way. 0 (the default) adds nothing, so configs
    /// and policies from before this field keep their observation size.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub action_history: usize,
    /// The fastest the jaw angle target may change (degrees per second);
    /// absent: the jaw target jumps to the commanded angle within one step.
    /// A jaw that slams shut flicks a light needle away.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_jaw_speed_deg_s: Option<f64>,
}

fn is_zero(v: &usize) -> bool {
    *v == 0
}

/// Which arm a task drives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InstrumentKind {
    /// The Patient Side Manipulator: actions dx, dy, dz, wrist yaw, jaw.
    #[default]
    Psm,
    /// The Endoscopic Camera Manipulator: actions dx, dy, dz of the camera tip, scope roll.
    Ecm,
}

impl InstrumentKind {
    /// Numbers in one action.
    pub fn action_dim(self) -> usize {
        match self {
            InstrumentKind::Psm => 5,
            InstrumentKind::Ecm => 4,
        }
    }

    /// What the action's numbers mean, in order.
    pub fn action_names(self) -> &'static str {
        match self {
            InstrumentKind::Psm => "dx, dy, dz, yaw, jaw",
            InstrumentKind::Ecm => "dx, dy, dz, roll",
        }
    }

    fn is_psm(&self) -> bool {
        *self == InstrumentKind::Psm
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RobotPlacement {
    /// World position of the RCM; the base frame's z axis points up (world Y).
    pub rcm: [f64; 3],
    /// The arm the task drives (default: the PSM).
    #[serde(default, skip_serializing_if = "InstrumentKind::is_psm")]
    pub instrument: InstrumentKind,
    /// The base frame's turn about the vertical (degrees, default 0: its x
    /// axis along world X). The ECM behind the table turns 180° to lean
    /// forward over it.
    #[serde(default, skip_serializing_if = "is_zero_f64")]
    pub yaw_deg: f64,
    /// The task's other instruments (a second PSM, the ECM), in action order
    /// after this one; none by default.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub others: Vec<InstrumentPlacement>,
}

fn is_zero_f64(v: &f64) -> bool {
    *v == 0.0
}

/// Another instrument of a multi-instrument task (`[[robot.others]]`),
/// placed by its own base pose.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstrumentPlacement {
    pub instrument: InstrumentKind,
    /// World position of its RCM.
    pub rcm: [f64; 3],
    /// Its base frame's turn about the vertical (degrees).
    #[serde(default, skip_serializing_if = "is_zero_f64")]
    pub yaw_deg: f64,
}

/// World pose of a base frame at `rcm`: z up (world Y), turned by `yaw_deg` about it.
fn base_pose(rcm: [f64; 3], yaw_deg: f64) -> Isometry3<f64> {
    let [x, y, z] = rcm;
    let mut rotation = rapier3d::na::UnitQuaternion::from_axis_angle(&Vector3::x_axis(), -std::f64::consts::FRAC_PI_2);
    if yaw_deg != 0.0 {
        rotation *= rapier3d::na::UnitQuaternion::from_axis_angle(&Vector3::z_axis(), yaw_deg.to_radians());
    }
    Isometry3::from_parts(rapier3d::na::Translation3::new(x, y, z), rotation)
}

impl RobotPlacement {
    /// World pose of the (first) robot's base frame: origin at the RCM, z up (world Y), turned by `yaw_deg`.
    pub fn world_from_base(&self) -> Isometry3<f64> {
        base_pose(self.rcm, self.yaw_deg)
    }

    /// Every instrument of the task, in action order: this table's, then `others`.
    pub fn instruments(&self) -> Vec<(InstrumentKind, Isometry3<f64>)> {
        std::iter::once((self.instrument, self.world_from_base())).chain(self.others.iter().map(|o| (o.instrument, base_pose(o.rcm, o.yaw_deg)))).collect()
    }

    fn kinds(&self) -> impl Iterator<Item = InstrumentKind> + '_ {
        std::iter::once(self.instrument).chain(self.others.iter().map(|o| o.instrument))
    }

    /// Numbers in one action: each instrument's, concatenated in order.
    pub fn action_dim(&self) -> usize {
        self.kinds().map(InstrumentKind::action_dim).sum()
    }

    /// What the action's numbers mean, instrument by instrument.
    pub fn action_names(&self) -> String {
        if self.others.is_empty() {
            return self.instrument.action_names().to_string();
        }
        self.kinds().enumerate().map(|(k, kind)| format!("instrument {} ({kind:?}): {}", k + 1, kind.action_names())).collect::<Vec<_>>().join("; ")
    }

    /// Whether any instrument is a PSM (that can hold objects).
    pub fn has_psm(&self) -> bool {
        self.kinds().any(|k| k == InstrumentKind::Psm)
    }
}

/// Where the tip starts an episode (world frame).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartConfig {
    pub tip_min: [f64; 3],
    pub tip_max: [f64; 3],
    pub yaw_deg: f64,
}

impl StartConfig {
    /// A start pose drawn from this config: the tip uniform in its box, the
    /// wrist yaw uniform within ±`yaw_deg` (in that order from `rng`).
    pub fn sample(&self, rng: &mut Rng) -> StartPose {
        let tip = Vector3::from_fn(|k, _| if self.tip_min[k] < self.tip_max[k] { rng.random_range(self.tip_min[k]..self.tip_max[k]) } else { self.tip_min[k] });
        let y = self.yaw_deg.to_radians();
        let yaw = if y > 0.0 { rng.random_range(-y..y) } else { 0.0 };
        StartPose { tip, yaw, holding: None }
    }
}

/// A pose lying flat at height `y`: x and z uniform within ±`region` (m),
/// then a heading about Y uniform over the full turn (in that order from `rng`).
pub fn flat_pose(rng: &mut Rng, region: f64, y: f64) -> Isometry3<f64> {
    let (x, z) = if region > 0.0 { (rng.random_range(-region..region), rng.random_range(-region..region)) } else { (0.0, 0.0) };
    let heading = rng.random_range(-std::f64::consts::PI..std::f64::consts::PI);
    Isometry3::from_parts(rapier3d::na::Translation3::new(x, y, z), rapier3d::na::UnitQuaternion::from_axis_angle(&Vector3::y_axis(), heading))
}

/// A whole task config file: the tables every task shares, and the task's own.
/// (No `deny_unknown_fields`: unknown top-level tables land in `tables`, where
/// the task refuses them by name.)
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskConfig {
    pub task: String,
    pub episode: EpisodeConfig,
    pub control: ControlConfig,
    pub robot: RobotPlacement,
    pub start: StartConfig,
    /// Perturbations (all off by default).
    #[serde(default, skip_serializing_if = "perturb::PerturbConfig::is_off")]
    pub perturb: perturb::PerturbConfig,
    pub physics: PhysicsConfig,
    /// The task's own tables (`[needle_reach]`, `[gesture_trace]`, ...), kept
    /// as read: the task parses them into its own config type when it is
    /// built, and refuses tables it does not know.
    #[serde(flatten)]
    pub tables: BTreeMap<String, toml::Value>,
}

impl TaskConfig {
    /// The built-in config of task `name`.
    pub fn builtin(name: &str) -> Result<Self> {
        let info = task_info(name)?;
        Self::from_toml_str(info.default_config, &format!("assets/tasks/{name}.toml"))
    }

    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_toml_str(&text, &path.display().to_string())
    }

    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self> {
        let config: TaskConfig = toml::from_str(text).map_err(|e| Error::Config { origin: origin.to_string(), message: e.to_string() })?;
        config.validate(origin)?;
        Ok(config)
    }

    pub fn validate(&self, origin: &str) -> Result<()> {
        let bad = |message: String| Err(Error::Config { origin: origin.to_string(), message });
        task_info(&self.task)?;
        self.physics.validate(origin)?;
        self.perturb.validate(origin)?;
        let e = &self.episode;
        if e.steps == 0 {
            return bad("episode.steps = 0 must be at least 1".into());
        }
        if !(e.success_tolerance_m.is_finite() && e.success_tolerance_m > 0.0) {
            return bad(format!("episode.success_tolerance_m = {} must be > 0", e.success_tolerance_m));
        }
        let c = &self.control;
        for (field, v) in [("control.max_step_m", c.max_step_m), ("control.max_yaw_step_deg", c.max_yaw_step_deg), ("control.yaw_limit_deg", c.yaw_limit_deg)] {
            if !(v.is_finite() && v > 0.0) {
                return bad(format!("{field} = {v} must be > 0"));
            }
        }
        if let Some(v) = c.max_jaw_speed_deg_s
            && !(v.is_finite() && v > 0.0)
        {
            return bad(format!("control.max_jaw_speed_deg_s = {v} must be > 0"));
        }
        if c.action_history > MAX_ACTION_HISTORY {
            return bad(format!("control.action_history = {} is more than {MAX_ACTION_HISTORY}", c.action_history));
        }
        let boxes = [("control.workspace", c.workspace_min, c.workspace_max), ("start.tip", self.start.tip_min, self.start.tip_max)];
        for (field, lo, hi) in boxes {
            for k in 0..3 {
                if !(lo[k].is_finite() && hi[k].is_finite() && lo[k] <= hi[k]) {
                    return bad(format!("{field}_min {lo:?} must not exceed {field}_max {hi:?}"));
                }
            }
        }
        if self.robot.rcm.iter().any(|v| !v.is_finite()) {
            return bad(format!("robot.rcm = {:?} must be finite", self.robot.rcm));
        }
        if !self.robot.yaw_deg.is_finite() {
            return bad(format!("robot.yaw_deg = {} must be finite", self.robot.yaw_deg));
        }
        let most = crate::sim::psm::INSTRUMENT_GROUPS.len() - 1;
        if self.robot.others.len() > most {
            return bad(format!("robot.others lists {} instruments; an env holds at most {most} besides the first", self.robot.others.len()));
        }
        for (i, o) in self.robot.others.iter().enumerate() {
            if !(o.rcm.iter().all(|v| v.is_finite()) && o.yaw_deg.is_finite()) {
                return bad(format!("robot.others[{i}]: rcm = {:?} and yaw_deg = {} must be finite", o.rcm, o.yaw_deg));
            }
        }
        self.build_task_checked(origin).map(|_| ())
    }

    /// Builds the task this config describes (validated: see [`Self::validate`]).
    pub fn build_task(&self) -> Box<dyn Task> {
        self.build_task_checked("task config").expect("validated task config")
    }

    fn build_task_checked(&self, origin: &str) -> Result<Box<dyn Task>> {
        (task_info(&self.task)?.build)(self).map_err(|e| match e {
            Error::Config { message, .. } => Error::Config { origin: origin.to_string(), message },
            other => other,
        })
    }

    /// Task table `name` parsed into the task's config type; an error names the table and field.
    pub fn table<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<T> {
        let bad = |message: String| Error::Config { origin: "task config".into(), message };
        let value = self.tables.get(name).ok_or_else(|| bad(format!("task `{}` needs a [{name}] table", self.task)))?;
        value.clone().try_into().map_err(|e: toml::de::Error| bad(format!("[{name}]: {}", e.message())))
    }

    /// Refuses any task table other than `known` (a typo must not pass silently).
    pub fn only_tables(&self, known: &[&str]) -> Result<()> {
        match self.tables.keys().find(|k| !known.contains(&k.as_str())) {
            None => Ok(()),
            Some(k) => Err(Error::Config {
                origin: "task config".into(),
                message: format!(
                    "unknown table or key `{k}` for task `{}` (its own tables: {})",
                    self.task,
                    known.iter().map(|t| format!("[{t}]")).collect::<Vec<_>>().join(", ")
                ),
            }),
        }
    }
}

/// A task config from its parts, as the CLI and the Python package take
/// them: a built-in task or a config file, then overrides, perturbations
/// and the grasp mode, each applied over the one before.
#[derive(Clone, Debug, Default)]
pub struct TaskSpec {
    /// Task id; default needle-reach (or the file's task).
    pub task: Option<String>,
    /// A task config file (TOML) instead of the built-in one.
    pub config_file: Option<PathBuf>,
    /// Values merged into the config, table by table (`{episode = {steps = 100}}`).
    pub overrides: Option<toml::Table>,
    /// Perturbations, `key=value,...` (see [`perturb::PerturbConfig::with_overrides`]).
    pub perturb: Option<String>,
    /// Grasp mode of tasks with objects; default: the config's `physics.grasp`.
    pub grasp: Option<GraspMode>,
}

impl TaskSpec {
    pub fn load(&self) -> Result<TaskConfig> {
        let mut config = match &self.config_file {
            None => TaskConfig::builtin(self.task.as_deref().unwrap_or("needle-reach"))?,
            Some(path) => {
                let config = TaskConfig::load(path)?;
                if let Some(task) = self.task.as_ref().filter(|t| **t != config.task) {
                    return Err(Error::Invalid(format!("task {task} was asked but {} configures task `{}`", path.display(), config.task)));
                }
                config
            }
        };
        if let Some(overrides) = &self.overrides {
            config = config.with_overrides(overrides)?;
        }
        if let Some(spec) = &self.perturb {
            config.perturb = config.perturb.with_overrides(spec)?;
        }
        if let Some(mode) = self.grasp {
            config.physics.grasp = mode;
        }
        Ok(config)
    }
}

impl TaskConfig {
    /// This config with `overrides` merged in, table by table; the result is
    /// validated, and an unknown or ill-typed key is named.
    pub fn with_overrides(&self, overrides: &toml::Table) -> Result<Self> {
        let bad = |message: String| Error::Config { origin: "config overrides".into(), message };
        let mut value = toml::Table::try_from(self).map_err(|e| bad(e.to_string()))?;
        merge_tables(&mut value, overrides, "")?;
        let text = toml::to_string(&value).map_err(|e| bad(e.to_string()))?;
        Self::from_toml_str(&text, "config overrides")
    }
}

/// Merges `from` into `into`; tables merge key by key, other values replace.
fn merge_tables(into: &mut toml::Table, from: &toml::Table, path: &str) -> Result<()> {
    for (key, value) in from {
        let here = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
        match (into.get_mut(key), value) {
            (Some(toml::Value::Table(inner)), toml::Value::Table(value)) => merge_tables(inner, value, &here)?,
            (Some(toml::Value::Table(_)), other) => {
                return Err(Error::Config { origin: "config overrides".into(), message: format!("`{here}` is a table, not {}", other.type_str()) });
            }
            _ => {
                into.insert(key.clone(), value.clone());
            }
        }
    }
    Ok(())
}

/// What a task sees of the instrument and its objects (world frame, SI units).
/// For the ECM, the tip is the camera's and the yaw is the scope's roll.
#[derive(Clone, Debug, PartialEq)]
pub struct ArmState {
    pub tip: Vector3<f64>,
    pub tip_velocity: Vector3<f64>,
    /// Commanded wrist yaw (rad); the ECM's commanded roll joint.
    pub yaw: f64,
    /// The simulated tool's yaw about the vertical (rad, same convention
    /// as the commanded yaw: the angle of the jaw plane); the ECM's roll joint.
    pub tip_yaw: f64,
    /// The tip setpoint that actions move (world frame).
    pub tip_command: Vector3<f64>,
    /// Joint positions: the PSM's six and its jaw angle, or the ECM's four.
    pub joints: Vec<f64>,
    /// Joint velocities (the PSM jaw's is the opening rate, rad/s).
    pub joint_velocities: Vec<f64>,
    /// The ECM's camera frame (world; z along the view, x right and y down
    /// in the image); `None` for the PSM.
    pub camera: Option<Isometry3<f64>>,
    /// The task's loose objects (`Task::objects`), in the same order; each
    /// `hold` says how this instrument's jaws hold it.
    pub objects: Vec<ObjectState>,
    /// The task's other instruments, in action order after this one (empty
    /// for single-instrument tasks); their `others` are empty.
    pub others: Vec<ArmState>,
}

/// A loose object as the task sees it (world frame).
#[derive(Clone, Debug, PartialEq)]
pub struct ObjectState {
    pub pose: Isometry3<f64>,
    pub velocity: Vector3<f64>,
    pub hold: Hold,
}

/// How well the tip has followed a reference path so far.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrackingMetrics {
    pub rms_error_mm: f64,
    pub max_error_mm: f64,
    /// Fraction of the path the reference has covered (1 = whole path).
    pub completion: f64,
    /// Camera tracking: the fraction of the steps so far with the target
    /// inside the tracking band around the image centre.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub centred_fraction: Option<f64>,
}

/// Where the tip starts an episode.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StartPose {
    pub tip: Vector3<f64>,
    pub yaw: f64,
    /// A PSM that starts holding an object: its jaw starts at this opening
    /// (rad), on the object, and the env closes it until the grasp holds
    /// before the episode starts (`Task::settle_steps`). `None`: the jaw
    /// starts half open.
    pub holding: Option<f64>,
}

/// A goal-conditioned observation (all f32, world frame, metres and radians).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    pub observation: Vec<f32>,
    pub achieved_goal: Vec<f32>,
    pub desired_goal: Vec<f32>,
}

impl Observation {
    /// `observation ++ achieved_goal ++ desired_goal`, for algorithms that want one vector.
    pub fn flat(&self) -> Vec<f32> {
        let mut v = Vec::with_capacity(self.flat_len());
        self.write_flat(&mut v);
        v
    }
    pub fn write_flat(&self, out: &mut Vec<f32>) {
        out.extend_from_slice(&self.observation);
        out.extend_from_slice(&self.achieved_goal);
        out.extend_from_slice(&self.desired_goal);
    }
    pub fn flat_len(&self) -> usize {
        self.observation.len() + self.achieved_goal.len() + self.desired_goal.len()
    }
}

/// A gesture.
pub trait Task: Send + Sync {
    fn name(&self) -> &'static str;
    fn config(&self) -> &TaskConfig;
    /// Sets up the scene of a new episode (everything but the arm) and
    /// samples the goal and the start pose from `rng`.
    fn reset(&mut self, world: &mut PhysicsWorld, rng: &mut Rng) -> StartPose;
    fn observation_dim(&self) -> usize;
    fn goal_dim(&self) -> usize;
    fn observe(&self, state: &ArmState) -> Observation;
    /// Reward of reaching `achieved` when `desired` was asked: usable on
    /// relabelled goals (HER).
    fn compute_reward(&self, achieved: &[f32], desired: &[f32]) -> f32;
    fn is_success(&self, achieved: &[f32], desired: &[f32]) -> bool;
    /// Distance from the tip to the goal (m).
    fn tip_error(&self, state: &ArmState) -> f64;
    /// The scripted expert's action.
    fn oracle_action(&self, state: &ArmState) -> Vec<f32>;
    /// Where the other instruments (`robot.others`) start, drawn by `reset`.
    fn other_starts(&self) -> Vec<StartPose> {
        Vec::new()
    }
    /// Control steps the env runs after building the instruments, holding
    /// still, before the episode starts: a PSM that starts `holding` closes
    /// its jaw during them.
    fn settle_steps(&self) -> usize {
        0
    }
    /// Loose bodies the jaws may grasp, made by `reset`; the env reports
    /// their state to the task in `ArmState::objects`.
    fn objects(&self) -> &[RigidBodyHandle] {
        &[]
    }
    /// The assisted grasp's lift condition: whether the weld may hold `object` now.
    fn may_weld(&self, _world: &PhysicsWorld, _object: RigidBodyHandle) -> bool {
        true
    }
    /// Orientation error (rad) for tasks that ask for an orientation.
    fn orientation_error(&self, _state: &ArmState) -> Option<f64> {
        None
    }
    /// Called after the physics of control step `steps_done` (1-based) and
    /// before observing: moving references advance and errors accumulate here.
    fn on_step(&mut self, _steps_done: usize, _state: &ArmState) {}
    /// A cost on changing the action between steps (subtracted from the reward).
    fn action_penalty(&self, _action: &[f32], _previous: &[f32]) -> f32 {
        0.0
    }
    /// Whether the episode counts as a success so far; by default the goal test.
    fn step_success(&self, obs: &Observation) -> bool {
        self.is_success(&obs.achieved_goal, &obs.desired_goal)
    }
    /// Path-tracking metrics, for tasks that follow a path.
    fn tracking(&self) -> Option<TrackingMetrics> {
        None
    }
    /// Whether the episode ends now for a reason of the task's own (a
    /// tracked target that left the view); the env reports it as terminated.
    fn ended(&self, _state: &ArmState) -> bool {
        false
    }
    /// The reference path of this episode (world, metres), one point per
    /// control step, for tasks that follow a path (the viewer draws it).
    fn reference_path(&self) -> Option<Vec<Vector3<f64>>> {
        None
    }
    /// The world point the viewer marks as the goal, if any: by default the
    /// first three numbers of a desired goal that has three or more.
    fn goal_point(&self, desired: &[f32]) -> Option<Vector3<f64>> {
        first_point(desired)
    }
    /// The world point whose path the viewer traces, if the achieved goal
    /// is one (by default as `goal_point`); else the viewer traces the tip.
    fn traced_point(&self, achieved: &[f32]) -> Option<Vector3<f64>> {
        first_point(achieved)
    }
}

/// The first three numbers of a goal as a point, if it has three.
fn first_point(goal: &[f32]) -> Option<Vector3<f64>> {
    (goal.len() >= 3).then(|| Vector3::new(goal[0] as f64, goal[1] as f64, goal[2] as f64))
}

/// Euclidean distance between two goal vectors.
pub fn goal_distance(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f32>().sqrt()
}

/// Whether a point goal is met: within the episode's success tolerance.
pub fn point_goal_reached(episode: &EpisodeConfig, achieved: &[f32], desired: &[f32]) -> bool {
    goal_distance(achieved, desired) <= episode.success_tolerance_m as f32
}

/// The reward of a point goal: sparse (−1 until reached, then 0) or dense (minus the distance).
pub fn point_goal_reward(episode: &EpisodeConfig, achieved: &[f32], desired: &[f32]) -> f32 {
    match episode.reward {
        RewardMode::Sparse => -((goal_distance(achieved, desired) > episode.success_tolerance_m as f32) as i32 as f32),
        RewardMode::Dense => -goal_distance(achieved, desired),
    }
}
