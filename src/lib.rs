//! gesture-lab: a simulated dVRK surgical instrument that learns precise
//! gestures by reinforcement learning.

pub mod bench;
pub mod cli;
pub mod env;
pub mod error;
pub mod files;
pub mod plot;
pub mod policy;
pub mod rl;
pub mod rng;
pub mod sim;
pub mod task;
#[cfg(feature = "viz")]
pub mod viz;

pub use error::{Error, Result};
#[cfg(feature = "python")]
pub mod python;
