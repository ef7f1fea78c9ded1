//! The 3-D scene: lights, ground, body wall with the RCM port, the scene
//! objects of the rapier world (tray, pad, needle), the instrument links at
//! their simulated poses, the goal with its tolerance sphere, the tip trail
//! coloured by error and the error vector.

use bevy::prelude::*;
use rapier3d::parry::shape::TypedShape;
use rapier3d::prelude::RigidBodyHandle;

use super::sim::Sim;
use super::{transform_from_pose, vec3_from};
use crate::sim::description::{LinkShape, RobotDescription};

pub struct ScenePlugin;

impl Plugin for ScenePlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(GlobalAmbientLight { color: Color::WHITE, brightness: 400.0, ..default() })
            .insert_resource(Drawn::default())
            .add_systems(Startup, setup_static)
            .add_systems(Update, (rebuild_episode, sync_links, draw_overlays).chain());
    }
}

/// Everything spawned for one episode's world; despawned on reset.
#[derive(Component)]
struct EpisodeEntity;

/// A rigid body drawn at its simulated pose every frame.
#[derive(Component)]
struct BodyPose(RigidBodyHandle);

/// The goal marker and its tolerance sphere.
#[derive(Component)]
struct GoalMarker;

/// Which generation of the sim's world is on screen.
#[derive(Resource, Default)]
struct Drawn {
    generation: u64,
}

fn material(materials: &mut Assets<StandardMaterial>, color: Color, roughness: f32, metallic: f32) -> Handle<StandardMaterial> {
    materials.add(StandardMaterial {
        base_color: color,
        perceptual_roughness: roughness,
        metallic,
        alpha_mode: if color.alpha() < 1.0 { AlphaMode::Blend } else { AlphaMode::Opaque },
        ..default()
    })
}

fn setup_static(
    mut commands: Commands,
    mut gizmo_store: ResMut<GizmoConfigStore>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    sim: Res<Sim>,
) {
    // Thicker gizmo lines: the trail and error vector are millimetres long.
    let (config, _) = gizmo_store.config_mut::<DefaultGizmoConfigGroup>();
    config.line.width = 3.0;
    // Cheap lighting: one directional light without shadow maps, plus ambient.
    commands.spawn((
        DirectionalLight { illuminance: 8_000.0, shadow_maps_enabled: false, ..default() },
        Transform::from_xyz(0.3, 0.8, 0.4).looking_at(Vec3::ZERO, Vec3::Y),
    ));
    // Operating table below the tray (the tray's bottom is at y = -1 cm).
    commands.spawn((
        Mesh3d(meshes.add(Plane3d::default().mesh().size(1.2, 1.2))),
        MeshMaterial3d(material(&mut materials, Color::srgb(0.22, 0.24, 0.27), 0.9, 0.0)),
        Transform::from_xyz(0.0, -0.0101, 0.0),
    ));
    // Body wall: a translucent patch through the RCM, with the port as a ring.
    let env = sim.env();
    let rcm = env.config().robot.rcm;
    let rcm = Vec3::new(rcm[0] as f32, rcm[1] as f32, rcm[2] as f32);
    commands.spawn((
        Mesh3d(meshes.add(Plane3d::default().mesh().size(0.16, 0.16))),
        MeshMaterial3d(materials.add(StandardMaterial {
            base_color: Color::srgba(0.95, 0.65, 0.6, 0.10),
            alpha_mode: AlphaMode::Blend,
            double_sided: true,
            cull_mode: None,
            unlit: true,
            ..default()
        })),
        Transform::from_translation(rcm),
    ));
    commands.spawn((
        Mesh3d(meshes.add(Torus::new(0.005, 0.008))),
        MeshMaterial3d(material(&mut materials, Color::srgb(0.95, 0.75, 0.2), 0.5, 0.2)),
        Transform::from_translation(rcm),
    ));
}

/// Respawns the drawn world after every reset: the instrument's links and
/// every collider of the scene (tray, pad, needle), read from the rapier world.
fn rebuild_episode(
    mut commands: Commands,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    sim: Res<Sim>,
    mut drawn: ResMut<Drawn>,
    old: Query<Entity, With<EpisodeEntity>>,
) {
    if drawn.generation == sim.generation {
        return;
    }
    drawn.generation = sim.generation;
    for e in &old {
        commands.entity(e).despawn();
    }
    let env = sim.env();
    let Some(psm) = env.psm() else { return };
    let world = env.world();

    // Instrument links: one entity per body, primitives in the link's DH frame.
    let desc = RobotDescription::psm();
    let shaft = material(&mut materials, Color::srgb(0.78, 0.8, 0.83), 0.35, 0.8);
    let dark = material(&mut materials, Color::srgb(0.25, 0.27, 0.3), 0.5, 0.6);
    let jaw = material(&mut materials, Color::srgb(0.3, 0.55, 0.95), 0.4, 0.3);
    let shapes: Vec<(usize, &LinkShape)> = desc
        .joints
        .iter()
        .enumerate()
        .map(|(i, j)| (i + 1, &j.link))
        .chain(std::iter::once((desc.joints.len() + 1, &desc.jaw.link)))
        .collect();
    for (frame, shape) in shapes {
        let handle = psm.bodies[frame];
        let mat = match frame {
            4 => shaft.clone(),
            5..=7 => jaw.clone(),
            _ => dark.clone(),
        };
        let (mesh, local) = match shape {
            LinkShape::Box { half_extents: h, center: c, .. } => (
                meshes.add(Cuboid::new(2.0 * h[0] as f32, 2.0 * h[1] as f32, 2.0 * h[2] as f32)),
                Transform::from_xyz(c[0] as f32, c[1] as f32, c[2] as f32),
            ),
            // Along the link's z; bevy's cylinder runs along y.
            LinkShape::Cylinder { radius, half_length, center: c, .. } => (
                meshes.add(Cylinder::new(*radius as f32, 2.0 * *half_length as f32)),
                Transform::from_xyz(c[0] as f32, c[1] as f32, c[2] as f32)
                    .with_rotation(Quat::from_rotation_x(std::f32::consts::FRAC_PI_2)),
            ),
        };
        commands
            .spawn((EpisodeEntity, BodyPose(handle), transform_from_pose(world.bodies[handle].position()), Visibility::default()))
            .with_children(|p| {
                p.spawn((Mesh3d(mesh), MeshMaterial3d(mat), local));
            });
    }

    // Scene objects: every collider not on the instrument.
    let tray = material(&mut materials, Color::srgb(0.55, 0.57, 0.6), 0.8, 0.0);
    let pad = material(&mut materials, Color::srgb(0.3, 0.55, 0.4), 0.9, 0.0);
    let needle = material(&mut materials, Color::srgb(0.92, 0.92, 0.95), 0.2, 1.0);
    for (_, collider) in world.colliders.iter() {
        if collider.parent().is_some_and(|b| psm.bodies.contains(&b)) {
            continue;
        }
        let pose = transform_from_pose(collider.position());
        match collider.shape().as_typed_shape() {
            TypedShape::Cuboid(c) => {
                let h = c.half_extents;
                let mat = if h.y > 0.002 { tray.clone() } else { pad.clone() };
                commands.spawn((
                    EpisodeEntity,
                    Mesh3d(meshes.add(Cuboid::new(2.0 * h.x, 2.0 * h.y, 2.0 * h.z))),
                    MeshMaterial3d(mat),
                    pose,
                ));
            }
            TypedShape::Capsule(c) => {
                let (a, b) = (c.segment.a, c.segment.b);
                let (a, b) = (Vec3::new(a.x, a.y, a.z), Vec3::new(b.x, b.y, b.z));
                let axis = b - a;
                let local = Transform::from_translation((a + b) / 2.0)
                    .with_rotation(Quat::from_rotation_arc(Vec3::Y, axis.normalize_or(Vec3::Y)));
                // Drawn 3× thicker than simulated so that a 0.5 mm wire shows up.
                commands.spawn((
                    EpisodeEntity,
                    Mesh3d(meshes.add(Capsule3d::new(3.0 * c.radius, axis.length()))),
                    MeshMaterial3d(needle.clone()),
                    pose * local,
                ));
            }
            _ => {}
        }
    }

    // The goal and its tolerance sphere.
    let goal = vec3_from(&sim.obs.desired_goal);
    commands.spawn((
        EpisodeEntity,
        GoalMarker,
        Mesh3d(meshes.add(Sphere::new(0.0012))),
        MeshMaterial3d(materials.add(StandardMaterial { base_color: Color::srgb(1.0, 0.35, 0.1), unlit: true, ..default() })),
        Transform::from_translation(goal),
    ));
    commands.spawn((
        EpisodeEntity,
        GoalMarker,
        Mesh3d(meshes.add(Sphere::new(sim.tolerance_m).mesh().uv(32, 16))),
        MeshMaterial3d(materials.add(StandardMaterial {
            base_color: Color::srgba(0.25, 0.75, 1.0, 0.4),
            alpha_mode: AlphaMode::Blend,
            unlit: true,
            ..default()
        })),
        Transform::from_translation(goal),
    ));
}

/// Copies every drawn body's simulated pose onto its transform.
fn sync_links(sim: Res<Sim>, mut links: Query<(&BodyPose, &mut Transform)>) {
    let env = sim.env();
    let world = env.world();
    for (body, mut transform) in &mut links {
        if let Some(b) = world.bodies.get(body.0) {
            let t = transform_from_pose(b.position());
            if t.is_finite() {
                *transform = t;
            }
        }
    }
}

/// Colour of a tip error: green inside the tolerance, red from 10× on.
pub fn error_color(error_m: f32, tolerance_m: f32) -> Color {
    if error_m <= tolerance_m {
        return Color::srgb(0.1, 0.95, 0.3);
    }
    let t = ((error_m / tolerance_m).log10()).clamp(0.0, 1.0);
    Color::srgb(0.95, 0.9 * (1.0 - t) + 0.1 * t, 0.1)
}

/// Gizmos: tip trail, error vector, workspace box.
fn draw_overlays(sim: Res<Sim>, mut gizmos: Gizmos) {
    let tol = sim.tolerance_m;
    if sim.trail.len() >= 2 {
        gizmos.linestrip_gradient(sim.trail.iter().map(|p| (p.tip, error_color(p.error_m, tol))));
    }
    for p in &sim.trail {
        gizmos.sphere(Isometry3d::from_translation(p.tip), 0.0006, error_color(p.error_m, tol)).resolution(6);
    }
    if let Some(last) = sim.trail.last() {
        let goal = vec3_from(&sim.obs.desired_goal);
        if last.tip.distance(goal) > 1e-4 {
            gizmos.arrow(last.tip, goal, Color::srgb(1.0, 0.85, 0.1)).with_tip_length(0.003);
        }
    }
    // The box the tip targets are clipped to.
    let env = sim.env();
    let c = &env.config().control;
    let (lo, hi) = (
        Vec3::new(c.workspace_min[0] as f32, c.workspace_min[1] as f32, c.workspace_min[2] as f32),
        Vec3::new(c.workspace_max[0] as f32, c.workspace_max[1] as f32, c.workspace_max[2] as f32),
    );
    gizmos.cube(
        Transform::from_translation((lo + hi) / 2.0).with_scale(hi - lo),
        Color::srgba(0.6, 0.7, 1.0, 0.25),
    );
}
