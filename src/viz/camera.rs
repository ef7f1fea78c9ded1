//! An orbit camera: left drag turns, right drag pans, the wheel zooms.
//! Input over the egui panels is left to egui.

use bevy::input::mouse::{AccumulatedMouseMotion, AccumulatedMouseScroll, MouseScrollUnit};
use bevy::prelude::*;
use bevy_egui::input::EguiWantsInput;

pub struct OrbitCameraPlugin {
    pub msaa: bool,
}

#[derive(Resource)]
struct CameraMsaa(bool);

impl Plugin for OrbitCameraPlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(CameraMsaa(self.msaa))
            .add_systems(Startup, spawn_camera).add_systems(Update, (orbit, apply_orbit).chain());
    }
}

/// Where the camera looks from, around `target` (world, metres, radians).
#[derive(Component, Clone, Copy, Debug)]
pub struct Orbit {
    pub target: Vec3,
    pub distance: f32,
    /// Around world Y, 0 looking along −Z.
    pub yaw: f32,
    /// Elevation above the horizontal.
    pub pitch: f32,
}

impl Default for Orbit {
    fn default() -> Self {
        // ~0.3 m from the tray centre, looking at the middle of the workspace.
        Self { target: Vec3::new(0.0, 0.04, 0.0), distance: 0.3, yaw: 0.6, pitch: 0.38 }
    }
}

impl Orbit {
    pub fn transform(&self) -> Transform {
        let dir = Vec3::new(self.pitch.cos() * self.yaw.sin(), self.pitch.sin(), self.pitch.cos() * self.yaw.cos());
        Transform::from_translation(self.target + self.distance * dir).looking_at(self.target, Vec3::Y)
    }
}

fn spawn_camera(mut commands: Commands, msaa: Res<CameraMsaa>) {
    let orbit = Orbit::default();
    commands.spawn((
        Camera3d::default(),
        // The scene is centimetres across: the default 0.1 m near plane would cut it.
        Projection::from(PerspectiveProjection { near: 0.002, far: 20.0, fov: 28f32.to_radians(), ..default() }),
        orbit.transform(),
        orbit,
        if msaa.0 { Msaa::Sample4 } else { Msaa::Off },
    ));
}

fn orbit(
    buttons: Res<ButtonInput<MouseButton>>,
    motion: Res<AccumulatedMouseMotion>,
    scroll: Res<AccumulatedMouseScroll>,
    egui_input: Option<Res<EguiWantsInput>>,
    mut cameras: Query<&mut Orbit>,
) {
    if egui_input.is_some_and(|e| e.wants_any_pointer_input()) {
        return;
    }
    let Ok(mut o) = cameras.single_mut() else { return };
    let d = motion.delta;
    if buttons.pressed(MouseButton::Left) && d != Vec2::ZERO {
        o.yaw -= d.x * 0.006;
        o.pitch = (o.pitch + d.y * 0.006).clamp(-1.5, 1.5);
    }
    if buttons.pressed(MouseButton::Right) && d != Vec2::ZERO {
        let t = o.transform();
        let k = o.distance * 0.0015;
        let shift = (-d.x * k) * t.right().as_vec3() + (d.y * k) * t.up().as_vec3();
        o.target += shift;
    }
    let lines = match scroll.unit {
        MouseScrollUnit::Line => scroll.delta.y,
        MouseScrollUnit::Pixel => scroll.delta.y / 40.0,
    };
    if lines != 0.0 {
        o.distance = (o.distance * 0.9f32.powf(lines)).clamp(0.02, 3.0);
    }
}

fn apply_orbit(mut cameras: Query<(&Orbit, &mut Transform), Changed<Orbit>>) {
    for (o, mut t) in &mut cameras {
        *t = o.transform();
    }
}
