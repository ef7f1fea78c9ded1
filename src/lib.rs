//! gesture-lab: a simulated dVRK surgical instrument that learns precise
//! gestures by reinforcement learning.

pub mod error;
pub mod sim;

pub use error::{Error, Result};
