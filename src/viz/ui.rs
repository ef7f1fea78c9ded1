//! The egui side panel: task, mode, episode, counters and tip error; the
//! training curves (success rate and mean tip error against env steps) in
//! live training; the episode's tip-error curve; and the controls (pause,
//! step, speed, reset with a seed, task and policy, viewpoints).

use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};
use egui_plot::{HLine, Legend, Line, Plot, PlotPoints};

use super::camera::{Orbit, Viewpoint};
use super::sim::Sim;
use super::train::Training;
use super::{Mode, ViewerOptions};

pub struct UiPlugin;

impl Plugin for UiPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<Fields>().add_systems(EguiPrimaryContextPass, panel);
    }
}

/// Control steps per second offered by the speed menu (20 = real time);
/// `f64::INFINITY` steps as fast as the frame's time budget allows.
pub const SPEEDS: [(f64, &str); 8] =
    [(5.0, "×0.25"), (10.0, "×0.5"), (20.0, "×1 (real time)"), (40.0, "×2"), (80.0, "×4"), (160.0, "×8"), (320.0, "×16"), (f64::INFINITY, "unlimited")];

/// Width of the side panel (logical pixels); the 3-D view is centred beside it.
pub const PANEL_WIDTH: f32 = 340.0;

/// Text fields of the panel, kept between frames.
#[derive(Resource, Default)]
struct Fields {
    seed: Option<u64>,
    policy_path: String,
}

const GREEN: egui::Color32 = egui::Color32::from_rgb(60, 220, 90);
const ORANGE: egui::Color32 = egui::Color32::from_rgb(240, 140, 60);
const BLUE: egui::Color32 = egui::Color32::from_rgb(90, 160, 250);

fn panel(
    mut contexts: EguiContexts,
    mut sim: ResMut<Sim>,
    mut fields: ResMut<Fields>,
    training: Option<Res<Training>>,
    options: Res<ViewerSettings>,
    mut cameras: Query<(&mut Orbit, &mut super::camera::RideEndoscope)>,
) -> Result {
    let ctx = contexts.ctx_mut()?;
    let seed_value = *fields.seed.get_or_insert(sim.seed);
    let mut switch_to: Option<ViewerOptions> = None;
    // egui 0.36 shows panels inside a Ui: one spanning the window, in the background layer.
    let mut window_ui = egui::Ui::new(ctx.clone(), "window".into(), egui::UiBuilder::new().layer_id(egui::LayerId::background()).max_rect(ctx.viewport_rect()));
    egui::Panel::left("gesture-lab").resizable(false).exact_size(PANEL_WIDTH).show(&mut window_ui, |ui| {
      // Scrolls when the window is too short for everything.
      egui::ScrollArea::vertical().show(ui, |ui| {
        ui.heading("gesture-lab");
        counters(ui, &sim);
        if let Some(e) = &sim.error {
            ui.colored_label(egui::Color32::RED, e);
        }
        if let Some(t) = &training {
            ui.separator();
            training_section(ui, t, &sim);
        }
        if let Some(r) = &sim.recording {
            ui.separator();
            ui.label(egui::RichText::new(format!("recording: {}", r.status)).small());
        }
        ui.separator();
        episode_plot(ui, &sim);
        ui.separator();
        controls(ui, &mut sim, seed_value, &mut fields);
        if training.is_none() && !sim.is_teleop() {
            ui.separator();
            switch_to = task_and_policy(ui, &sim, &options.0, &mut fields);
        }
        ui.separator();
        ui.horizontal(|ui| {
            ui.label("view");
            for v in Viewpoint::ALL {
                if ui.button(v.name()).clicked() {
                    for (mut o, mut ride) in &mut cameras {
                        *o = v.orbit();
                        *ride = super::camera::RideEndoscope(v == Viewpoint::Endoscope);
                    }
                }
            }
        });
        let help = if sim.is_teleop() {
            "W/S A/D: move · R/F: up/down · Q/E: yaw · Space: jaw · Shift: fine\nCtrl + left drag: move the tip on screen\nleft drag: orbit · right drag: pan · wheel: zoom"
        } else {
            "left drag: orbit · right drag: pan · wheel: zoom"
        };
        if sim.is_teleop() && sim.instrument_count() > 1 {
            ui.label(egui::RichText::new(format!("keys drive instrument {} of {} · Tab: the next", sim.teleop_arm + 1, sim.instrument_count())).small());
        }
        ui.label(egui::RichText::new(help).small().weak());
      });
    });
    if let Some(new_options) = switch_to {
        match Sim::new(&new_options) {
            Ok(mut next) => {
                next.generation = sim.generation + 1;
                *sim = next;
            }
            Err(e) => sim.error = Some(format!("{e:#}")),
        }
    }
    Ok(())
}

/// The viewer's options, kept so the panel can restart with another task or policy.
#[derive(Resource)]
pub struct ViewerSettings(pub ViewerOptions);

fn counters(ui: &mut egui::Ui, sim: &Sim) {
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
        // Tasks with objects measure the object's distance to the goal, not the tip's.
        ui.label(if sim.last.as_ref().is_some_and(|l| l.grasp.is_some()) { "object error" } else { "tip error" });
        ui.colored_label(if err <= tol_mm { GREEN } else { ORANGE }, format!("{err:.2} mm (tolerance {tol_mm:.1} mm)"));
        ui.end_row();
        if let Some(deg) = sim.last.as_ref().and_then(|l| l.orientation_error_deg) {
            ui.label(crate::task::orientation_label(&sim.task));
            ui.label(format!("{deg:.1}°"));
            ui.end_row();
        }
        if let Some(t) = sim.last.as_ref().and_then(|l| l.tracking.as_ref()) {
            ui.label("path tracking");
            ui.label(format!("RMS {:.2} mm, max {:.2} mm", t.rms_error_mm, t.max_error_mm));
            ui.end_row();
        }
        if let Some(g) = sim.last.as_ref().and_then(|l| l.grasp.as_ref()) {
            ui.label(format!("grasp ({})", g.mode));
            let state = if g.welded {
                "held (welded)"
            } else if g.grasped {
                "held"
            } else {
                "free"
            };
            ui.colored_label(if g.grasped || g.welded { GREEN } else { egui::Color32::GRAY }, format!("{state}, grip {:.0} mN", g.grip_force_n * 1e3));
            ui.end_row();
            if sim.instrument_count() > 1 {
                // The info's grasp is the first instrument's; here, every one's.
                let arms = sim.env().arm_state();
                let holders: Vec<String> = std::iter::once(&arms)
                    .chain(&arms.others)
                    .enumerate()
                    .filter(|(_, a)| a.objects.first().is_some_and(|o| o.hold.grasped || o.hold.welded))
                    .map(|(k, _)| format!("instrument {}", k + 1))
                    .collect();
                ui.label("held by");
                ui.label(if holders.is_empty() { "none".to_string() } else { holders.join(", ") });
                ui.end_row();
            }
        }
        if let Some(c) = sim.last.as_ref().map(|l| l.instrument_collisions).filter(|c| c.pairs > 0) {
            ui.label("instrument contact");
            ui.colored_label(ORANGE, format!("{} link(s), peak {:.2} N", c.pairs, c.peak_force_n));
            ui.end_row();
        }
        let success = sim.last.as_ref().is_some_and(|s| s.success);
        ui.label("success");
        ui.colored_label(if success { GREEN } else { egui::Color32::GRAY }, if success { "yes" } else { "no" });
        ui.end_row();
        ui.label("episodes");
        ui.label(format!("{} ended, {} succeeded", sim.episodes_done, sim.successes));
        ui.end_row();
        ui.label("last return");
        ui.label(sim.last_return.map_or("–".into(), |r| format!("{r:.2}")));
        ui.end_row();
    });
}

fn training_section(ui: &mut egui::Ui, t: &Training, sim: &Sim) {
    ui.strong(format!("training {} ", t.algorithm));
    ui.add(egui::ProgressBar::new(t.env_steps as f32 / t.total_steps.max(1) as f32).text(format!("{} / {} env steps", t.env_steps, t.total_steps)));
    ui.label(format!("{:.0} env steps/s · {:.1} s", t.steps_per_second(), t.wall_s));
    match (&t.finished, sim.snapshot_steps()) {
        (Some(Ok(summary)), _) => {
            ui.colored_label(GREEN, egui::RichText::new(summary).small());
        }
        (Some(Err(e)), _) => {
            ui.colored_label(egui::Color32::RED, format!("training failed: {e}"));
        }
        (None, Some(steps)) => {
            ui.label(format!("playing the snapshot from {steps} env steps"));
        }
        (None, None) => {
            ui.label("waiting for the first snapshot…");
        }
    }
    let success: PlotPoints = t.curve.iter().map(|e| [e.env_steps as f64, e.success_rate * 100.0]).collect();
    let train_success: PlotPoints = t.train_success.iter().map(|&[s, r]| [s, r * 100.0]).collect();
    Plot::new("success")
        .height(110.0)
        .include_y(0.0)
        .include_y(100.0)
        .include_x(0.0)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .legend(Legend::default())
        .y_axis_label("success %")
        .show(ui, |plot| {
            plot.line(Line::new("training episodes", train_success).color(BLUE.gamma_multiply(0.6)).width(1.0));
            plot.line(Line::new("evaluation", success).color(GREEN).width(2.0));
        });
    let error: PlotPoints = t.curve.iter().map(|e| [e.env_steps as f64, e.mean_final_error_mm]).collect();
    Plot::new("eval_error")
        .height(100.0)
        .include_y(0.0)
        .include_x(0.0)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .x_axis_label("env steps")
        .y_axis_label("final error (mm)")
        .show(ui, |plot| {
            plot.hline(HLine::new("tolerance", sim.tolerance_m as f64 * 1e3).color(GREEN.gamma_multiply(0.7)));
            plot.line(Line::new("mean final tip error", error).color(ORANGE).width(2.0));
        });
}

fn episode_plot(ui: &mut egui::Ui, sim: &Sim) {
    let points: PlotPoints = sim.errors_mm.iter().enumerate().map(|(i, &e)| [i as f64, e]).collect();
    let tol_mm = sim.tolerance_m as f64 * 1e3;
    Plot::new("tip_error")
        .height(110.0)
        .include_x(0.0)
        .include_x(sim.episode_steps as f64)
        .include_y(0.0)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .x_axis_label("step")
        .y_axis_label("tip error (mm)")
        .show(ui, |plot| {
            plot.hline(HLine::new("tolerance", tol_mm).color(GREEN));
            plot.line(Line::new("tip error", points).color(ORANGE).width(2.0));
        });
}

fn controls(ui: &mut egui::Ui, sim: &mut Sim, seed_value: u64, fields: &mut Fields) {
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
        ui.label("speed");
        let current =
            SPEEDS.iter().find(|(s, _)| *s == sim.steps_per_second).map_or_else(|| format!("{} steps/s", sim.steps_per_second), |(_, n)| n.to_string());
        egui::ComboBox::from_id_salt("speed").selected_text(current).show_ui(ui, |ui| {
            for (value, name) in SPEEDS {
                ui.selectable_value(&mut sim.steps_per_second, value, name);
            }
        });
    });
    ui.horizontal(|ui| {
        let mut s = seed_value;
        ui.label("seed");
        ui.add(egui::DragValue::new(&mut s));
        fields.seed = Some(s);
        if ui.button("reset").clicked() {
            sim.seed = s;
            sim.error = None;
            if let Err(e) = sim.reset_episode(0) {
                sim.error = Some(format!("{e:#}"));
            }
        }
    });
}

/// Task and policy choice (replay mode): returns the options to restart with.
fn task_and_policy(ui: &mut egui::Ui, sim: &Sim, base: &ViewerOptions, fields: &mut Fields) -> Option<ViewerOptions> {
    let mut next = None;
    ui.horizontal(|ui| {
        ui.label("oracle on");
        egui::ComboBox::from_id_salt("task").selected_text(&sim.task).show_ui(ui, |ui| {
            for info in crate::task::TASKS {
                if ui.selectable_label(info.name == sim.task, info.name).clicked() {
                    match crate::task::TaskConfig::builtin(info.name) {
                        Ok(task) => next = Some(ViewerOptions { task, mode: Mode::Replay { policy: None }, seed: sim.seed, ..base.clone() }),
                        Err(e) => warn!("{e}"),
                    }
                }
            }
        });
    });
    ui.horizontal(|ui| {
        ui.label("policy");
        ui.add(egui::TextEdit::singleline(&mut fields.policy_path).hint_text("policies/needle-reach").desired_width(170.0));
        if ui.button("load").clicked() && !fields.policy_path.trim().is_empty() {
            let path = std::path::PathBuf::from(fields.policy_path.trim());
            next = Some(ViewerOptions { mode: Mode::Replay { policy: Some(path) }, seed: sim.seed, ..base.clone() });
        }
    });
    next
}
