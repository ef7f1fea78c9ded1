//! The egui panel: task, episode, step, tip error, success, the tip-error
//! curve of the episode, and the controls (pause, step, reset with a seed).

use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};
use egui_plot::{HLine, Line, Plot, PlotPoints};

use super::sim::Sim;

pub struct UiPlugin;

impl Plugin for UiPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<SeedField>().add_systems(EguiPrimaryContextPass, panel);
    }
}

/// The seed typed into the panel, applied by "reset".
#[derive(Resource, Default)]
struct SeedField(Option<u64>);

fn panel(mut contexts: EguiContexts, mut sim: ResMut<Sim>, mut seed: ResMut<SeedField>) -> Result {
    let ctx = contexts.ctx_mut()?;
    let seed_value = *seed.0.get_or_insert(sim.seed);
    egui::Window::new("gesture-lab")
        .default_pos([10.0, 10.0])
        .default_width(330.0)
        .resizable(false)
        .show(ctx, |ui| {
            egui::Grid::new("counters").num_columns(2).striped(true).show(ui, |ui| {
                ui.label("task");
                ui.strong(&sim.task);
                ui.end_row();
                ui.label("driver");
                ui.label(&sim.driver_name);
                ui.end_row();
                ui.label("episode");
                ui.label(format!("{} (seed {})", sim.episode, sim.seed));
                ui.end_row();
                ui.label("step");
                ui.label(format!("{} / {}", sim.step, sim.episode_steps));
                ui.end_row();
                let err = sim.errors_mm.last().copied().unwrap_or(f64::NAN);
                let tol_mm = sim.tolerance_m as f64 * 1e3;
                ui.label("tip error");
                let colour = if err <= tol_mm { egui::Color32::from_rgb(60, 220, 90) } else { egui::Color32::from_rgb(240, 120, 60) };
                ui.colored_label(colour, format!("{err:.2} mm (tolerance {tol_mm:.1} mm)"));
                ui.end_row();
                let success = sim.last.as_ref().is_some_and(|s| s.success);
                ui.label("success");
                ui.colored_label(
                    if success { egui::Color32::from_rgb(60, 220, 90) } else { egui::Color32::GRAY },
                    if success { "yes" } else { "no" },
                );
                ui.end_row();
                ui.label("episodes");
                ui.label(format!("{} ended, {} succeeded", sim.episodes_done, sim.successes));
                ui.end_row();
            });
            if let Some(e) = &sim.error {
                ui.colored_label(egui::Color32::RED, e);
            }

            let points: PlotPoints = sim.errors_mm.iter().enumerate().map(|(i, &e)| [i as f64, e]).collect();
            let tol_mm = sim.tolerance_m as f64 * 1e3;
            Plot::new("tip_error")
                .height(140.0)
                .include_x(0.0)
                .include_x(sim.episode_steps as f64)
                .include_y(0.0)
                .allow_drag(false)
                .allow_zoom(false)
                .allow_scroll(false)
                .x_axis_label("step")
                .y_axis_label("tip error (mm)")
                .show(ui, |plot| {
                    plot.hline(HLine::new("tolerance", tol_mm).color(egui::Color32::from_rgb(60, 200, 90)));
                    plot.line(Line::new("tip error", points).color(egui::Color32::from_rgb(240, 140, 60)).width(2.0));
                });

            ui.horizontal(|ui| {
                let label = if sim.paused { "▶ resume" } else { "⏸ pause" };
                if ui.button(label).clicked() {
                    sim.paused = !sim.paused;
                }
                if ui.button("step").clicked() {
                    sim.paused = true;
                    sim.step_once = true;
                }
                if ui.button("next episode").clicked() {
                    let next = sim.episode + 1;
                    if let Err(e) = sim.reset_episode(next) {
                        sim.error = Some(format!("{e:#}"));
                    }
                }
            });
            ui.horizontal(|ui| {
                let mut s = seed_value;
                ui.label("seed");
                ui.add(egui::DragValue::new(&mut s));
                seed.0 = Some(s);
                if ui.button("reset").clicked() {
                    sim.seed = s;
                    sim.error = None;
                    if let Err(e) = sim.reset_episode(0) {
                        sim.error = Some(format!("{e:#}"));
                    }
                }
            });
            ui.label(egui::RichText::new("left drag: orbit · right drag: pan · wheel: zoom").small().weak());
        });
    Ok(())
}
