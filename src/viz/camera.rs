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
        app.insert_resource(CameraMsaa(self.msaa)).add_systems(Startup, spawn_camera).add_systems(Update, ((orbit, apply_orbit).chain(), centre_beside_panel));
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
        // ~0.36 m from the tray centre, looking at the middle of the workspace.
        Self { target: Vec3::new(0.0, 0.05, 0.0), distance: 0.36, yaw: 0.6, pitch: 0.38 }
    }
}

/// Named viewpoints offered by the panel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Viewpoint {
    /// The default three-quarter view of the whole arm.
    Overview,
    /// Close and steep over the workspace, as the endoscope (the dVRK's
    /// camera arm, entering beside the instrument) sees it.
    Endoscope,
    Side,
    Top,
}

impl Viewpoint {
    pub const ALL: [Viewpoint; 4] = [Viewpoint::Overview, Viewpoint::Endoscope, Viewpoint::Side, Viewpoint::Top];

    pub fn name(self) -> &'static str {
        match self {
            Viewpoint::Overview => "overview",
            Viewpoint::Endoscope => "endoscope",
            Viewpoint::Side => "side",
            Viewpoint::Top => "top",
        }
    }

    pub fn orbit(self) -> Orbit {
        let workspace = Vec3::new(0.0, 0.03, 0.0);
        match self {
            Viewpoint::Overview => Orbit::default(),
            Viewpoint::Endoscope => Orbit { target: workspace, distance: 0.13, yaw: -0.35, pitch: 0.95 },
            Viewpoint::Side => Orbit { target: Vec3::new(0.0, 0.06, 0.0), distance: 0.34, yaw: std::f32::consts::FRAC_PI_2, pitch: 0.06 },
            Viewpoint::Top => Orbit { target: workspace, distance: 0.3, yaw: 0.0, pitch: 1.5 },
        }
    }
}

impl Orbit {
    pub fn transform(&self) -> Transform {
        let dir = Vec3::new(self.pitch.cos() * self.yaw.sin(), self.pitch.sin(), self.pitch.cos() * self.yaw.cos());
        Transform::from_translation(self.target + self.distance * dir).looking_at(self.target, Vec3::Y)
    }
}

/// Vertical field of view of the viewer's camera.
pub const FIELD_OF_VIEW_DEG: f32 = 28.0;

/// Where a world point appears in a window of `size` physical pixels whose
/// left `panel_px` are covered by the side panel: the view is centred on the
/// free part (see [`centre_beside_panel`]). Pixels from the top-left corner.
pub fn project_to_window(orbit: &Orbit, point: Vec3, size: Vec2, panel_px: f32) -> Option<Vec2> {
    let view = orbit.transform().to_matrix().inverse();
    let p = view.transform_point3(point);
    if p.z >= 0.0 {
        return None; // behind the camera
    }
    let focal = size.y / 2.0 / (FIELD_OF_VIEW_DEG.to_radians() / 2.0).tan();
    let centre = Vec2::new((size.x + panel_px) / 2.0, size.y / 2.0);
    Some(centre + Vec2::new(p.x / -p.z, -p.y / -p.z) * focal)
}

/// Shifts the projection so that the scene is centred in the part of the
/// window the side panel leaves free: the image is the left part of a wider
/// virtual one whose centre falls in the middle of the free part.
fn centre_beside_panel(windows: Query<&Window, With<bevy::window::PrimaryWindow>>, mut cameras: Query<&mut Camera, With<Orbit>>) {
    let Ok(window) = windows.single() else { return };
    let size = UVec2::new(window.physical_width(), window.physical_height());
    if size.x == 0 || size.y == 0 {
        return;
    }
    let panel = (super::ui::PANEL_WIDTH * window.scale_factor()).round() as u32;
    let view = bevy::camera::SubCameraView { full_size: UVec2::new(size.x + panel, size.y), offset: Vec2::ZERO, size };
    for mut camera in &mut cameras {
        if camera.sub_camera_view.as_ref() != Some(&view) {
            camera.sub_camera_view = Some(view);
        }
    }
}

fn spawn_camera(mut commands: Commands, msaa: Res<CameraMsaa>) {
    let orbit = Orbit::default();
    commands.spawn((
        Camera3d::default(),
        // The scene is centimetres across: the default 0.1 m near plane would cut it.
        Projection::from(PerspectiveProjection { near: 0.002, far: 20.0, fov: FIELD_OF_VIEW_DEG.to_radians(), ..default() }),
        orbit.transform(),
        orbit,
        if msaa.0 { Msaa::Sample4 } else { Msaa::Off },
        // The materials light themselves in display range (see `material`):
        // no tonemapping, so colours are exact and a per-pixel lookup is saved.
        bevy::core_pipeline::tonemapping::Tonemapping::None,
    ));
}

fn orbit(
    buttons: Res<ButtonInput<MouseButton>>,
    keys: Res<ButtonInput<KeyCode>>,
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
    // Ctrl + left drag belongs to teleoperation.
    if buttons.pressed(MouseButton::Left) && !super::teleop::ctrl_held(&keys) && d != Vec2::ZERO {
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
