//! Layer 1: the rapier world, the robot and its kinematics.

pub mod camera;
pub mod chain;
pub mod convert;
pub mod description;
pub mod ecm;
pub mod grasp;
pub mod kinematics;
pub mod objects;
pub mod physics;
pub mod psm;
pub mod scene;
