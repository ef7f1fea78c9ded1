//! gesture-lab: a simulated dVRK surgical instrument that learns precise
//! gestures by reinforcement learning.

pub mod error;
pub mod rng;
pub mod sim;
pub mod task;
pub mod env;
pub mod rl;
pub mod policy;
pub mod bench;
pub mod plot;
pub mod cli;
#[cfg(feature = "viz")]
pub mod viz;

pub use error::{Error, Result};
