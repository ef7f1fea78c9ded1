//! `plot`: the learning curves of several bundles in one PNG, to compare
//! runs (seeds averaged under one label), as `rl_zoo3`'s plot scripts do.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::plot::{Series, learning_curve};
use crate::policy::{CURVE_CSV_HEADER, CURVE_FILE};

#[derive(Args, Debug)]
pub struct PlotArgs {
    /// Curves to draw, each LABEL=DIR[,DIR...]: the bundles under one label
    /// (seeds of one recipe) are averaged, evaluation by evaluation.
    #[arg(required = true, value_name = "LABEL=DIR[,DIR...]")]
    pub curves: Vec<String>,
    /// The PNG to write.
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value = "learning curves")]
    pub title: String,
}

/// One evaluation of a bundle's `curve.csv`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct CurvePoint {
    env_steps: f64,
    success_percent: f64,
    error_mm: f64,
}

pub(super) fn plot(args: &PlotArgs) -> Result<()> {
    if args.out.extension().and_then(|e| e.to_str()) != Some("png") {
        bail!("--out {}: the plot is a PNG; name the file *.png", args.out.display());
    }
    let dir = args.out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !dir.is_dir() {
        bail!("--out {}: the directory {} does not exist", args.out.display(), dir.display());
    }
    let mut averaged = Vec::new();
    for spec in &args.curves {
        let Some((label, dirs)) = spec.split_once('=').filter(|(l, d)| !l.is_empty() && !d.is_empty()) else {
            bail!("{spec}: expected LABEL=DIR[,DIR...]");
        };
        let curves = dirs.split(',').map(|d| read_curve(Path::new(d))).collect::<Result<Vec<_>>>()?;
        averaged.push((label, mean_curve(&curves).with_context(|| format!("{label}: {dirs}"))?));
    }
    let series = |value: fn(&CurvePoint) -> f64| -> Vec<Series> {
        averaged.iter().map(|(name, points)| Series { name, points: points.iter().map(|p| (p.env_steps, value(p))).collect() }).collect()
    };
    // Drawn beside the target, then renamed over it: a reader never sees half a PNG.
    let name = args.out.file_name().and_then(|n| n.to_str()).unwrap_or("plot.png");
    let partial = dir.join(format!(".{name}.partial.png"));
    learning_curve(&partial, &args.title, &series(|p| p.success_percent), &series(|p| p.error_mm)).map_err(anyhow::Error::msg)?;
    std::fs::rename(&partial, &args.out).with_context(|| format!("{}: could not write it", args.out.display()))?;
    println!("wrote {} ({} curves)", args.out.display(), averaged.len());
    Ok(())
}

/// A bundle's evaluations against env steps, from its `curve.csv`.
fn read_curve(dir: &Path) -> Result<Vec<CurvePoint>> {
    let path = dir.join(CURVE_FILE);
    let text = std::fs::read_to_string(&path).with_context(|| format!("{}: cannot read the learning curve", path.display()))?;
    let mut lines = text.lines();
    let header = lines.next().unwrap_or("");
    if !header.starts_with(CURVE_CSV_HEADER) {
        bail!("{}: not a gesture-lab learning curve (header {header:?})", path.display());
    }
    let mut points = Vec::new();
    for (i, line) in lines.enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split(',').collect();
        let number = |k: usize, what: &str| -> Result<f64> {
            let field = fields.get(k).copied().unwrap_or("");
            field.trim().parse::<f64>().map_err(|_| anyhow::anyhow!("{} line {}: {what} {field:?} is not a number", path.display(), i + 2))
        };
        points.push(CurvePoint {
            env_steps: number(0, "env_steps")?,
            success_percent: 100.0 * number(2, "success_rate")?,
            error_mm: number(3, "mean_final_error_mm")?,
        });
    }
    if points.is_empty() {
        bail!("{}: no evaluations", path.display());
    }
    if points.len() > 1 && points.iter().all(|p| p.env_steps == 0.0) {
        bail!("{}: every evaluation is at 0 env steps (behaviour cloning counts gradient updates, not env steps)", path.display());
    }
    Ok(points)
}

/// The mean of curves whose evaluations fall at the same env steps.
fn mean_curve(curves: &[Vec<CurvePoint>]) -> Result<Vec<CurvePoint>> {
    let first = &curves[0];
    if let Some(k) = curves.iter().position(|c| c.len() != first.len() || c.iter().zip(first).any(|(a, b)| a.env_steps != b.env_steps)) {
        bail!("curve {} has its evaluations at other env steps than the first: average only runs of one schedule", k + 1);
    }
    let n = curves.len() as f64;
    Ok((0..first.len())
        .map(|i| CurvePoint {
            env_steps: first[i].env_steps,
            success_percent: curves.iter().map(|c| c[i].success_percent).sum::<f64>() / n,
            error_mm: curves.iter().map(|c| c[i].error_mm).sum::<f64>() / n,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(env_steps: f64, success_percent: f64, error_mm: f64) -> CurvePoint {
        CurvePoint { env_steps, success_percent, error_mm }
    }

    #[test]
    fn seeds_are_averaged_evaluation_by_evaluation() {
        let a = vec![point(0.0, 20.0, 9.0), point(5000.0, 80.0, 3.0)];
        let b = vec![point(0.0, 40.0, 7.0), point(5000.0, 100.0, 1.0)];
        assert_eq!(mean_curve(&[a.clone(), b]).unwrap(), vec![point(0.0, 30.0, 8.0), point(5000.0, 90.0, 2.0)]);
        assert!(mean_curve(&[a.clone(), vec![point(0.0, 0.0, 0.0), point(4000.0, 0.0, 0.0)]]).is_err());
        assert!(mean_curve(&[a.clone(), a[..1].to_vec()]).is_err());
    }
}
