//! Running mean / standard deviation of observations. It is part of the
//! policy: its statistics are saved with the weights and used at replay.

use serde::{Deserialize, Serialize};

/// Per-component running statistics (Chan et al.'s parallel update, in f64
/// so that millions of samples do not lose precision).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunningNormalizer {
    pub count: f64,
    pub mean: Vec<f64>,
    /// Sum of squared deviations from the mean.
    pub m2: Vec<f64>,
    /// Normalised values are clipped to ±clip.
    pub clip: f32,
    /// Floor of the standard deviation (a constant component stays finite).
    pub min_std: f64,
}

impl RunningNormalizer {
    pub fn new(dim: usize, clip: f32) -> Self {
        Self { count: 0.0, mean: vec![0.0; dim], m2: vec![0.0; dim], clip, min_std: 1e-4 }
    }

    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// Refuses statistics read from a file that could not normalise: the
    /// lengths differ, a value is not finite, or the clip or the floor of
    /// the standard deviation is not positive (a NaN or negative clip makes
    /// `clamp` panic; a zero floor divides by zero).
    pub fn check(&self) -> Result<(), String> {
        if self.m2.len() != self.mean.len() {
            return Err(format!("normalizer: {} means but {} variances", self.mean.len(), self.m2.len()));
        }
        if !(self.count.is_finite() && self.count >= 0.0) {
            return Err(format!("normalizer.count = {} must be a finite count", self.count));
        }
        if self.mean.iter().chain(&self.m2).any(|v| !v.is_finite()) || self.m2.iter().any(|&v| v < 0.0) {
            return Err("normalizer: means and variances must be finite, variances >= 0".into());
        }
        if !(self.clip.is_finite() && self.clip > 0.0) {
            return Err(format!("normalizer.clip = {} must be > 0", self.clip));
        }
        if !(self.min_std.is_finite() && self.min_std > 0.0) {
            return Err(format!("normalizer.min_std = {} must be > 0", self.min_std));
        }
        Ok(())
    }

    /// Adds a batch of rows (`rows.len()` a multiple of `dim`).
    pub fn update(&mut self, rows: &[f32]) {
        let dim = self.dim();
        assert_eq!(rows.len() % dim, 0, "batch of {} numbers is not rows of {dim}", rows.len());
        let n = (rows.len() / dim) as f64;
        if n == 0.0 {
            return;
        }
        for k in 0..dim {
            let column = rows.iter().skip(k).step_by(dim).map(|&v| v as f64);
            let batch_mean = column.clone().sum::<f64>() / n;
            let batch_m2: f64 = column.map(|v| (v - batch_mean) * (v - batch_mean)).sum();
            let delta = batch_mean - self.mean[k];
            let total = self.count + n;
            self.mean[k] += delta * n / total;
            self.m2[k] += batch_m2 + delta * delta * self.count * n / total;
        }
        self.count += n;
    }

    pub fn std(&self) -> Vec<f64> {
        self.m2.iter().map(|&m2| if self.count > 0.0 { (m2 / self.count).sqrt().max(self.min_std) } else { 1.0 }).collect()
    }

    /// Normalises `rows` in place: (x − mean) / std, clipped.
    pub fn normalize(&self, rows: &mut [f32]) {
        let dim = self.dim();
        let std = self.std();
        for row in rows.chunks_mut(dim) {
            for k in 0..dim {
                let v = (row[k] as f64 - self.mean[k]) / std[k];
                row[k] = (v as f32).clamp(-self.clip, self.clip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batched_updates_match_the_plain_mean_and_std() {
        let data: Vec<f32> = (0..300).map(|i| ((i * 7919) % 101) as f32 * 0.1 - 3.0).collect();
        let mut norm = RunningNormalizer::new(3, 5.0);
        for chunk in data.chunks(3 * 17) {
            norm.update(chunk);
        }
        for k in 0..3 {
            let col: Vec<f64> = data.iter().skip(k).step_by(3).map(|&v| v as f64).collect();
            let mean = col.iter().sum::<f64>() / col.len() as f64;
            let var = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / col.len() as f64;
            assert!((norm.mean[k] - mean).abs() < 1e-9);
            assert!((norm.std()[k] - var.sqrt()).abs() < 1e-9);
        }
        let mut row = vec![norm.mean[0] as f32, 1e6, -1e6];
        norm.normalize(&mut row);
        assert!(row[0].abs() < 1e-6);
        assert_eq!(row[1], 5.0);
        assert_eq!(row[2], -5.0);
    }

    #[test]
    fn a_constant_component_stays_finite() {
        let mut norm = RunningNormalizer::new(1, 5.0);
        norm.update(&[2.0; 10]);
        let mut x = [2.5f32];
        norm.normalize(&mut x);
        assert!(x[0].is_finite());
    }
}
