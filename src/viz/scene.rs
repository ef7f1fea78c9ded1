//! The 3-D scene: lights, ground, body wall with the RCM port, the scene
//! objects of the rapier world (tray, pad, needle, gauze, board, pegs, blocks), the instrument links at
//! their simulated poses, the goal with its tolerance sphere, the tip trail
//! coloured by error and the error vector.

use bevy::prelude::*;
use rapier3d::parry::shape::TypedShape;
use rapier3d::prelude::RigidBodyHandle;

use super::material::{SimpleLit, SimpleLitPlugin};
use super::sim::Sim;
use super::transform_from_pose;
use crate::sim::description::LinkShape;

pub struct ScenePlugin;

impl Plugin for ScenePlugin {
    fn build(&self, app: &mut App) {
        app.add_plugins(SimpleLitPlugin)
            .insert_resource(Drawn::default())
            .add_systems(Startup, setup_static)
            .add_systems(Update, (rebuild_episode, sync_links, follow_goal, draw_overlays).chain());
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

/// A surface of the scene: `specular` 0 is matte, ~0.5 glossy metal.
fn lit(materials: &mut Assets<SimpleLit>, color: Color, specular: f32, shininess: f32) -> Handle<SimpleLit> {
    materials.add(SimpleLit::new(color, specular, shininess))
}

fn setup_static(
    mut commands: Commands,
    mut gizmo_store: ResMut<GizmoConfigStore>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<SimpleLit>>,
    sim: Res<Sim>,
) {
    // Thicker gizmo lines: the trail and error vector are millimetres long.
    let (config, _) = gizmo_store.config_mut::<DefaultGizmoConfigGroup>();
    config.line.width = 3.0;
    // Lighting is in the material (one key light and a hemisphere ambient):
    // no bevy lights, no shadow maps, so the software rasteriser keeps up.
    // Operating table below the tray (the tray's bottom is at y = -1 cm).
    commands.spawn((
        Mesh3d(meshes.add(Plane3d::default().mesh().size(1.2, 1.2))),
        MeshMaterial3d(lit(&mut materials, Color::srgb(0.22, 0.24, 0.27), 0.0, 1.0)),
        Transform::from_xyz(0.0, -0.0101, 0.0),
    ));
    // Body wall: a translucent patch through the RCM, with the port as a ring.
    let env = sim.env();
    let rcm = env.config().robot.rcm;
    let rcm = Vec3::new(rcm[0] as f32, rcm[1] as f32, rcm[2] as f32);
    commands.spawn((
        Mesh3d(meshes.add(Plane3d::default().mesh().size(0.16, 0.16))),
        MeshMaterial3d(lit(&mut materials, Color::srgba(0.95, 0.65, 0.6, 0.12), 0.0, 1.0)),
        Transform::from_translation(rcm),
    ));
    commands.spawn((
        Mesh3d(meshes.add(Torus::new(0.005, 0.008))),
        MeshMaterial3d(lit(&mut materials, Color::srgb(0.95, 0.75, 0.2), 0.3, 24.0)),
        Transform::from_translation(rcm),
    ));
}

/// Respawns the drawn world after every reset: the instrument's links and
/// every collider of the scene (tray, pad, needle), read from the rapier world.
fn rebuild_episode(
    mut commands: Commands,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<SimpleLit>>,
    mut marker_materials: ResMut<Assets<StandardMaterial>>,
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
    // The task's instruments: PSMs (six DH links and two blades each) and the ECM (four links).
    let instruments = env.instrument_links();
    if instruments.is_empty() {
        return;
    }
    let world = env.world();

    // Instrument links: one entity per body, primitives in the link's own frame.
    let shaft = lit(&mut materials, Color::srgb(0.72, 0.74, 0.78), 0.55, 48.0);
    let dark = lit(&mut materials, Color::srgb(0.25, 0.27, 0.3), 0.35, 24.0);
    let jaw = lit(&mut materials, Color::srgb(0.3, 0.55, 0.95), 0.4, 32.0);
    for (bodies, shapes) in &instruments {
        for (k, (&handle, shape)) in bodies.iter().zip(shapes.iter()).enumerate() {
            // k: DH frames 1..=6 are 0..=5, the blades 6 and 7 (the ECM's scope is k = 3).
            let mat = match k {
                3 => shaft.clone(),
                4.. => jaw.clone(),
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
                    Transform::from_xyz(c[0] as f32, c[1] as f32, c[2] as f32).with_rotation(Quat::from_rotation_x(std::f32::consts::FRAC_PI_2)),
                ),
            };
            commands.spawn((EpisodeEntity, BodyPose(handle), transform_from_pose(world.bodies[handle].position()), Visibility::default())).with_children(|p| {
                p.spawn((Mesh3d(mesh), MeshMaterial3d(mat), local));
            });
        }
    }
    let instrument: Vec<RigidBodyHandle> = instruments.iter().flat_map(|(bodies, _)| bodies.iter().copied()).collect();

    // Scene objects: every collider not on the instrument.
    let tray = lit(&mut materials, Color::srgb(0.55, 0.57, 0.6), 0.08, 8.0);
    let pad = lit(&mut materials, Color::srgb(0.3, 0.55, 0.4), 0.03, 4.0);
    let needle = lit(&mut materials, Color::srgb(0.88, 0.88, 0.92), 0.7, 64.0);
    // Gauze and blocks: a soft off-white, bright against the green pad and the grey board.
    let object = lit(&mut materials, Color::srgb(0.93, 0.9, 0.82), 0.05, 8.0);
    for (_, collider) in world.colliders.iter() {
        if collider.parent().is_some_and(|b| instrument.contains(&b)) {
            continue;
        }
        let loose = collider.parent().is_some_and(|b| world.bodies[b].is_dynamic());
        let (mesh, mat, local) = match collider.shape().as_typed_shape() {
            TypedShape::Cuboid(c) => {
                let h = c.half_extents;
                let mat = if loose {
                    object.clone()
                } else if h.y > 0.002 {
                    tray.clone()
                } else {
                    pad.clone()
                };
                (meshes.add(Cuboid::new(2.0 * h.x, 2.0 * h.y, 2.0 * h.z)), mat, Transform::IDENTITY)
            }
            TypedShape::Capsule(c) => {
                let (a, b) = (c.segment.a, c.segment.b);
                let (a, b) = (Vec3::new(a.x, a.y, a.z), Vec3::new(b.x, b.y, b.z));
                let axis = b - a;
                let local = Transform::from_translation((a + b) / 2.0).with_rotation(Quat::from_rotation_arc(Vec3::Y, axis.normalize_or(Vec3::Y)));
                // Drawn 3× thicker than simulated so that a 0.5 mm wire shows up.
                (meshes.add(Capsule3d::new(3.0 * c.radius, axis.length())), needle.clone(), local)
            }
            // A peg's stack of spheres, as simulated.
            TypedShape::Ball(b) if !loose => (meshes.add(Sphere::new(b.radius)), tray.clone(), Transform::IDENTITY),
            // The massless rounded edges of a gauze pad or a block: drawn by their boxes.
            TypedShape::Ball(_) if collider.mass() == 0.0 => continue,
            // The loose needle's chain of spheres, drawn 3× thicker as the wire above.
            TypedShape::Ball(b) => (meshes.add(Sphere::new(3.0 * b.radius)), needle.clone(), Transform::IDENTITY),
            _ => continue,
        };
        match collider.parent().filter(|&b| world.bodies[b].is_dynamic()) {
            // A loose object: drawn under its body, which follows the simulation.
            Some(body) => {
                let in_body = collider.position_wrt_parent().map_or(Transform::IDENTITY, transform_from_pose);
                commands.spawn((EpisodeEntity, BodyPose(body), transform_from_pose(world.bodies[body].position()), Visibility::default())).with_children(|p| {
                    p.spawn((Mesh3d(mesh), MeshMaterial3d(mat), in_body * local));
                });
            }
            None => {
                commands.spawn((EpisodeEntity, Mesh3d(mesh), MeshMaterial3d(mat), transform_from_pose(collider.position()) * local));
            }
        }
    }

    // The goal and its tolerance sphere (tasks whose goal is a place).
    let Some(goal) = env.task().goal_point(&sim.obs.desired_goal) else { return };
    let goal = Vec3::new(goal.x as f32, goal.y as f32, goal.z as f32);
    commands.spawn((
        EpisodeEntity,
        GoalMarker,
        Mesh3d(meshes.add(Sphere::new(GOAL_MARKER_RADIUS_M))),
        MeshMaterial3d(marker_materials.add(StandardMaterial { base_color: GOAL_MARKER_COLOR, unlit: true, ..default() })),
        Transform::from_translation(goal),
    ));
    commands.spawn((
        EpisodeEntity,
        GoalMarker,
        Mesh3d(meshes.add(Sphere::new(sim.tolerance_m).mesh().uv(32, 16))),
        MeshMaterial3d(marker_materials.add(StandardMaterial {
            base_color: Color::srgba(0.25, 0.75, 1.0, 0.45),
            alpha_mode: AlphaMode::Blend,
            unlit: true,
            // Only the far half of the shell: it reads as a translucent ball
            // behind the goal point without tinting the point itself.
            cull_mode: Some(bevy::render::render_resource::Face::Front),
            ..default()
        })),
        Transform::from_translation(goal),
    ));
}

/// Radius of the goal point (the tolerance sphere around it is the task's).
pub const GOAL_MARKER_RADIUS_M: f32 = 0.002;
/// The goal point's colour (unlit, so it reads the same from every side).
pub const GOAL_MARKER_COLOR: Color = Color::srgb(1.0, 0.35, 0.1);

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

/// Keeps the goal marker on the goal as it moves (a tracked target).
fn follow_goal(sim: Res<Sim>, mut markers: Query<&mut Transform, With<GoalMarker>>) {
    let env = sim.env();
    let Some(goal) = env.task().goal_point(&sim.obs.desired_goal) else { return };
    let goal = Vec3::new(goal.x as f32, goal.y as f32, goal.z as f32);
    for mut t in &mut markers {
        if t.translation != goal {
            t.translation = goal;
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

/// The tip trail as drawn: every step's tip position in its error colour.
pub fn trail_points(sim: &Sim) -> Vec<(Vec3, Color)> {
    sim.trail.iter().map(|p| (p.tip, error_color(p.error_m, sim.tolerance_m))).collect()
}

/// Gizmos: tip trail, error vector, workspace box.
fn draw_overlays(sim: Res<Sim>, mut gizmos: Gizmos) {
    let trail = trail_points(&sim);
    if trail.len() >= 2 {
        gizmos.linestrip_gradient(trail.iter().copied());
    }
    for &(tip, colour) in &trail {
        gizmos.sphere(Isometry3d::from_translation(tip), 0.0006, colour).resolution(6);
    }
    let env = sim.env();
    if let (Some(last), Some(goal)) = (sim.trail.last(), env.task().goal_point(&sim.obs.desired_goal)) {
        let goal = Vec3::new(goal.x as f32, goal.y as f32, goal.z as f32);
        // The error vector stops at the goal point's surface, so it does not hide it.
        let gap = last.tip.distance(goal) - GOAL_MARKER_RADIUS_M;
        if gap > 1e-4 {
            let end = goal + (last.tip - goal).normalize() * GOAL_MARKER_RADIUS_M;
            gizmos.arrow(last.tip, end, Color::srgb(1.0, 0.85, 0.1)).with_tip_length(0.003_f32.min(gap / 2.0));
        }
    }
    // The path to trace, for path-following tasks.
    if let Some(path) = env.task().reference_path() {
        let points = path.iter().map(|p| Vec3::new(p.x as f32, p.y as f32, p.z as f32));
        gizmos.linestrip(points, Color::srgba(0.55, 0.8, 1.0, 0.8));
    }
    // The box the tip targets are clipped to.
    let c = &env.config().control;
    let (lo, hi) = (
        Vec3::new(c.workspace_min[0] as f32, c.workspace_min[1] as f32, c.workspace_min[2] as f32),
        Vec3::new(c.workspace_max[0] as f32, c.workspace_max[1] as f32, c.workspace_max[2] as f32),
    );
    gizmos.cube(Transform::from_translation((lo + hi) / 2.0).with_scale(hi - lo), Color::srgba(0.6, 0.7, 1.0, 0.25));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::viz::ViewerOptions;

    /// The scene's episode systems in an app with no window and no renderer.
    fn headless_app() -> App {
        headless_app_for(ViewerOptions::default())
    }

    fn headless_app_for(options: ViewerOptions) -> App {
        let mut app = App::new();
        app.add_plugins((MinimalPlugins, AssetPlugin::default()))
            .init_asset::<Mesh>()
            .init_asset::<StandardMaterial>()
            .init_asset::<SimpleLit>()
            .insert_resource(Sim::new(&options).unwrap())
            .insert_resource(Drawn::default())
            .add_systems(Update, (rebuild_episode, sync_links, follow_goal).chain());
        app
    }

    fn link_transforms(app: &mut App) -> Vec<(RigidBodyHandle, Transform)> {
        let mut q = app.world_mut().query::<(&BodyPose, &Transform)>();
        q.iter(app.world()).map(|(b, t)| (b.0, *t)).collect()
    }

    #[test]
    fn both_psms_of_a_bimanual_task_are_drawn_where_the_env_has_them() {
        let task = crate::task::TaskConfig::builtin("needle-regrasp").unwrap();
        let mut app = headless_app_for(ViewerOptions { task, ..ViewerOptions::default() });
        app.update();
        for _ in 0..3 {
            app.world_mut().resource_mut::<Sim>().advance().unwrap();
        }
        app.update();
        let drawn = link_transforms(&mut app);
        let sim = app.world().resource::<Sim>();
        let env = sim.env();
        for (k, psm) in env.psms().enumerate() {
            let links: Vec<_> = psm.moving_bodies().collect();
            let drawn_links: Vec<_> = drawn.iter().filter(|(h, _)| links.contains(h)).collect();
            assert_eq!(drawn_links.len(), 8, "PSM{}: six links and two blades, each drawn once", k + 1);
            for (handle, t) in drawn_links {
                assert!(t.translation.distance(transform_from_pose(env.world().bodies[*handle].position()).translation) < 1e-6);
            }
        }
    }

    #[test]
    fn the_camera_tasks_draw_the_ecm_s_four_links_where_the_env_has_them() {
        for name in ["ecm-reach", "ecm-misorient", "ecm-static-track", "ecm-active-track"] {
            let task = crate::task::TaskConfig::builtin(name).unwrap();
            let mut app = headless_app_for(ViewerOptions { task, ..ViewerOptions::default() });
            app.update();
            for _ in 0..3 {
                app.world_mut().resource_mut::<Sim>().advance().unwrap();
            }
            app.update();
            let drawn = link_transforms(&mut app);
            let markers: Vec<Vec3> = app.world_mut().query_filtered::<&Transform, With<GoalMarker>>().iter(app.world()).map(|t| t.translation).collect();
            let sim = app.world().resource::<Sim>();
            let env = sim.env();
            let ecm: Vec<_> = env.ecm().expect("the camera task builds the ECM").moving_bodies().collect();
            let links: Vec<_> = drawn.iter().filter(|(h, _)| ecm.contains(h)).collect();
            assert_eq!(links.len(), 4, "{name}: every ECM link is drawn once");
            for (handle, t) in links {
                let expected = transform_from_pose(env.world().bodies[*handle].position());
                assert!(t.translation.distance(expected.translation) < 1e-6);
            }
            // The misorientation task has no place to mark; the others mark their goal or
            // target, where it is now (the tracked target has moved since the reset).
            assert_eq!(markers.len(), if name == "ecm-misorient" { 0 } else { 2 }, "{name}");
            if let Some(goal) = env.task().goal_point(&sim.obs.desired_goal) {
                for m in &markers {
                    assert!(m.distance(Vec3::new(goal.x as f32, goal.y as f32, goal.z as f32)) < 1e-6, "{name}: marker at {m}, goal at {goal:?}");
                }
            }
            // The trail follows the camera tip when the goal is not a place.
            let tip = env.arm_state().tip;
            let last = sim.trail.last().unwrap().tip;
            if name != "ecm-reach" {
                assert!(last.distance(Vec3::new(tip.x as f32, tip.y as f32, tip.z as f32)) < 1e-6, "{name}");
            }
        }
    }

    #[test]
    fn one_entity_per_link_and_transforms_follow_the_env() {
        let mut app = headless_app();
        app.update();
        let links = crate::sim::description::RobotDescription::psm().joints.len() + 2; // six DH links and the two jaw blades
        let before = link_transforms(&mut app);
        assert_eq!(before.len(), links);
        let distinct: std::collections::HashSet<_> = before.iter().map(|(h, _)| *h).collect();
        assert_eq!(distinct.len(), links, "every link body is drawn once");

        // The oracle moves the arm; after a frame every drawn link sits at its body's pose.
        for _ in 0..5 {
            app.world_mut().resource_mut::<Sim>().advance().unwrap();
        }
        app.update();
        let after = link_transforms(&mut app);
        let sim = app.world().resource::<Sim>();
        let env = sim.env();
        for (handle, t) in &after {
            let expected = transform_from_pose(env.world().bodies[*handle].position());
            assert!(
                t.translation.distance(expected.translation) < 1e-6,
                "link {handle:?} drawn at {:?}, simulated at {:?}",
                t.translation,
                expected.translation
            );
            assert!(t.rotation.angle_between(expected.rotation) < 1e-5);
        }
        let moved = before.iter().zip(&after).map(|((_, a), (_, b))| a.translation.distance(b.translation)).fold(0.0f32, f32::max);
        assert!(moved > 1e-3, "the arm moved {moved} m in five oracle steps");
    }

    #[test]
    fn a_reset_redraws_the_episode_and_the_goal_marker_sits_on_the_goal() {
        let mut app = headless_app();
        app.update();
        let count = |app: &mut App| app.world_mut().query::<&EpisodeEntity>().iter(app.world()).count();
        let first = count(&mut app);
        app.world_mut().resource_mut::<Sim>().reset_episode(1).unwrap();
        app.update();
        assert_eq!(count(&mut app), first, "the old episode's entities are despawned, the new ones spawned");
        let goal = crate::viz::vec3_from(&app.world().resource::<Sim>().obs.desired_goal);
        let mut markers = app.world_mut().query_filtered::<&Transform, With<GoalMarker>>();
        let positions: Vec<Vec3> = markers.iter(app.world()).map(|t| t.translation).collect();
        assert_eq!(positions.len(), 2, "goal point and tolerance sphere");
        assert!(positions.iter().all(|p| p.distance(goal) < 1e-7));
    }

    #[test]
    fn trail_colours_follow_the_tip_error() {
        let mut sim = Sim::new(&ViewerOptions::default()).unwrap();
        while !sim.done {
            sim.advance().unwrap();
        }
        let trail = trail_points(&sim);
        assert_eq!(trail.len(), sim.step + 1);
        let green = error_color(0.0, sim.tolerance_m);
        // The start is far from the goal, the oracle's last step inside the tolerance.
        assert!(sim.errors_mm[0] > sim.tolerance_m as f64 * 1e3);
        assert_ne!(trail[0].1, green);
        assert_eq!(trail.last().unwrap().1, green);
        for ((_, colour), error_mm) in trail.iter().zip(&sim.errors_mm) {
            let (a, b) = (colour.to_srgba(), error_color((*error_mm * 1e-3) as f32, sim.tolerance_m).to_srgba());
            assert!((a.red - b.red).abs() + (a.green - b.green).abs() + (a.blue - b.blue).abs() < 1e-4, "{a:?} vs {b:?} at {error_mm} mm");
        }
        // Redder (less green) as the error grows beyond the tolerance.
        let g = |e: f32| error_color(e, 0.005).to_srgba().green;
        assert!(g(0.004) > g(0.006) && g(0.006) > g(0.02) && g(0.02) > g(0.05));
        assert_eq!(g(0.05), g(0.5), "saturated red from 10x the tolerance");
    }
}
