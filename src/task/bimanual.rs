//! What the two-PSM tasks (needle-regrasp, bi-peg-transfer) share: their
//! instruments check, each PSM's part of the observation, and whether a
//! PSM holds an object.

use rand::RngExt;

use super::pick_place::{Grip, yaw_to_grip};
use super::pose_reach::wrap_half_turn;
use super::{ArmState, InstrumentKind, RewardMode, TaskConfig, goal_distance};
use crate::error::{Error, Result};
use crate::rng::Rng;
use crate::sim::grasp::Hold;

/// Numbers of one PSM's part of a bimanual observation.
pub const PSM_STATE_DIM: usize = 18;

/// Refuses a config whose instruments are not two PSMs.
pub fn check_two_psms(config: &TaskConfig) -> Result<()> {
    let kinds: Vec<InstrumentKind> = config.robot.instruments().iter().map(|(k, _)| *k).collect();
    if kinds != [InstrumentKind::Psm, InstrumentKind::Psm] {
        return Err(Error::Config {
            origin: "task config".into(),
            message: format!("task `{}` needs two PSMs: [robot] and one [[robot.others]] with instrument = \"psm\"; found {kinds:?}", config.task),
        });
    }
    Ok(())
}

/// Whether the jaws hold the object: both blades squeeze it, or the assisted weld holds it.
pub fn holds(hold: &Hold) -> bool {
    hold.grasped || hold.welded
}

/// Uniform within ±`spread` of `centre` (`centre` itself when `spread` is 0).
pub fn uniform(rng: &mut Rng, centre: f64, spread: f64) -> f64 {
    if spread > 0.0 { rng.random_range(centre - spread..centre + spread) } else { centre }
}

/// One PSM's part of the observation (18 numbers): tip position (3), tip
/// velocity (3), commanded yaw (1), the six arm joints and the jaw angle
/// (7), commanded tip minus tip (3), jaw angular velocity (1).
pub fn push_psm(o: &mut Vec<f32>, s: &ArmState) {
    o.extend(s.tip.iter().map(|&v| v as f32));
    o.extend(s.tip_velocity.iter().map(|&v| v as f32));
    o.push(s.yaw as f32);
    o.extend(s.joints.iter().map(|&v| v as f32));
    o.extend((s.tip_command - s.tip).iter().map(|&v| v as f32));
    o.push(s.joint_velocities[6] as f32);
}

/// Whether a PSM's jaw has closed on an object and stopped: its opening
/// below `width_deg` (the opening at which the blades touch the object)
/// plus 8° for the blades' give, above half of it (narrower: it closed
/// past the object, on nothing), and still.
pub fn jaw_settled(psm: &ArmState, width_deg: f64) -> bool {
    let jaw = psm.joints[6].to_degrees();
    jaw < width_deg + 8.0 && jaw > width_deg / 2.0 && psm.joint_velocities[6].abs() < 1.0
}

/// One PSM's wrist turn to a grip (3 numbers): sin 2Δ and cos 2Δ, Δ the
/// turn that puts its jaw plane across the grip (continuous under the
/// jaws' half-turn symmetry), then the turn within the yaw limits (rad).
pub fn push_turn(o: &mut Vec<f32>, psm: &ArmState, grip: &Grip, yaw_limit: f64) {
    let turn = 2.0 * wrap_half_turn(grip.heading + std::f64::consts::FRAC_PI_2 - psm.yaw);
    o.push(turn.sin() as f32);
    o.push(turn.cos() as f32);
    o.push(yaw_to_grip(psm.yaw, grip.heading, yaw_limit) as f32);
}

/// The jaws' grasp point of a PSM whose tip (hinge) is at `tip`: `depth` down the blades, which point down.
pub fn jaw_grasp_point(tip: &rapier3d::na::Vector3<f64>, depth: f64) -> rapier3d::na::Vector3<f64> {
    tip - rapier3d::na::Vector3::new(0.0, depth, 0.0)
}

/// The reward of a goal of a point and a hold flag (`achieved[3]` must
/// match `desired[3]`): sparse, −1 until `reached`, then 0; dense, minus
/// the distance, and a flag still wrong costs as much as 1 cm.
pub fn flagged_point_reward(reward: RewardMode, reached: bool, achieved: &[f32], desired: &[f32]) -> f32 {
    match reward {
        RewardMode::Sparse => -((!reached) as i32 as f32),
        RewardMode::Dense => -goal_distance(&achieved[..3], &desired[..3]) - 0.01 * (achieved[3] - desired[3]).abs(),
    }
}
