//! GestureTrace: the reference really moves, the oracle traces it, and a
//! lazy policy fails the tracking bar.

use gesture_lab::cli::run_demo;
use gesture_lab::env::Env;
use gesture_lab::task::TaskConfig;
use gesture_lab::task::gesture_trace::{GestureTrace, PathFamily};

#[test]
fn oracle_traces_500_seeded_paths_within_the_bar() {
    let config = TaskConfig::builtin("gesture-trace").unwrap();
    let report = run_demo(&config, 500, 3).unwrap();
    assert!(report.success_rate >= 0.95, "success {}", report.success_rate);
    let rms = report.mean_tracking_rms_mm.unwrap();
    let max = report.mean_tracking_max_mm.unwrap();
    assert!(rms > 0.0 && rms <= 2.0, "rms {rms}");
    assert!(max <= 5.0, "max {max}");
}

#[test]
fn standing_still_fails_the_tracking_bar() {
    let mut env = Env::from_task("gesture-trace").unwrap();
    let start = env.reset(4).unwrap();
    let mut last = None;
    let mut mid_goal = Vec::new();
    for k in 0..80 {
        let s = env.step(&[0.0; 5]).unwrap();
        if k == 10 {
            mid_goal = s.observation.desired_goal.clone();
        }
        last = Some(s);
    }
    let last = last.unwrap();
    let t = last.info.tracking.clone().unwrap();
    assert_eq!(t.completion, 1.0);
    assert!(!last.info.success);
    assert!(t.rms_error_mm > 2.0 && t.max_error_mm > 5.0, "{t:?}");
    // Eleven steps in, the reference is about 11 mm along the path (a closed
    // figure-eight ends where it started, so compare with the middle).
    let moved: f32 = start.desired_goal.iter().zip(&mid_goal).map(|(a, b)| (a - b) * (a - b)).sum::<f32>().sqrt();
    assert!(moved > 0.003, "the reference moved {moved} m");
}

#[test]
fn every_path_family_appears_with_its_configured_size() {
    let config = TaskConfig::builtin("gesture-trace").unwrap();
    let mut task = GestureTrace::new(&config).unwrap();
    let mut seen = std::collections::HashSet::new();
    for seed in 0..60 {
        let mut world = config.physics.new_world();
        let start = gesture_lab::task::Task::reset(&mut task, &mut world, &mut gesture_lab::rng::rng_from_seed(seed));
        let path = &task.path;
        let family = path.family.unwrap();
        seen.insert(format!("{family:?}"));
        let len_mm = path.length_m * 1e3;
        match family {
            PathFamily::Line => assert!((20.0..=40.0).contains(&len_mm), "line {len_mm}"),
            // 120-200 degrees of an 8-15 mm radius.
            PathFamily::Arc => assert!((16.7..=52.4).contains(&len_mm), "arc {len_mm}"),
            PathFamily::FigureEight => assert!(len_mm > 20.0 && len_mm < 60.0, "figure-eight {len_mm}"),
        }
        assert_eq!(start.tip, path.points[0]);
        // One control step moves the reference 1 mm along the path.
        let step = (task.reference(1) - task.reference(0)).norm();
        assert!((step - 0.001).abs() < 1e-4, "{step}");
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
}

#[test]
fn the_reference_path_starts_at_the_first_reference_and_moves_at_the_set_speed() {
    let config = TaskConfig::builtin("gesture-trace").unwrap();
    let params: gesture_lab::task::gesture_trace::GestureTraceConfig = config.table("gesture_trace").unwrap();
    let step_m = params.speed_m_s * config.physics.control_period();
    let mut env = Env::new(config).unwrap();
    for seed in 0..20 {
        let obs = env.reset(seed).unwrap();
        let path = env.task().reference_path().expect("gesture-trace has a path");
        assert!(path.len() > 10);
        let start = &path[0];
        let goal = &obs.desired_goal;
        let d0 = ((start.x - goal[0] as f64).powi(2) + (start.y - goal[1] as f64).powi(2) + (start.z - goal[2] as f64).powi(2)).sqrt();
        assert!(d0 < 1e-6, "seed {seed}: the path starts {d0} m from the first reference");
        let longest = path.windows(2).map(|w| (w[1] - w[0]).norm()).fold(0.0, f64::max);
        assert!(longest <= step_m * 1.001, "seed {seed}: a step of {longest} m, faster than {step_m} m per step");
    }
    let mut reach = Env::from_task("needle-reach").unwrap();
    reach.reset(0).unwrap();
    assert!(reach.task().reference_path().is_none());
}
