//! Layer 1: the rapier world, the robot and its kinematics.

pub mod convert;
pub mod description;
pub mod grasp;
pub mod kinematics;
pub mod objects;
pub mod physics;
pub mod psm;
pub mod scene;
