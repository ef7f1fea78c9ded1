//! `bench suite`'s outputs: `report.md` and the learning-curve PNGs.

use std::path::Path;

use anyhow::{Context, Result};

use super::EnvDriver;
use super::suite::{SeedRun, Spread, SuiteReport, TrainingResult};
use crate::rl::sac::Evaluation;

/// The mean over seeds with a min–max band, per evaluation point. Seeds
/// share the evaluation schedule; should one curve be shorter, the points
/// all seeds have are drawn.
fn bands(runs: &[SeedRun], metric: &dyn Fn(&Evaluation) -> f64) -> crate::plot::Band {
    let len = runs.iter().map(|r| r.curve.len()).min().unwrap_or(0);
    let points = (0..len)
        .map(|i| {
            let values: Vec<f64> = runs.iter().map(|r| metric(&r.curve[i])).collect();
            let s = Spread::of(&values).expect("at least one seed");
            // Behaviour cloning takes no env steps: its curve runs over updates.
            let e = &runs[0].curve[i];
            (e.updates.unwrap_or(e.env_steps) as f64, s.mean, s.min, s.max)
        })
        .collect();
    crate::plot::Band { points }
}

pub(super) fn plot_runs(path: &Path, result: &TrainingResult) -> Result<()> {
    let success = bands(&result.runs, &|e| 100.0 * e.success_rate);
    // Path tasks are judged on tracking; the others on the final tip error.
    let (error, error_label) = if result.final_tracking_rms_mm.is_some() {
        (bands(&result.runs, &|e| e.mean_tracking_rms_mm.unwrap_or(f64::NAN)), "tracking RMS error (mm)")
    } else {
        (bands(&result.runs, &|e| e.mean_final_error_mm), "final tip error (mm)")
    };
    let title = format!(
        "{} on {}: mean of {} seeds, band min-max ({} eval episodes)",
        result.label(),
        result.task,
        result.runs.len(),
        result.runs[0].final_evaluation.episodes
    );
    let tmp = path.with_extension("tmp.png");
    let x_label = if result.algo == crate::rl::Algo::Bc { "gradient updates" } else { "env steps" };
    crate::plot::learning_curve_band(&tmp, &title, x_label, &success, &error, error_label).map_err(anyhow::Error::msg)?;
    std::fs::rename(&tmp, path).with_context(|| format!("{}", path.display()))
}

/// `report.md`: the three tables.
pub fn markdown(report: &SuiteReport) -> String {
    let b = &report.budgets;
    let m = &report.machine;
    let mut s = format!(
        "# gesture-lab bench suite{}\n\ngesture-lab {}, {} cores ({}), {}/{}; {} threads; {} seeds; {:.0} s in all.\n\n",
        if report.quick { " (--quick)" } else { "" },
        report.crate_version,
        m.cores,
        m.cpu.as_deref().unwrap_or("unknown CPU"),
        m.os,
        m.arch,
        report.threads,
        b.seeds,
        report.wall_s
    );
    s += &format!("## Env throughput ({:.1} s per figure)\n\n", b.throughput_seconds);
    s += "| task | driven by | env steps/s, 1 thread | env steps/s, all threads | speed-up | physics µs/substep | real-time factor, 1 thread |\n|---|---|---|---|---|---|---|\n";
    for t in &report.tasks {
        let r = &t.throughput;
        let driver = match (r.driver, &r.grasp) {
            (EnvDriver::Oracle, Some(g)) => format!("oracle, {g} grasp"),
            (EnvDriver::Oracle, None) => "oracle".to_string(),
            (EnvDriver::Random, _) => "random actions".to_string(),
        };
        s += &format!(
            "| {} | {driver} | {:.0} | {:.0} ({} threads, {} envs) | {:.2}× | {:.2} | {:.0} |\n",
            t.task, r.env_steps_per_s_1_thread, r.env_steps_per_s_threads, r.threads, r.envs, r.speedup, r.physics_us_per_substep, r.real_time_factor_1_thread
        );
    }
    s += &format!("\n## Scripted oracles ({} episodes, seed 0)\n\n", b.oracle_episodes);
    s += "| task | success | mean final tip error (mm) | also |\n|---|---|---|---|\n";
    for t in &report.tasks {
        let o = &t.oracle;
        let mut also = Vec::new();
        if let Some(d) = o.mean_final_orientation_error_deg {
            also.push(format!("{} {d:.2}°", crate::task::orientation_label(&t.task)));
        }
        if let (Some(rms), Some(max)) = (o.mean_tracking_rms_mm, o.mean_tracking_max_mm) {
            also.push(format!("tracking RMS {rms:.2} mm, max {max:.2} mm"));
        }
        if let Some(g) = &o.grasp {
            also.push(format!("{g} grasp, median {:.1} steps to success", o.median_steps_to_success));
        }
        if let (Some(steps), Some(peak)) = (o.mean_collision_steps, o.peak_collision_force_n) {
            also.push(format!("instrument collisions {steps:.2} steps/episode, peak {peak:.3} N"));
        }
        s += &format!("| {} | {:.1} % | {:.4} | {} |\n", t.task, o.success_rate * 100.0, o.mean_final_tip_error_mm, also.join("; "));
    }
    s += &format!(
        "\n## Training (mean [min–max] over seeds; the bar is {:.0} % evaluation success on {} fixed episodes; steps and seconds to it are over the seeds that reached it)\n\n",
        b.success_bar * 100.0,
        b.eval_episodes
    );
    s += "| task | algo | budget (env steps) | seeds at bar | env steps to bar | wall s to bar | final success (%) | final tip error (mm) | tracking RMS (mm) | wall s | env steps/s | curve |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n";
    for t in report.tasks.iter().flat_map(|t| &t.training) {
        let dash = || "–".to_string();
        let pct = Spread {
            mean: t.final_success_rate.mean * 100.0,
            min: t.final_success_rate.min * 100.0,
            max: t.final_success_rate.max * 100.0,
            ..t.final_success_rate.clone()
        };
        s += &format!(
            "| {} | {} | {} | {}/{} | {} | {} | {} | {} | {} | {} | {} | [{}]({}) |\n",
            t.task,
            t.label(),
            t.env_steps_budget,
            t.reached_bar,
            t.runs.len(),
            t.env_steps_to_bar.as_ref().map_or_else(dash, |v| v.show(0)),
            t.wall_s_to_bar.as_ref().map_or_else(dash, |v| v.show(1)),
            pct.show(0),
            t.final_tip_error_mm.show(2),
            t.final_tracking_rms_mm.as_ref().map_or_else(dash, |v| v.show(2)),
            t.wall_s.show(1),
            t.env_steps_per_s.show(0),
            t.curve_png,
            t.curve_png
        );
    }
    s
}
