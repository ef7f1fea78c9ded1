//! `kinematics fk|ik`: the PSM's and the ECM's analytic kinematics from the command line.

use anyhow::{Context, Result, bail};
use clap::{Subcommand, ValueEnum};
use rapier3d::na::{Isometry3, Quaternion, Translation3, UnitQuaternion, Vector3};
use serde::Serialize;

use super::*;
use crate::sim::description::{EcmDescription, RobotDescription};
use crate::sim::ecm::{ECM_DOF, EcmKinematics};
use crate::sim::kinematics::{ARM_DOF, DhChain, IkError, PsmKinematics, tool_down_rotation};

/// Which arm of the dVRK patient side.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Arm {
    /// Patient Side Manipulator: q1..q6, tip = DH frame 6.
    #[default]
    Psm,
    /// Endoscopic Camera Manipulator: q1..q4, tip = DH frame 4 (the camera looks along its z).
    Ecm,
}

#[derive(Subcommand, Debug)]
pub enum KinematicsCommand {
    /// Tip pose for joint values (rad, insertion q3 in m): q1..q6 (PSM) or q1..q4 (ECM).
    Fk {
        #[arg(long, value_enum, default_value_t)]
        arm: Arm,
        #[arg(long, value_delimiter = ',', allow_hyphen_values = true, num_args = 1)]
        joints: Vec<f64>,
        #[arg(long)]
        json: bool,
    },
    /// Joint values for a tip pose: x,y,z, x,y,z,A or x,y,z,qx,qy,qz,qw. PSM:
    /// the tool points down, turned by the yaw A (rad). ECM: the view runs
    /// from the RCM through the tip, rolled by A (rad).
    Ik {
        #[arg(long, value_enum, default_value_t)]
        arm: Arm,
        #[arg(long, value_delimiter = ',', allow_hyphen_values = true, num_args = 1)]
        pose: Vec<f64>,
        #[arg(long)]
        json: bool,
    },
}

/// What `fk` and `ik` need of an arm.
struct ArmKinematics<const N: usize> {
    frame: &'static str,
    chain: DhChain<N>,
    /// The tip orientation for `x,y,z[,A]` poses.
    orientation: fn(&DhChain<N>, &Vector3<f64>, f64) -> UnitQuaternion<f64>,
    inverse: fn(&DhChain<N>, &Isometry3<f64>) -> Result<[f64; N], IkError>,
}

impl<const N: usize> ArmKinematics<N> {
    fn run(&self, cmd: KinematicsCommand) -> Result<()> {
        let (report, json) = match cmd {
            KinematicsCommand::Fk { joints, json, .. } => {
                if joints.len() != N {
                    bail!("--joints needs {N} values q1..q{N}, got {}", joints.len());
                }
                if let Some((i, v)) = joints.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                    bail!("--joints: q{} = {v} is not a finite number", i + 1);
                }
                let q: [f64; N] = std::array::from_fn(|i| joints[i]);
                self.chain.within_limits(&q).context("--joints")?;
                (pose_report(self.frame, &joints, &self.chain.forward(&q)), json)
            }
            KinematicsCommand::Ik { pose, json, .. } => {
                if let Some((i, v)) = pose.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                    bail!("--pose: value {} = {v} is not a finite number", i + 1);
                }
                let position = Vector3::new(pose.first().copied().unwrap_or(0.0), pose.get(1).copied().unwrap_or(0.0), pose.get(2).copied().unwrap_or(0.0));
                let rotation = match pose.len() {
                    3 => (self.orientation)(&self.chain, &position, 0.0),
                    4 => (self.orientation)(&self.chain, &position, pose[3]),
                    7 => UnitQuaternion::from_quaternion(Quaternion::new(pose[6], pose[3], pose[4], pose[5])),
                    n => bail!("--pose needs x,y,z or x,y,z,angle or x,y,z,qx,qy,qz,qw; got {n} values"),
                };
                let target = Isometry3::from_parts(Translation3::from(position), rotation);
                let q = (self.inverse)(&self.chain, &target).with_context(|| format!("no joint solution for pose {pose:?}"))?;
                (pose_report(self.frame, &q, &self.chain.forward(&q)), json)
            }
        };
        if json {
            print_json(&report)
        } else {
            print_pose(&report);
            Ok(())
        }
    }
}

#[derive(Serialize, Debug)]
struct PoseReport {
    frame: &'static str,
    joints: Vec<f64>,
    position_m: [f64; 3],
    /// Quaternion x, y, z, w.
    quaternion_xyzw: [f64; 4],
    rotation_matrix: [[f64; 3]; 3],
}

fn pose_report(frame: &'static str, joints: &[f64], pose: &Isometry3<f64>) -> PoseReport {
    let t = pose.translation.vector;
    let q = pose.rotation.quaternion();
    let m = pose.rotation.to_rotation_matrix();
    PoseReport {
        frame,
        joints: joints.to_vec(),
        position_m: [t.x, t.y, t.z],
        quaternion_xyzw: [q.i, q.j, q.k, q.w],
        rotation_matrix: std::array::from_fn(|r| std::array::from_fn(|c| m[(r, c)])),
    }
}

fn print_pose(report: &PoseReport) {
    println!("frame     {}", report.frame);
    println!("joints    {}", report.joints.iter().map(|v| format!("{v:.6}")).collect::<Vec<_>>().join(", "));
    let p = report.position_m;
    println!("position  {:.6} {:.6} {:.6} m", p[0], p[1], p[2]);
    let q = report.quaternion_xyzw;
    println!("quat xyzw {:.6} {:.6} {:.6} {:.6}", q[0], q[1], q[2], q[3]);
    for (i, row) in report.rotation_matrix.iter().enumerate() {
        println!("{}{:>10.6} {:>10.6} {:>10.6}", if i == 0 { "rotation " } else { "         " }, row[0], row[1], row[2]);
    }
}

pub(super) fn kinematics(cmd: KinematicsCommand) -> Result<()> {
    let arm = match &cmd {
        KinematicsCommand::Fk { arm, .. } | KinematicsCommand::Ik { arm, .. } => *arm,
    };
    match arm {
        Arm::Psm => ArmKinematics::<ARM_DOF> {
            frame: "dVRK PSM base frame (origin at the RCM), tip = DH frame 6",
            chain: PsmKinematics::new(&RobotDescription::psm()),
            orientation: |_, _, yaw| tool_down_rotation(yaw),
            inverse: |k, target| k.inverse(target, &[0.0, 0.0, 0.12, 0.0, 0.0, 0.0]),
        }
        .run(cmd),
        Arm::Ecm => ArmKinematics::<ECM_DOF> {
            frame: "dVRK ECM base frame (origin at the RCM), tip = DH frame 4 (the camera looks along its z)",
            chain: EcmKinematics::new(&EcmDescription::ecm()),
            orientation: |k, tip, roll| k.forward(&k.joints_for_tip(tip, roll)).rotation,
            inverse: |k, target| k.inverse(target, &[0.0; ECM_DOF]),
        }
        .run(cmd),
    }
}
