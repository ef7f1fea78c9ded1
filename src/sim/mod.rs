//! Layer 1: the rapier world, the robot and its kinematics.

pub mod description;
pub mod kinematics;
