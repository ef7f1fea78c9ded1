//! Learning-curve plots (PNG) with plotters. Text uses the DejaVu Sans Mono
//! font shipped in `assets/fonts`, so no system fonts are needed.

use std::path::Path;

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

const FONT: &[u8] = include_bytes!("../assets/fonts/DejaVuSansMono.ttf");

fn ensure_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if register_font("sans-serif", FontStyle::Normal, FONT).is_err() {
            eprintln!("warning: the plot font could not be loaded; plots will have no text");
        }
    });
}

/// One line of a plot: a name and (x, y) points.
pub struct Series<'a> {
    pub name: &'a str,
    pub points: Vec<(f64, f64)>,
}

/// Success rate (%) and final tip error (mm) against env steps, one panel each.
pub fn learning_curve(path: &Path, title: &str, success: &[Series], error_mm: &[Series]) -> Result<(), String> {
    ensure_font();
    let err = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let root = BitMapBackend::new(path, (1000, 720)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let root = root.titled(title, ("sans-serif", 22)).map_err(|e| err(&e))?;
    let panels = root.split_evenly((2, 1));
    let max_x = success.iter().chain(error_mm).flat_map(|s| s.points.iter().map(|p| p.0)).fold(1.0f64, f64::max);
    let max_err = error_mm.iter().flat_map(|s| s.points.iter().map(|p| p.1)).filter(|v| v.is_finite()).fold(1.0f64, f64::max);
    let palette = [BLUE, RED, GREEN, MAGENTA, CYAN, BLACK];
    for (panel, (series, y_label, y_max)) in panels.iter().zip([(success, "success rate (%)", 100.0), (error_mm, "final tip error (mm)", max_err * 1.05)]) {
        let mut chart = axes(panel, max_x, "env steps", y_max, y_label).map_err(|e| err(&e))?;
        for (i, s) in series.iter().enumerate() {
            let color = palette[i % palette.len()];
            let points: Vec<(f64, f64)> = s.points.iter().copied().filter(|p| p.1.is_finite()).collect();
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
                .map_err(|e| err(&e))?
                .label(s.name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
            chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled()))).map_err(|e| err(&e))?;
        }
        if series.len() > 1 || series.iter().any(|s| !s.name.is_empty()) {
            legend(&mut chart).map_err(|e| err(&e))?;
        }
    }
    root.present().map_err(|e| err(&e))
}

/// One panel: `series` as lines against `x_label`, the y axis from 0 to
/// a little above the largest value.
pub fn line_plot(path: &Path, title: &str, x_label: &str, y_label: &str, series: &[Series]) -> Result<(), String> {
    ensure_font();
    let err = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let root = BitMapBackend::new(path, (1000, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let root = root.titled(title, ("sans-serif", 22)).map_err(|e| err(&e))?;
    let points = || series.iter().flat_map(|s| s.points.iter().copied()).filter(|p| p.0.is_finite() && p.1.is_finite());
    let max_x = points().map(|p| p.0).fold(1.0f64, f64::max);
    let max_y = points().map(|p| p.1).fold(1.0f64, f64::max) * 1.1;
    let mut chart = axes(&root, max_x, x_label, max_y, y_label).map_err(|e| err(&e))?;
    let palette = [BLUE, RED, GREEN, MAGENTA, CYAN, BLACK];
    for (i, s) in series.iter().enumerate() {
        let color = palette[i % palette.len()];
        chart
            .draw_series(LineSeries::new(s.points.iter().copied().filter(|p| p.1.is_finite()), color.stroke_width(2)))
            .map_err(|e| err(&e))?
            .label(s.name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    if !series.is_empty() {
        legend(&mut chart).map_err(|e| err(&e))?;
    }
    root.present().map_err(|e| err(&e))
}

type Chart<'a, 'b> = ChartContext<'a, BitMapBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// A panel's axes: `x_label` across, `y_label` up, light grid.
fn axes<'a, 'b>(panel: &'a DrawingArea<BitMapBackend<'b>, Shift>, max_x: f64, x_label: &str, y_max: f64, y_label: &str) -> Result<Chart<'a, 'b>, String> {
    let mut chart = ChartBuilder::on(panel)
        .margin(12)
        .margin_right(40)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..max_x, 0.0..y_max)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| if y_max > 10.0 { format!("{v:.0}") } else { format!("{v:.1}") })
        .max_light_lines(1)
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(|e| e.to_string())?;
    Ok(chart)
}

/// The series' legend, in a light box.
fn legend<'a, 'b: 'a>(chart: &mut Chart<'a, 'b>) -> Result<(), String> {
    chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).label_font(("sans-serif", 14)).draw().map_err(|e| e.to_string())
}

/// A mean curve with a band around it: (x, mean, low, high) per point.
pub struct Band {
    pub points: Vec<(f64, f64, f64, f64)>,
}

/// Success rate (%) and an error in mm against `x_label` (env steps, or
/// updates for behaviour cloning), one panel each: the mean over seeds as a
/// line, the spread across seeds as a shaded band.
pub fn learning_curve_band(path: &Path, title: &str, x_label: &str, success: &Band, error_mm: &Band, error_label: &str) -> Result<(), String> {
    ensure_font();
    let err = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let root = BitMapBackend::new(path, (1000, 720)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let root = root.titled(title, ("sans-serif", 20)).map_err(|e| err(&e))?;
    let panels = root.split_evenly((2, 1));
    let max_x = success.points.iter().chain(&error_mm.points).map(|p| p.0).fold(1.0f64, f64::max);
    let max_err = error_mm.points.iter().map(|p| p.3).filter(|v| v.is_finite()).fold(1.0f64, f64::max);
    for (panel, (band, y_label, y_max)) in panels.iter().zip([(success, "success rate (%)", 100.0), (error_mm, error_label, max_err * 1.05)]) {
        let mut chart = axes(panel, max_x, x_label, y_max, y_label).map_err(|e| err(&e))?;
        let points: Vec<(f64, f64, f64, f64)> = band.points.iter().copied().filter(|p| p.1.is_finite() && p.2.is_finite() && p.3.is_finite()).collect();
        // The band: the upper edge left to right, then the lower edge back.
        let outline: Vec<(f64, f64)> = points.iter().map(|p| (p.0, p.3.min(y_max))).chain(points.iter().rev().map(|p| (p.0, p.2.min(y_max)))).collect();
        if outline.len() >= 2 {
            chart
                .draw_series(std::iter::once(Polygon::new(outline, BLUE.mix(0.2).filled())))
                .map_err(|e| err(&e))?
                .label("min-max over seeds")
                .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 20, y + 5)], BLUE.mix(0.2).filled()));
        }
        chart
            .draw_series(LineSeries::new(points.iter().map(|p| (p.0, p.1.min(y_max))), BLUE.stroke_width(2)))
            .map_err(|e| err(&e))?
            .label("mean over seeds")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE.stroke_width(2)));
        chart.draw_series(points.iter().map(|p| Circle::new((p.0, p.1.min(y_max)), 3, BLUE.filled()))).map_err(|e| err(&e))?;
        legend(&mut chart).map_err(|e| err(&e))?;
    }
    root.present().map_err(|e| err(&e))
}
