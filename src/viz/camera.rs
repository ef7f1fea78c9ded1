//! An orbit camera: left drag turns, right drag pans, the wheel zooms.
//! Input over the egui panels is left to egui. In the camera (ECM) tasks the
//! "endoscope" viewpoint rides the simulated endoscope: its pose and field of view.

use bevy::input::mouse::{AccumulatedMouseMotion, AccumulatedMouseScroll, MouseScrollUnit};
use bevy::prelude::*;
use bevy_egui::input::EguiWantsInput;

pub struct OrbitCameraPlugin {
    pub msaa: bool,
    /// Where the camera starts.
    pub viewpoint: Viewpoint,
}

#[derive(Resource)]
struct CameraMsaa(bool);

#[derive(Resource)]
struct StartViewpoint(Viewpoint);

impl Plugin for OrbitCameraPlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(CameraMsaa(self.msaa))
            .insert_resource(StartViewpoint(self.viewpoint))
            .add_systems(Startup, spawn_camera)
            .add_systems(Update, ((orbit, apply_orbit, ride_endoscope).chain(), centre_beside_panel));
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
    /// camera arm, entering beside the instrument) sees it; in the camera
    /// tasks, the simulated endoscope's own view.
    Endoscope,
    Side,
    Top,
}

impl Viewpoint {
    pub const ALL: [Viewpoint; 4] = [Viewpoint::Overview, Viewpoint::Endoscope, Viewpoint::Side, Viewpoint::Top];

    /// The viewpoint called `name` (see [`Viewpoint::name`]).
    pub fn named(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.name() == name)
    }

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

/// Whether the viewer's camera rides the ECM's endoscope (set by the
/// "endoscope" viewpoint; it has effect in the camera tasks only).
#[derive(Component, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RideEndoscope(pub bool);

/// The viewer camera's transform for an endoscope camera frame (world; x
/// right, y down, z along the view): bevy's cameras look along −Z with +Y up.
pub fn endoscope_transform(camera: &rapier3d::na::Isometry3<f64>) -> Transform {
    let t = super::transform_from(camera);
    t.with_rotation(t.rotation * Quat::from_rotation_x(std::f32::consts::PI))
}

/// Puts a riding camera where the simulated endoscope is, with its field of
/// view; others get the viewer's own field of view back.
fn ride_endoscope(sim: Res<super::sim::Sim>, mut cameras: Query<(&RideEndoscope, &mut Transform, &mut Projection)>) {
    let env = sim.env();
    for (ride, mut transform, mut projection) in &mut cameras {
        let (pose, fov_deg) = match (ride.0, env.ecm()) {
            (true, Some(ecm)) => (Some(ecm.camera_pose(env.world())), ecm.camera.fov_deg as f32),
            _ => (None, FIELD_OF_VIEW_DEG),
        };
        if let Projection::Perspective(p) = projection.as_mut()
            && (p.fov - fov_deg.to_radians()).abs() > 1e-6
        {
            p.fov = fov_deg.to_radians();
        }
        if let Some(pose) = pose {
            let t = endoscope_transform(&pose);
            if t.is_finite() {
                *transform = t;
            }
        }
    }
}

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

fn spawn_camera(mut commands: Commands, msaa: Res<CameraMsaa>, start: Res<StartViewpoint>) {
    let orbit = start.0.orbit();
    commands.spawn((
        Camera3d::default(),
        // The scene is centimetres across: the default 0.1 m near plane would cut it.
        Projection::from(PerspectiveProjection { near: 0.002, far: 20.0, fov: FIELD_OF_VIEW_DEG.to_radians(), ..default() }),
        orbit.transform(),
        orbit,
        RideEndoscope(start.0 == Viewpoint::Endoscope),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::viz::ViewerOptions;
    use crate::viz::sim::Sim;

    #[test]
    fn the_endoscope_viewpoint_rides_the_simulated_camera_in_camera_tasks() {
        let task = crate::task::TaskConfig::builtin("ecm-static-track").unwrap();
        let mut app = App::new();
        app.add_plugins(MinimalPlugins)
            .insert_resource(Sim::new(&ViewerOptions { task, ..ViewerOptions::default() }).unwrap())
            .add_systems(Update, ride_endoscope);
        let riding = app.world_mut().spawn((RideEndoscope(true), Transform::default(), Projection::from(PerspectiveProjection::default()))).id();
        let free = app.world_mut().spawn((RideEndoscope(false), Transform::default(), Projection::from(PerspectiveProjection::default()))).id();
        app.update();
        let sim = app.world().resource::<Sim>();
        let env = sim.env();
        let camera = env.ecm().unwrap().camera_pose(env.world());
        let t = *app.world().get::<Transform>(riding).unwrap();
        let at = camera.translation.vector;
        assert!(t.translation.distance(Vec3::new(at.x as f32, at.y as f32, at.z as f32)) < 1e-6);
        // bevy's camera looks along its −Z: the endoscope's view axis; its +Y is the image's up (−y).
        let (view, down) = (camera.rotation * rapier3d::na::Vector3::z(), camera.rotation * rapier3d::na::Vector3::y());
        assert!(t.forward().as_vec3().distance(Vec3::new(view.x as f32, view.y as f32, view.z as f32)) < 1e-5);
        assert!(t.up().as_vec3().distance(-Vec3::new(down.x as f32, down.y as f32, down.z as f32)) < 1e-5);
        let fov = |e: Entity| match app.world().get::<Projection>(e).unwrap() {
            Projection::Perspective(p) => p.fov.to_degrees(),
            _ => f32::NAN,
        };
        assert!((fov(riding) - 60.0).abs() < 1e-3, "the ECM camera's field of view");
        assert!((fov(free) - FIELD_OF_VIEW_DEG).abs() < 1e-3);
        assert_eq!(*app.world().get::<Transform>(free).unwrap(), Transform::default(), "a free camera is left alone");
    }
}
