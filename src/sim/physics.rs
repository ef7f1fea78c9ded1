//! Physics settings shared by every task (the `[physics]` table of a task config).

use rapier3d::prelude::SpringCoefficients;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Upper bound of `substeps`, `solver_iterations` and `pgs_iterations`.
pub const MAX_ITERATIONS: usize = 100;

/// How the rapier world is stepped.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PhysicsConfig {
    /// Physics substep in seconds.
    pub dt: f64,
    /// Physics substeps per control step (control period = dt × substeps),
    /// 1 to 100.
    pub substeps: usize,
    /// rapier solver iterations per substep, 1 to 100.
    pub solver_iterations: usize,
    /// Gauss–Seidel sweeps inside each solver iteration (rapier: 1). One
    /// sweep leaves static friction unconverged: a needle held with 60× its
    /// weight in friction still slid out of the jaws while lifted. 1 to 100.
    pub pgs_iterations: usize,
    /// Gravity along world −Y (m/s²).
    pub gravity: f64,
    /// Fraction of each arm link's weight cancelled by the controller's
    /// model-based gravity compensation, as on the real dVRK (1 = exact model).
    pub gravity_compensation: f64,
    /// Whether the arm's colliders touch scene objects (contact tasks need it; it costs time).
    pub arm_contacts: bool,
    /// How a grasp holds an object: by contact and friction alone, or with
    /// SurRoL's contact-gated weld (see `sim::grasp`).
    pub grasp: GraspMode,
    /// rapier's `length_unit`: its prediction distance (0.02 ×), contact
    /// slop (0.005 ×) and contact-recycling bound (0.05 ×) are multiples of
    /// it. 1 (rapier's default) suits metre-sized bodies, and is the
    /// largest allowed; the grasp tasks' millimetre scenes use 0.01 (at 1,
    /// peg-transfer steps about 300× slower, its contacts predicted 2 cm out).
    pub length_unit: f64,
    /// Reuse a contact's points while the pair moved less than the recycling
    /// bound (rapier's default; fast, but stale by up to that bound).
    pub contact_recycling: bool,
    /// Natural frequency of contacts between moving bodies (Hz; rapier: 30).
    /// A contact carrying force F sinks about F / (m (2π f)²) into a body of mass m.
    pub contact_hz: f64,
    /// Natural frequency of contacts with fixed bodies (Hz; rapier: 60).
    pub static_contact_hz: f64,
    /// Damping ratio of contacts (rapier: 10).
    pub contact_damping_ratio: f64,
    /// A blade holds an object when its contact pushes with at least this normal force (N).
    pub grasp_threshold_n: f64,
    /// The assisted weld breaks when it has to pull harder than this (N), as
    /// SurRoL's weld is capped by PyBullet's `maxForce`.
    pub weld_max_force_n: f64,
}

/// How a grasp holds an object.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GraspMode {
    /// Contacts and friction only (as ORBIT-Surgical): nothing is attached.
    #[default]
    Friction,
    /// SurRoL's grasp: a force-limited weld while the jaw is commanded closed
    /// on an object both blades touch.
    Assisted,
}

impl GraspMode {
    pub const NAMES: [&'static str; 2] = ["friction", "assisted"];

    pub fn name(self) -> &'static str {
        match self {
            GraspMode::Friction => "friction",
            GraspMode::Assisted => "assisted",
        }
    }
}

impl std::fmt::Display for GraspMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for GraspMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "friction" => Ok(GraspMode::Friction),
            "assisted" => Ok(GraspMode::Assisted),
            other => Err(Error::Invalid(format!("unknown grasp mode `{other}` (known: friction, assisted)"))),
        }
    }
}

impl Default for PhysicsConfig {
    fn default() -> Self {
        Self {
            dt: 0.0125,
            substeps: 4,
            solver_iterations: 1,
            pgs_iterations: 1,
            gravity: 9.81,
            gravity_compensation: 1.0,
            arm_contacts: false,
            grasp: GraspMode::Friction,
            length_unit: 1.0,
            contact_recycling: true,
            contact_hz: 30.0,
            static_contact_hz: 60.0,
            contact_damping_ratio: 10.0,
            grasp_threshold_n: 0.01,
            weld_max_force_n: 2.0,
        }
    }
}

impl PhysicsConfig {
    /// An empty rapier world stepped with these settings.
    pub fn new_world(&self) -> rapier3d::prelude::PhysicsWorld {
        let mut world = rapier3d::prelude::PhysicsWorld { gravity: rapier3d::math::Vector::new(0.0, -self.gravity as f32, 0.0), ..Default::default() };
        world.integration_parameters.dt = self.dt as f32;
        let p = &mut world.integration_parameters;
        p.num_solver_iterations = self.solver_iterations;
        p.length_unit = self.length_unit as f32;
        p.contact_recycling = self.contact_recycling;
        p.num_internal_pgs_iterations = self.pgs_iterations;
        // Without arm contacts the arm touches nothing, yet rapier would
        // still sweep its fast thin links against the fixed colliders every
        // substep. (Loose objects come only with arm contacts: a task whose
        // arm cannot touch them has nothing fast enough to need CCD.)
        if !self.arm_contacts {
            p.max_ccd_substeps = 0;
        }
        let zeta = self.contact_damping_ratio as f32;
        p.contact_softness = SpringCoefficients::new(self.contact_hz as f32, zeta);
        p.static_contact_softness = SpringCoefficients::new(self.static_contact_hz as f32, zeta);
        world
    }

    /// Seconds of simulated time per control step.
    pub fn control_period(&self) -> f64 {
        self.dt * self.substeps as f64
    }

    pub fn validate(&self, origin: &str) -> Result<()> {
        let bad = |message: String| Err(Error::Config { origin: origin.to_string(), message });
        if !(self.dt.is_finite() && self.dt > 0.0) {
            return bad(format!("physics.dt = {} must be a positive number of seconds", self.dt));
        }
        if self.dt > 0.05 {
            return bad(format!("physics.dt = {} s is too coarse for the joint servos (at most 0.05)", self.dt));
        }
        // Bounded above too: a control step costs their product, and a
        // billion substeps would hang the first step instead of failing.
        for (field, v) in
            [("physics.substeps", self.substeps), ("physics.solver_iterations", self.solver_iterations), ("physics.pgs_iterations", self.pgs_iterations)]
        {
            if !(1..=MAX_ITERATIONS).contains(&v) {
                return bad(format!("{field} = {v} must be between 1 and {MAX_ITERATIONS}"));
            }
        }
        for (field, v) in [
            ("physics.length_unit", self.length_unit),
            ("physics.contact_hz", self.contact_hz),
            ("physics.static_contact_hz", self.static_contact_hz),
            ("physics.contact_damping_ratio", self.contact_damping_ratio),
            ("physics.grasp_threshold_n", self.grasp_threshold_n),
            ("physics.weld_max_force_n", self.weld_max_force_n),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return bad(format!("{field} = {v} must be a positive number"));
            }
        }
        if self.length_unit > 1.0 {
            return bad(format!("physics.length_unit = {} must be at most 1 (metre-sized bodies)", self.length_unit));
        }
        if !self.gravity.is_finite() {
            return bad(format!("physics.gravity = {} must be finite", self.gravity));
        }
        if !(self.gravity_compensation.is_finite() && (0.0..=2.0).contains(&self.gravity_compensation)) {
            return bad(format!("physics.gravity_compensation = {} must be within [0, 2]", self.gravity_compensation));
        }
        Ok(())
    }
}
