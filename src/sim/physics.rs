//! Physics settings shared by every task (the `[physics]` table of a task config).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How the rapier world is stepped.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PhysicsConfig {
    /// Physics substep in seconds.
    pub dt: f64,
    /// Physics substeps per control step (control period = dt × substeps).
    pub substeps: usize,
    /// rapier solver iterations per substep.
    pub solver_iterations: usize,
    /// Gravity along world −Y (m/s²).
    pub gravity: f64,
    /// Fraction of each arm link's weight cancelled by the controller's
    /// model-based gravity compensation, as on the real dVRK (1 = exact model).
    pub gravity_compensation: f64,
    /// Whether the arm's colliders touch scene objects (contact tasks need it; it costs time).
    pub arm_contacts: bool,
}

impl Default for PhysicsConfig {
    fn default() -> Self {
        Self {
            dt: 0.0125,
            substeps: 4,
            solver_iterations: 1,
            gravity: 9.81,
            gravity_compensation: 1.0,
            arm_contacts: false,
        }
    }
}

impl PhysicsConfig {
    /// An empty rapier world stepped with these settings.
    pub fn new_world(&self) -> rapier3d::prelude::PhysicsWorld {
        let mut world = rapier3d::prelude::PhysicsWorld {
            gravity: rapier3d::math::Vector::new(0.0, -self.gravity as f32, 0.0),
            ..Default::default()
        };
        world.integration_parameters.dt = self.dt as f32;
        world.integration_parameters.num_solver_iterations = self.solver_iterations;
        world
    }

    /// Seconds of simulated time per control step.
    pub fn control_period(&self) -> f64 {
        self.dt * self.substeps as f64
    }

    pub fn validate(&self, origin: &str) -> Result<()> {
        let bad = |message: String| {
            Err(Error::Config {
                origin: origin.to_string(),
                message,
            })
        };
        if !(self.dt.is_finite() && self.dt > 0.0) {
            return bad(format!("physics.dt = {} must be a positive number of seconds", self.dt));
        }
        if self.dt > 0.05 {
            return bad(format!("physics.dt = {} s is too coarse for the joint servos (at most 0.05)", self.dt));
        }
        if self.substeps == 0 {
            return bad("physics.substeps = 0 must be at least 1".into());
        }
        if self.solver_iterations == 0 {
            return bad("physics.solver_iterations = 0 must be at least 1".into());
        }
        if !self.gravity.is_finite() {
            return bad(format!("physics.gravity = {} must be finite", self.gravity));
        }
        if !(self.gravity_compensation.is_finite() && (0.0..=2.0).contains(&self.gravity_compensation)) {
            return bad(format!(
                "physics.gravity_compensation = {} must be within [0, 2]",
                self.gravity_compensation
            ));
        }
        Ok(())
    }
}
