//! Perturbations really perturb, only what they should, and repeat per seed.

use gesture_lab::env::Env;
use gesture_lab::task::TaskConfig;
use gesture_lab::task::perturb::PerturbConfig;

fn env_with(spec: &str) -> Env {
    let mut config = TaskConfig::builtin("needle-reach").unwrap();
    config.perturb = PerturbConfig::default().with_overrides(spec).unwrap();
    Env::new(config).unwrap()
}

fn run(env: &mut Env, seed: u64, actions: &[[f32; 5]]) -> (Vec<f64>, Vec<Vec<f32>>) {
    env.reset(seed).unwrap();
    let mut errors = Vec::new();
    let mut observed = Vec::new();
    for a in actions {
        let s = env.step(a).unwrap();
        errors.push(s.info.tip_error_mm);
        observed.push(s.observation.achieved_goal.clone());
    }
    (errors, observed)
}

fn wiggle() -> Vec<[f32; 5]> {
    (0..30).map(|k| [((k % 5) as f32 - 2.0) / 2.0, 0.3, -0.2, 0.0, 0.0]).collect()
}

#[test]
fn observation_noise_changes_what_is_seen_not_what_happens() {
    let (true_clean, seen_clean) = run(&mut env_with(""), 3, &wiggle());
    let (true_noisy, seen_noisy) = run(&mut env_with("obs_noise_mm=0.5"), 3, &wiggle());
    assert_eq!(true_clean, true_noisy, "the arm moved the same");
    let diff: f32 = seen_clean.iter().zip(&seen_noisy).flat_map(|(a, b)| a.iter().zip(b).map(|(x, y)| (x - y).abs())).sum::<f32>() / 90.0;
    assert!(diff > 1e-4 && diff < 2e-3, "mean observed difference {diff} m for 0.5 mm noise");
}

#[test]
fn tremor_shakes_a_resting_tip() {
    let still = vec![[0.0f32; 5]; 40];
    let (_, calm) = run(&mut env_with(""), 1, &still);
    let (_, shaky) = run(&mut env_with("tremor_mm=1.0"), 1, &still);
    let spread = |obs: &[Vec<f32>]| {
        let xs: Vec<f32> = obs[10..].iter().map(|o| o[0]).collect();
        let mean = xs.iter().sum::<f32>() / xs.len() as f32;
        (xs.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / xs.len() as f32).sqrt()
    };
    assert!(spread(&calm) < 1e-5, "{}", spread(&calm));
    assert!(spread(&shaky) > 1e-4, "{}", spread(&shaky));
}

#[test]
fn latency_delays_the_effect_of_an_action() {
    let mut actions = vec![[0.0f32; 5]; 6];
    actions[0] = [1.0, 0.0, 0.0, 0.0, 0.0];
    let (_, now) = run(&mut env_with(""), 2, &actions);
    let (_, late) = run(&mut env_with("latency_steps=2"), 2, &actions);
    let moved = |obs: &[Vec<f32>], k: usize| (obs[k][0] - obs[0][0]).abs();
    assert!((now[0][0] - late[0][0]).abs() > 5e-3, "without latency the first step moves the tip");
    assert!(moved(&late, 1) < 1e-4, "with 2 steps of latency nothing has happened yet");
    assert!(moved(&late, 3) > 5e-3, "then the action arrives");
}

#[test]
fn dynamics_randomisation_differs_per_episode_and_repeats_per_seed() {
    let spec = "mass_spread=0.5,stiffness_spread=0.5,damping_spread=0.5";
    let (a, _) = run(&mut env_with(spec), 5, &wiggle());
    let (b, _) = run(&mut env_with(spec), 5, &wiggle());
    assert_eq!(a, b, "the same seed draws the same dynamics");
    let (clean, _) = run(&mut env_with(""), 5, &wiggle());
    assert_ne!(a, clean, "randomised dynamics move the arm differently");
}

#[test]
fn perturbation_specs_are_checked() {
    let p = PerturbConfig::default().with_overrides("randomize,tremor_mm=0.7").unwrap();
    assert_eq!(p.tremor_mm, 0.7);
    assert_eq!(p.mass_spread, PerturbConfig::randomize_preset().mass_spread);
    for (spec, needle) in [("tremor=1", "tremor"), ("obs_noise_mm=-1", "obs_noise_mm = -1"), ("mass_spread=1.5", "mass_spread"), ("latency_steps", "key=value")]
    {
        let e = PerturbConfig::default().with_overrides(spec).unwrap_err().to_string();
        assert!(e.contains(needle), "`{e}` should name `{needle}`");
    }
}
