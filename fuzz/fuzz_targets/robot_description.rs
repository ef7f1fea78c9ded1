//! A robot description (TOML, as `assets/robots/psm.toml`): parsed, then its
//! kinematics solved and its multibody built and stepped.
#![no_main]
#[path = "common.rs"]
mod common;

use gesture_lab::sim::description::RobotDescription;
use gesture_lab::sim::kinematics::PsmKinematics;
use gesture_lab::sim::psm::Psm;
use gesture_lab::task::TaskConfig;
use rapier3d::na::Isometry3;

libfuzzer_sys::fuzz_target!(init: common::let_caught_panics_unwind(), |data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(desc) = RobotDescription::from_toml_str(text, "fuzz.toml") else { return };
    let kinematics = PsmKinematics::new(&desc);
    let home = [0.0, 0.0, 0.12, 0.0, 0.0, 0.0];
    let pose = kinematics.forward(&home);
    let _ = kinematics.inverse(&pose, &home);
    let physics = TaskConfig::builtin("needle-reach").expect("built-in config").physics;
    let mut world = physics.new_world();
    let mut q0 = [0.0; gesture_lab::sim::psm::DOF];
    q0[..6].copy_from_slice(&home);
    let psm = Psm::build(&mut world, &desc, &physics, Isometry3::identity(), &q0);
    for _ in 0..3 {
        world.step();
    }
    let _ = psm.is_finite(&world);
});
