//! Teleoperation: the keyboard moves the tip setpoint, relative to the view.
//!
//! W/S forward/back and A/D left/right in the horizontal plane as seen by the
//! camera, R/F up/down, Q/E wrist yaw, Space opens/closes the jaw, Shift for
//! fine motion; or Ctrl + left drag moves the tip right/left and up/down as
//! seen on screen. Tab gives the keys to the task's next instrument (the
//! other PSM, the ECM); the others hold still, their jaws as they were. The
//! action goes through the same env step as a policy's.

use bevy::prelude::*;
use bevy_egui::input::EguiWantsInput;

use super::camera::Orbit;
use super::sim::Sim;

/// Fraction of the largest per-step move (1 cm) a held key asks for:
/// 1.5 mm per step, 3 cm/s at real time.
pub const TELEOP_GAIN: f32 = 0.15;
/// With Shift: 0.3 mm per step, for the last millimetres.
pub const TELEOP_FINE_GAIN: f32 = 0.03;
/// Wrist yaw per step as a fraction of the largest increment.
pub const TELEOP_YAW_GAIN: f32 = 0.3;

pub struct TeleopPlugin;

impl Plugin for TeleopPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<JawOpen>().add_systems(PreUpdate, read_keyboard.after(bevy::input::InputSystems));
    }
}

#[derive(Resource, Default)]
struct JawOpen(bool);

/// Which keys are held, as signed axes (+1, 0, −1).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TeleopKeys {
    pub forward: f32,
    pub right: f32,
    pub up: f32,
    pub yaw: f32,
    pub fine: bool,
    pub jaw_open: bool,
}

/// The env action for held keys, with "forward" and "right" taken from a
/// camera yaw (radians about world Y, as [`Orbit::yaw`]).
pub fn teleop_action(keys: TeleopKeys, camera_yaw: f32) -> [f32; crate::env::PSM_ACTION_DIM] {
    let gain = if keys.fine { TELEOP_FINE_GAIN } else { TELEOP_GAIN };
    // The camera looks along −(sin yaw, 0, cos yaw); right is (cos yaw, 0, −sin yaw).
    let forward = Vec3::new(-camera_yaw.sin(), 0.0, -camera_yaw.cos());
    let right = Vec3::new(camera_yaw.cos(), 0.0, -camera_yaw.sin());
    let mut d = forward * keys.forward + right * keys.right + Vec3::Y * keys.up;
    if d.length() > 1.0 {
        d = d.normalize();
    }
    d *= gain;
    [d.x, d.y, d.z, keys.yaw * TELEOP_YAW_GAIN, if keys.jaw_open { 1.0 } else { -1.0 }]
}

/// Mouse pixels per frame that ask for the full teleop speed.
const DRAG_PIXELS_FOR_FULL_SPEED: f32 = 12.0;

/// Whether a drag is for the tip (Ctrl held) rather than the camera.
pub fn ctrl_held(keys: &ButtonInput<KeyCode>) -> bool {
    keys.pressed(KeyCode::ControlLeft) || keys.pressed(KeyCode::ControlRight)
}

fn axis(keys: &ButtonInput<KeyCode>, plus: KeyCode, minus: KeyCode) -> f32 {
    keys.pressed(plus) as i32 as f32 - keys.pressed(minus) as i32 as f32
}

fn read_keyboard(
    keys: Res<ButtonInput<KeyCode>>,
    buttons: Res<ButtonInput<MouseButton>>,
    motion: Res<bevy::input::mouse::AccumulatedMouseMotion>,
    egui_input: Option<Res<EguiWantsInput>>,
    cameras: Query<&Orbit>,
    mut jaw: ResMut<JawOpen>,
    mut sim: ResMut<Sim>,
) {
    if !sim.is_teleop() {
        return;
    }
    if egui_input.is_some_and(|e| e.wants_any_keyboard_input()) {
        sim.teleop_action = teleop_action(TeleopKeys { jaw_open: jaw.0, ..default() }, 0.0);
        return;
    }
    if keys.just_pressed(KeyCode::Space) {
        jaw.0 = !jaw.0;
    }
    if keys.just_pressed(KeyCode::Tab) && sim.instrument_count() > 1 {
        sim.teleop_action = teleop_action(TeleopKeys { jaw_open: jaw.0, ..default() }, 0.0);
        jaw.0 = sim.switch_teleop_arm();
    }
    let drag = if ctrl_held(&keys) && buttons.pressed(MouseButton::Left) {
        (motion.delta / DRAG_PIXELS_FOR_FULL_SPEED).clamp(Vec2::splat(-1.0), Vec2::splat(1.0))
    } else {
        Vec2::ZERO
    };
    let held = TeleopKeys {
        forward: axis(&keys, KeyCode::KeyW, KeyCode::KeyS),
        right: (axis(&keys, KeyCode::KeyD, KeyCode::KeyA) + drag.x).clamp(-1.0, 1.0),
        // Screen y grows downwards.
        up: (axis(&keys, KeyCode::KeyR, KeyCode::KeyF) - drag.y).clamp(-1.0, 1.0),
        yaw: axis(&keys, KeyCode::KeyE, KeyCode::KeyQ),
        fine: keys.pressed(KeyCode::ShiftLeft) || keys.pressed(KeyCode::ShiftRight),
        jaw_open: jaw.0,
    };
    let yaw = cameras.iter().next().map_or(0.0, |o| o.yaw);
    sim.teleop_action = teleop_action(held, yaw);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::viz::camera::Orbit;

    #[test]
    fn forward_is_away_from_the_camera_and_shift_is_finer() {
        let orbit = Orbit { yaw: 0.7, ..Orbit::default() };
        let camera = orbit.transform();
        let away = (orbit.target - camera.translation).with_y(0.0).normalize();
        let a = teleop_action(TeleopKeys { forward: 1.0, ..default() }, orbit.yaw);
        let moved = Vec3::new(a[0], a[1], a[2]);
        assert!((moved.normalize() - away).length() < 1e-5, "forward {moved} vs away from the camera {away}");
        assert!((moved.length() - TELEOP_GAIN).abs() < 1e-6);
        // Right is the camera's right.
        let r = teleop_action(TeleopKeys { right: 1.0, ..default() }, orbit.yaw);
        assert!((Vec3::new(r[0], r[1], r[2]).normalize() - camera.right().as_vec3()).length() < 1e-5);
        let fine = teleop_action(TeleopKeys { up: 1.0, fine: true, ..default() }, orbit.yaw);
        assert_eq!([fine[0], fine[1], fine[2]], [0.0, TELEOP_FINE_GAIN, 0.0]);
        // Diagonals are not faster; the jaw follows the toggle.
        let diag = teleop_action(TeleopKeys { forward: 1.0, right: 1.0, up: 1.0, jaw_open: true, ..default() }, 0.0);
        assert!((Vec3::new(diag[0], diag[1], diag[2]).length() - TELEOP_GAIN).abs() < 1e-6);
        assert_eq!(diag[4], 1.0);
        assert_eq!(teleop_action(TeleopKeys::default(), 0.0), [0.0, 0.0, 0.0, 0.0, -1.0]);
    }

    #[test]
    fn held_keys_drive_the_simulated_tip_toward_the_goal() {
        // A scripted "person" holding the keys that point at the goal reaches it
        // through the same env step a policy uses.
        let options = crate::viz::ViewerOptions { mode: crate::viz::Mode::Teleop { record: None }, ..Default::default() };
        let mut sim = crate::viz::sim::Sim::new(&options).unwrap();
        assert!(sim.is_teleop());
        assert!(sim.episode_steps >= crate::viz::sim::TELEOP_MIN_EPISODE_STEPS);
        let start = sim.errors_mm[0];
        while !sim.done {
            let tip = crate::viz::vec3_from(&sim.obs.achieved_goal);
            let goal = crate::viz::vec3_from(&sim.obs.desired_goal);
            // Axis-aligned keys (yaw 0: forward is −z, right is +x), fine when close.
            let d = goal - tip;
            let key = |v: f32| if v.abs() < 2e-4 { 0.0 } else { v.signum() };
            let keys = TeleopKeys { forward: key(-d.z), right: key(d.x), up: key(d.y), fine: d.length() < 0.004, ..default() };
            sim.teleop_action = teleop_action(keys, 0.0);
            sim.advance().unwrap();
        }
        let last = sim.last.as_ref().unwrap();
        assert!(last.success, "teleop from {start:.1} mm ended {:.2} mm from the goal", last.tip_error_mm);
    }
}
