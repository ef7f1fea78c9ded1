//! Analytic kinematics of the dVRK PSM, independent of physics.
//!
//! All poses here are in the robot **base frame** (DH frame 0, dVRK
//! convention): its origin is the remote centre of motion (RCM) and, at the
//! zero configuration, the instrument shaft points along −z. The tool tip is
//! DH frame 6: its origin lies on the wrist yaw axis, its z axis is that yaw
//! axis and its y axis points along the jaws.

use rapier3d::na::{Isometry3, Matrix6, Rotation3, SMatrix, Translation3, UnitQuaternion, Vector3, Vector6};

use super::description::{DhJoint, JointKind, RobotDescription};

/// Number of arm joints (the jaw excluded).
pub const ARM_DOF: usize = 6;

/// Joint positions of the arm: radians, except joint 3 (insertion) in metres.
pub type ArmJoints = [f64; ARM_DOF];

/// Modified-DH transform: Rx(alpha) · Tx(a) · Rz(theta) · Tz(d).
pub fn dh_transform(alpha: f64, a: f64, theta: f64, d: f64) -> Isometry3<f64> {
    Isometry3::from_parts(Translation3::identity(), UnitQuaternion::from_axis_angle(&Vector3::x_axis(), alpha))
        * Isometry3::translation(a, 0.0, 0.0)
        * Isometry3::from_parts(Translation3::new(0.0, 0.0, d), UnitQuaternion::from_axis_angle(&Vector3::z_axis(), theta))
}

/// Why inverse kinematics found no joint solution.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum IkError {
    #[error("pose is not finite")]
    NotFinite,
    #[error("pose needs joint `{joint}` at {value:.4}, outside its limits [{lower:.4}, {upper:.4}]")]
    OutsideLimits { joint: String, value: f64, lower: f64, upper: f64 },
    #[error("no solution within {residual_m:.2e} m / {residual_rad:.2e} rad of the pose")]
    NoSolution { residual_m: f64, residual_rad: f64 },
}

/// Forward kinematics of a serial arm of `N` modified-DH joints, with its
/// joint limits; each arm adds its own closed-form inverse (`PsmKinematics`
/// here, `EcmKinematics` in `sim::ecm`).
#[derive(Clone, Debug)]
pub struct DhChain<const N: usize> {
    kinds: [JointKind; N],
    alpha: [f64; N],
    a: [f64; N],
    d: [f64; N],
    offset: [f64; N],
    names: Vec<String>,
    /// Joint limits in SI units.
    pub limits: [[f64; 2]; N],
}

/// Forward and inverse kinematics of the PSM arm.
pub type PsmKinematics = DhChain<ARM_DOF>;

impl<const N: usize> DhChain<N> {
    /// The chain of `joints`, which must number `N` (descriptions check it).
    pub fn from_joints(joints: &[DhJoint]) -> Self {
        assert_eq!(joints.len(), N, "a {N}-joint chain");
        let j = joints;
        let pick = |f: &dyn Fn(usize) -> f64| std::array::from_fn(f);
        Self {
            kinds: std::array::from_fn(|i| j[i].kind),
            alpha: pick(&|i| j[i].alpha()),
            a: pick(&|i| j[i].a),
            d: pick(&|i| j[i].d),
            offset: pick(&|i| j[i].offset()),
            names: j.iter().map(|j| j.name.clone()).collect(),
            limits: std::array::from_fn(|i| j[i].limits_si()),
        }
    }

    pub fn joint_name(&self, i: usize) -> &str {
        &self.names[i]
    }

    /// Transform of DH frame `i + 1` in frame `i` for joint value `q`.
    pub fn joint_transform(&self, i: usize, q: f64) -> Isometry3<f64> {
        match self.kinds[i] {
            JointKind::Revolute => dh_transform(self.alpha[i], self.a[i], q + self.offset[i], self.d[i]),
            JointKind::Prismatic => dh_transform(self.alpha[i], self.a[i], self.offset[i], self.d[i] + q),
        }
    }

    /// The constant part of joint `i`'s transform (its value at q = 0).
    pub fn joint_zero_transform(&self, i: usize) -> Isometry3<f64> {
        self.joint_transform(i, 0.0)
    }

    pub fn kind(&self, i: usize) -> JointKind {
        self.kinds[i]
    }

    /// The constant offset `d` of joint `i` (m).
    pub fn d(&self, i: usize) -> f64 {
        self.d[i]
    }

    /// Poses of DH frames 1..=N in the base frame.
    pub fn frames(&self, q: &[f64; N]) -> [Isometry3<f64>; N] {
        let mut t = Isometry3::identity();
        std::array::from_fn(|i| {
            t *= self.joint_transform(i, q[i]);
            t
        })
    }

    /// Tip pose (DH frame N) in the base frame.
    pub fn forward(&self, q: &[f64; N]) -> Isometry3<f64> {
        self.frames(q)[N - 1]
    }

    /// Whether every joint lies within its limits (with a small tolerance).
    pub fn within_limits(&self, q: &[f64; N]) -> Result<(), IkError> {
        for i in 0..N {
            let [lo, hi] = self.limits[i];
            if !(q[i] >= lo - 1e-9 && q[i] <= hi + 1e-9) {
                return Err(IkError::OutsideLimits { joint: self.names[i].clone(), value: q[i], lower: lo, upper: hi });
            }
        }
        Ok(())
    }

    /// The angle `q + 2πk` within joint `i`'s limits closest to `near`.
    pub fn nearest_turn(&self, i: usize, q: f64, near: f64) -> f64 {
        let tau = std::f64::consts::TAU;
        let [lo, hi] = self.limits[i];
        let mut best = q;
        let mut best_cost = f64::INFINITY;
        for k in -2..=2 {
            let c = q + k as f64 * tau;
            let outside = (lo - c).max(c - hi).max(0.0);
            let cost = outside * 1e3 + (c - near).abs();
            if cost < best_cost {
                best = c;
                best_cost = cost;
            }
        }
        best
    }

    /// Position (m) and orientation (rad) error of `q` against `target`.
    pub fn pose_error(&self, target: &Isometry3<f64>, q: &[f64; N]) -> (f64, f64) {
        tip_error(target, &self.forward(q))
    }

    /// Finite joints within limits that reach `target` to rounding error.
    pub fn check(&self, target: &Isometry3<f64>, q: &[f64; N]) -> Result<(), IkError> {
        self.check_with_tip(target, q, None)
    }

    /// [`Self::check`], given the tip pose of `q` when it is already known.
    fn check_with_tip(&self, target: &Isometry3<f64>, q: &[f64; N], tip: Option<Isometry3<f64>>) -> Result<(), IkError> {
        if !q.iter().all(|v| v.is_finite()) {
            return Err(IkError::NotFinite);
        }
        self.within_limits(q)?;
        let (dp, dr) = tip_error(target, &tip.unwrap_or_else(|| self.forward(q)));
        if dp > 1e-7 || dr > 1e-6 {
            return Err(IkError::NoSolution { residual_m: dp, residual_rad: dr });
        }
        Ok(())
    }

    /// Damped least-squares refinement (numerical Jacobian): removes the last
    /// rounding error of a closed form and covers its degenerate poses.
    /// Returns the joints, and their tip pose when it computed it (always,
    /// unless it ran out of iterations): IK's check need not compute it again.
    pub fn polish(&self, target: &Isometry3<f64>, mut q: [f64; N]) -> ([f64; N], Option<Isometry3<f64>>) {
        for _ in 0..4 {
            let tip = self.forward(&q);
            let err = twist_error(target, &tip);
            if err.fixed_rows::<3>(0).norm() < 1e-10 && err.fixed_rows::<3>(3).norm() < 1e-10 {
                return (q, Some(tip));
            }
            let jac = self.jacobian(&q);
            let lambda2 = 1e-10;
            let jjt = jac * jac.transpose() + Matrix6::identity() * lambda2;
            let Some(inv) = jjt.try_inverse() else { return (q, Some(tip)) };
            let dq = jac.transpose() * inv * err;
            for i in 0..N {
                q[i] += dq[i];
            }
        }
        (q, None)
    }

    /// Geometric Jacobian of the tip (linear; angular) in the base frame.
    pub fn jacobian(&self, q: &[f64; N]) -> SMatrix<f64, 6, N> {
        let frames = self.frames(q);
        let tip = frames[N - 1].translation.vector;
        let mut jac = SMatrix::<f64, 6, N>::zeros();
        let mut prev = Isometry3::identity();
        for i in 0..N {
            // Joint i moves about/along the z axis of frame i+1, which is the
            // frame `prev · Rx(alpha) Tx(a)` rotated about its own z.
            let base = prev * dh_transform(self.alpha[i], self.a[i], 0.0, 0.0);
            let z = base.rotation * Vector3::z();
            let o = base.translation.vector;
            let col: Vector6<f64> = match self.kinds[i] {
                JointKind::Revolute => {
                    let lin = z.cross(&(tip - o));
                    Vector6::new(lin.x, lin.y, lin.z, z.x, z.y, z.z)
                }
                JointKind::Prismatic => Vector6::new(z.x, z.y, z.z, 0.0, 0.0, 0.0),
            };
            jac.set_column(i, &col);
            prev = frames[i];
        }
        jac
    }

    /// Outer yaw, outer pitch and insertion that put the point `p` (base
    /// frame) on the shaft, `length_past_insertion` metres past the insertion
    /// joint's frame along it. For RCM arms whose first three joints are the
    /// dVRK's yaw, pitch and insertion (the PSM and the ECM alike).
    pub fn rcm_shaft_joints(&self, p: &Vector3<f64>, length_past_insertion: f64) -> [f64; 3] {
        let reach = p.norm();
        let u = p / reach.max(1e-12);
        // The shaft direction in the base frame is (sin q1 cos q2, −sin q2, −cos q1 cos q2).
        let q2 = (-u.y).atan2((u.x * u.x + u.z * u.z).sqrt());
        let q1 = u.x.atan2(-u.z);
        // Distance from the RCM to the point is q3 + d3 + the length past frame 3.
        let q3 = reach - self.d[2] - length_past_insertion;
        [q1, q2, q3]
    }
}

impl PsmKinematics {
    pub fn new(desc: &RobotDescription) -> Self {
        Self::from_joints(&desc.joints)
    }

    /// Inverse kinematics of a full tip pose (base frame).
    ///
    /// Closed form for the PSM: the RCM, the wrist pitch point and the tip all
    /// lie in the plane normal to the wrist pitch axis, which fixes the wrist
    /// link direction; the shaft then gives joints 1–3 and the wrist frames
    /// joints 4–6. Of the two wrist branches, the one within limits closest
    /// to `seed` wins; a few damped least-squares steps polish the result.
    pub fn inverse(&self, target: &Isometry3<f64>, seed: &ArmJoints) -> Result<ArmJoints, IkError> {
        let p = target.translation.vector;
        if !p.iter().all(|v| v.is_finite()) || !target.rotation.coords.iter().all(|v| v.is_finite()) {
            return Err(IkError::NotFinite);
        }
        let r = target.rotation.to_rotation_matrix();
        let x6 = r.matrix().column(0).into_owned();
        let z6 = r.matrix().column(2).into_owned();

        // Normal of the plane holding the RCM, the wrist and the tip.
        let mut normal = p.cross(&z6);
        if normal.norm() < 1e-9 {
            // The yaw axis points at the RCM: any plane through it works; keep the seed's.
            let z5_seed = self.frames(seed)[4].rotation * Vector3::z();
            normal = z5_seed - z6 * z6.dot(&z5_seed);
        }
        let normal = normal.normalize();

        let mut best: Option<(f64, ArmJoints)> = None;
        let mut last_err = IkError::NoSolution { residual_m: f64::INFINITY, residual_rad: f64::INFINITY };
        for sign in [1.0, -1.0] {
            let x5 = sign * z6.cross(&normal);
            let q = self.solve_branch(&p, &x5, &z6, &x6, seed);
            let (q, tip) = self.polish(target, q);
            match self.check_with_tip(target, &q, tip) {
                Ok(()) => {
                    let cost: f64 = (0..ARM_DOF).map(|i| (q[i] - seed[i]).powi(2)).sum();
                    if best.as_ref().is_none_or(|(c, _)| cost < *c) {
                        best = Some((cost, q));
                    }
                }
                Err(e) => last_err = e,
            }
        }
        best.map(|(_, q)| q).ok_or(last_err)
    }

    /// Joints for one wrist branch, given the wrist link direction `x5`.
    fn solve_branch(&self, p: &Vector3<f64>, x5: &Vector3<f64>, z6: &Vector3<f64>, x6: &Vector3<f64>, seed: &ArmJoints) -> ArmJoints {
        // The wrist pitch point lies on the shaft, d4 past the insertion frame.
        let wrist = p - self.a[5] * x5;
        let [q1, q2, q3] = self.rcm_shaft_joints(&wrist, self.d[3]);
        let mut q = [q1, q2, q3, 0.0, 0.0, 0.0];
        let r03 = self.frames(&q)[2].rotation;

        // Wrist pitch axis z5 = x5 × z6 equals y4 = (−sin q4, cos q4, 0) in frame 3.
        let z5 = x5.cross(z6);
        let v = r03.inverse() * z5;
        let q4 = (-v.x).atan2(v.y);
        q[3] = self.nearest_turn(3, q4, seed[3]);

        // x5 in frame 4 is (sin q5, 0, cos q5).
        let r04 = r03 * self.joint_transform(3, q[3]).rotation;
        let w = r04.inverse() * x5;
        q[4] = w.x.atan2(w.z);

        // x6 in frame 5 is (sin q6, 0, cos q6).
        let r05 = r04 * self.joint_transform(4, q[4]).rotation;
        let s = r05.inverse() * x6;
        q[5] = s.x.atan2(s.z);
        q
    }
}

/// The tool orientation used by the tasks: the jaws (y6) point straight down
/// the base −z axis, turned by `yaw` about that axis. At yaw 0 the jaw axis
/// (z6) is the base −y axis, as at the PSM's zero configuration.
pub fn tool_down_rotation(yaw: f64) -> UnitQuaternion<f64> {
    let (s, c) = yaw.sin_cos();
    let x6 = Vector3::new(-c, -s, 0.0);
    let y6 = Vector3::new(0.0, 0.0, -1.0);
    let z6 = x6.cross(&y6);
    UnitQuaternion::from_rotation_matrix(&Rotation3::from_basis_unchecked(&[x6, y6, z6]))
}

/// Position (m) and orientation (rad) error of a tip pose against `target`.
fn tip_error(target: &Isometry3<f64>, tip: &Isometry3<f64>) -> (f64, f64) {
    let dp = (target.translation.vector - tip.translation.vector).norm();
    let dr = (target.rotation * tip.rotation.inverse()).angle();
    (dp, dr)
}

/// A tip pose's error against `target` as a twist: position error and
/// rotation vector, base frame.
fn twist_error(target: &Isometry3<f64>, tip: &Isometry3<f64>) -> Vector6<f64> {
    let dp = target.translation.vector - tip.translation.vector;
    let dr = (target.rotation * tip.rotation.inverse()).scaled_axis();
    Vector6::new(dp.x, dp.y, dp.z, dr.x, dr.y, dr.z)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kin() -> PsmKinematics {
        PsmKinematics::new(&RobotDescription::psm())
    }

    #[test]
    fn zero_configuration_points_the_shaft_down() {
        let k = kin();
        let frames = k.frames(&[0.0, 0.0, 0.1, 0.0, 0.0, 0.0]);
        let shaft = frames[2].rotation * Vector3::z();
        assert!((shaft - Vector3::new(0.0, 0.0, -1.0)).norm() < 1e-12);
        // Tip beyond the RCM by q3 + d3 + d4 along the shaft, plus the wrist link a6.
        let tip = frames[5].translation.vector;
        let expected = -(0.1 - 0.4318 + 0.4162 + 0.0091);
        assert!((tip.z - expected).abs() < 1e-12, "tip {tip:?}");
        assert!(tip.x.abs() < 1e-12 && tip.y.abs() < 1e-12);
        // At the zero configuration the tool is the "tool down" orientation at yaw 0.
        let down = tool_down_rotation(0.0);
        assert!((frames[5].rotation * down.inverse()).angle() < 1e-9);
    }

    #[test]
    fn rcm_stays_on_the_shaft_axis() {
        let k = kin();
        for &q1 in &[-1.2, 0.0, 0.7] {
            for &q2 in &[-0.8, 0.3] {
                for &q3 in &[0.0, 0.12, 0.24] {
                    let q = [q1, q2, q3, 1.0, 0.5, -0.4];
                    let f = k.frames(&q);
                    // Frames 1 and 2 sit at the RCM; frames 3 and 4 on the shaft line through it.
                    assert!(f[0].translation.vector.norm() < 1e-12);
                    assert!(f[1].translation.vector.norm() < 1e-12);
                    for frame in &f[2..4] {
                        let z = frame.rotation * Vector3::z();
                        let off_axis = frame.translation.vector.cross(&z).norm();
                        assert!(off_axis < 1e-12, "RCM {off_axis} m off the shaft axis");
                    }
                    // The wrist pitch point (frame 5) is on the shaft too.
                    let z3 = f[2].rotation * Vector3::z();
                    assert!(f[4].translation.vector.cross(&z3).norm() < 1e-12);
                }
            }
        }
    }

    #[test]
    fn inverse_recovers_forward_over_a_joint_grid() {
        let k = kin();
        let steps = |lo: f64, hi: f64, n: usize| -> Vec<f64> { (0..n).map(|i| lo + (hi - lo) * i as f64 / (n - 1) as f64).collect() };
        let shrink = |i: usize| {
            let [lo, hi] = k.limits[i];
            let m = 0.02 * (hi - lo);
            (lo + m, hi - m)
        };
        let mut worst_mm: f64 = 0.0;
        let mut count = 0;
        let seed = [0.0, 0.0, 0.12, 0.0, 0.0, 0.0];
        for &q1 in &steps(shrink(0).0, shrink(0).1, 5) {
            for &q2 in &steps(shrink(1).0, shrink(1).1, 5) {
                // Working insertion range: the wrist well past the RCM.
                for &q3 in &steps(0.06, 0.235, 4) {
                    for &q4 in &steps(-2.5, 2.5, 3) {
                        for &q5 in &steps(shrink(4).0, shrink(4).1, 5) {
                            for &q6 in &steps(shrink(5).0, shrink(5).1, 5) {
                                let q = [q1, q2, q3, q4, q5, q6];
                                let target = k.forward(&q);
                                let sol = k.inverse(&target, &seed).unwrap_or_else(|e| panic!("IK failed for {q:?}: {e}"));
                                let (dp, dr) = k.pose_error(&target, &sol);
                                worst_mm = worst_mm.max(dp * 1e3);
                                assert!(dp < 1e-5, "q {q:?}: position error {dp} m");
                                assert!(dr < 1e-6, "q {q:?}: orientation error {dr} rad");
                                count += 1;
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(count, 5 * 5 * 4 * 3 * 5 * 5);
        assert!(worst_mm < 0.01);
    }

    #[test]
    fn inverse_rejects_unreachable_and_nan_poses() {
        let k = kin();
        let far = Isometry3::from_parts(Translation3::new(0.0, 0.0, -1.0), tool_down_rotation(0.0));
        assert!(matches!(k.inverse(&far, &[0.0; 6]), Err(IkError::OutsideLimits { .. }) | Err(IkError::NoSolution { .. })));
        let nan = Isometry3::from_parts(Translation3::new(f64::NAN, 0.0, -0.1), tool_down_rotation(0.0));
        assert_eq!(k.inverse(&nan, &[0.0; 6]), Err(IkError::NotFinite));
    }

    #[test]
    fn jacobian_matches_finite_differences() {
        let k = kin();
        let q = [0.3, -0.2, 0.15, 0.4, 0.3, -0.5];
        let jac = k.jacobian(&q);
        let h = 1e-6;
        for i in 0..ARM_DOF {
            let mut qp = q;
            qp[i] += h;
            let dp = (k.forward(&qp).translation.vector - k.forward(&q).translation.vector) / h;
            for r in 0..3 {
                assert!((dp[r] - jac[(r, i)]).abs() < 1e-5, "joint {i} row {r}");
            }
        }
    }
}
