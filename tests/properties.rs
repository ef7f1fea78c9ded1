//! Property tests: random and extreme action sequences on every task, and
//! random task configs. Cases come from a fixed seed, so every run checks
//! the same ones (and a failure names a case that reproduces).

use gesture_lab::env::{Env, PSM_ACTION_DIM as ACTION_DIM};
use gesture_lab::task::{TASKS, TaskConfig};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

fn config(cases: u32) -> Config {
    Config { cases, rng_seed: RngSeed::Fixed(0x6e57_ab1e), failure_persistence: None, ..Config::default() }
}

/// Action sequences of three kinds: anything in [−1.5, 1.5] (out-of-range
/// values are clipped), long runs of ±1, and signs alternating every step.
fn action_sequences(len: usize) -> impl Strategy<Value = Vec<[f32; ACTION_DIM]>> {
    let uniform = prop::collection::vec(prop::array::uniform5(-1.5f32..1.5), len);
    let runs = prop::collection::vec((prop::array::uniform5(prop::bool::ANY), 1usize..30), 1..6)
        .prop_map(move |runs| runs.iter().flat_map(|(signs, n)| std::iter::repeat_n(signs.map(|s| if s { 1.0 } else { -1.0 }), *n)).take(len).collect());
    let alternating =
        prop::array::uniform5(prop::bool::ANY).prop_map(move |signs| (0..len).map(|t| signs.map(|s| if s ^ (t % 2 == 0) { 1.0 } else { -1.0 })).collect());
    prop_oneof![uniform, runs, alternating]
}

/// One PSM-shaped action for every instrument of `env` (the ECM takes the first four numbers).
fn for_each_instrument(env: &Env, a: &[f32]) -> Vec<f32> {
    env.instrument_kinds().iter().flat_map(|kind| a[..kind.action_dim()].to_vec()).collect()
}

proptest! {
    #![proptest_config(config(40))]

    #[test]
    fn any_actions_keep_every_task_finite(task in 0..TASKS.len(), seed in any::<u64>(), actions in action_sequences(40)) {
        let mut env = Env::from_task(TASKS[task].name).unwrap();
        let obs = env.reset(seed).unwrap();
        prop_assert!(obs.flat().iter().all(|v| v.is_finite()));
        for a in &actions {
            let s = env.step(&for_each_instrument(&env, a)).unwrap();
            prop_assert!(s.observation.flat().iter().all(|v| v.is_finite()), "non-finite observation on {}", TASKS[task].name);
            prop_assert!(s.reward.is_finite());
            // A diverged simulation truncates the episode, flagged.
            if s.info.physics_fault {
                prop_assert!(s.truncated);
            } else {
                prop_assert!(s.info.tip_error_mm.is_finite());
            }
            if s.terminated || s.truncated {
                env.reset(seed.wrapping_add(1)).unwrap();
            }
        }
    }
}

/// One override: a table, a key, and a value within (or just past) its documented range.
fn overrides() -> impl Strategy<Value = Vec<(&'static str, &'static str, f64)>> {
    let one = prop_oneof![
        (1u32..400).prop_map(|v| ("episode", "steps", v as f64)),
        (1e-4f64..0.05).prop_map(|v| ("episode", "success_tolerance_m", v)),
        (1e-4f64..0.02).prop_map(|v| ("control", "max_step_m", v)),
        (0.5f64..30.0).prop_map(|v| ("control", "max_yaw_step_deg", v)),
        (1.0f64..180.0).prop_map(|v| ("control", "yaw_limit_deg", v)),
        (1u32..16).prop_map(|v| ("physics", "substeps", v as f64)),
        (0.001f64..0.06).prop_map(|v| ("physics", "dt", v)),
        (1u32..8).prop_map(|v| ("physics", "solver_iterations", v as f64)),
        (0.0f64..2.2).prop_map(|v| ("physics", "gravity_compensation", v)),
        (0.0f64..1.0).prop_map(|v| ("perturb", "tremor_mm", v)),
        (0.0f64..1.2).prop_map(|v| ("perturb", "mass_spread", v)),
        (0u32..12).prop_map(|v| ("perturb", "latency_steps", v as f64)),
    ];
    prop::collection::vec(one, 1..4)
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn random_configs_step_or_are_refused_by_field(task in 0..TASKS.len(), changes in overrides(), seed in any::<u64>()) {
        let base = TaskConfig::builtin(TASKS[task].name).unwrap();
        let mut table = toml::Table::new();
        for (section, key, value) in &changes {
            let entry = table.entry(section.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
            let integer = matches!(*key, "steps" | "substeps" | "solver_iterations" | "latency_steps");
            let v = if integer { toml::Value::Integer(*value as i64) } else { toml::Value::Float(*value) };
            entry.as_table_mut().unwrap().insert(key.to_string(), v);
        }
        match base.with_overrides(&table).and_then(Env::new) {
            Ok(mut env) => {
                let obs = env.reset(seed);
                // A start pose out of reach, or a starting grasp that cannot settle, under
                // these settings is refused by name, never a panic.
                if let Err(e) = &obs {
                    prop_assert!(e.to_string().contains("start pose") || e.to_string().contains("starting grasp"), "{e}");
                    return Ok(());
                }
                for _ in 0..3 {
                    let s = env.step(&for_each_instrument(&env, &[0.3, -0.2, 0.1, 0.5, -1.0])).unwrap();
                    prop_assert!(s.observation.flat().iter().all(|v| v.is_finite()));
                }
            }
            Err(e) => {
                let message = e.to_string();
                let named = changes.iter().any(|(section, key, _)| message.contains(&format!("{section}.{key}")) || message.contains(key));
                prop_assert!(named, "`{message}` names none of {changes:?}");
            }
        }
    }
}
