//! `kinematics fk|ik`: the PSM's analytic kinematics from the command line.

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use rapier3d::na::{Isometry3, Quaternion, Translation3, UnitQuaternion};
use serde::Serialize;

use super::*;
use crate::sim::description::RobotDescription;
use crate::sim::kinematics::{ARM_DOF, PsmKinematics, tool_down_rotation};

#[derive(Subcommand, Debug)]
pub enum KinematicsCommand {
    /// Tip pose for joint values q1..q6 (rad, insertion q3 in m).
    Fk {
        #[arg(long, value_delimiter = ',', allow_hyphen_values = true, num_args = 1)]
        joints: Vec<f64>,
        #[arg(long)]
        json: bool,
    },
    /// Joint values for a tip pose: x,y,z (tool pointing down), x,y,z,yaw (rad),
    /// or x,y,z,qx,qy,qz,qw.
    Ik {
        #[arg(long, value_delimiter = ',', allow_hyphen_values = true, num_args = 1)]
        pose: Vec<f64>,
        #[arg(long)]
        json: bool,
    },
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

fn pose_report(joints: &[f64], pose: &Isometry3<f64>) -> PoseReport {
    let t = pose.translation.vector;
    let q = pose.rotation.quaternion();
    let m = pose.rotation.to_rotation_matrix();
    PoseReport {
        frame: "dVRK PSM base frame (origin at the RCM), tip = DH frame 6",
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
    let kin = PsmKinematics::new(&RobotDescription::psm());
    match cmd {
        KinematicsCommand::Fk { joints, json } => {
            if joints.len() != ARM_DOF {
                bail!("--joints needs {ARM_DOF} values q1..q6, got {}", joints.len());
            }
            if let Some((i, v)) = joints.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                bail!("--joints: q{} = {v} is not a finite number", i + 1);
            }
            let q: [f64; ARM_DOF] = std::array::from_fn(|i| joints[i]);
            kin.within_limits(&q).context("--joints")?;
            let report = pose_report(&joints, &kin.forward(&q));
            if json {
                print_json(&report)
            } else {
                print_pose(&report);
                Ok(())
            }
        }
        KinematicsCommand::Ik { pose, json } => {
            if let Some((i, v)) = pose.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                bail!("--pose: value {} = {v} is not a finite number", i + 1);
            }
            let rotation = match pose.len() {
                3 => tool_down_rotation(0.0),
                4 => tool_down_rotation(pose[3]),
                7 => UnitQuaternion::from_quaternion(Quaternion::new(pose[6], pose[3], pose[4], pose[5])),
                n => bail!("--pose needs x,y,z or x,y,z,yaw or x,y,z,qx,qy,qz,qw; got {n} values"),
            };
            let target = Isometry3::from_parts(Translation3::new(pose[0], pose[1], pose[2]), rotation);
            let q = kin.inverse(&target, &[0.0, 0.0, 0.12, 0.0, 0.0, 0.0]).with_context(|| format!("no joint solution for pose {pose:?}"))?;
            let report = pose_report(&q, &kin.forward(&q));
            if json {
                print_json(&report)
            } else {
                print_pose(&report);
                Ok(())
            }
        }
    }
}
