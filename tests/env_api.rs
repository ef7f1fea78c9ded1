//! The Gym-style API: spaces, determinism, vectorisation and bad input.

use gesture_lab::Error;
use gesture_lab::env::{AutoReset, Env, PSM_ACTION_DIM as ACTION_DIM, VecEnv};
use gesture_lab::rng::rng_from_seed;
use gesture_lab::task::{TaskConfig, TaskSpec};
use rand::RngExt;

fn actions(seed: u64, n: usize) -> Vec<f32> {
    let mut rng = rng_from_seed(seed);
    (0..n * ACTION_DIM).map(|_| rng.random_range(-1.0f32..=1.0)).collect()
}

/// Every observation and reward of a run, as raw bits.
fn trajectory(env: &mut Env, seed: u64, acts: &[f32]) -> Vec<u32> {
    let mut bits: Vec<u32> = env.reset(seed).unwrap().flat().iter().map(|v| v.to_bits()).collect();
    for a in acts.chunks(ACTION_DIM) {
        let s = env.step(a).unwrap();
        bits.extend(s.observation.flat().iter().map(|v| v.to_bits()));
        bits.push(s.reward.to_bits());
        if s.truncated {
            bits.extend(env.reset(seed + 1).unwrap().flat().iter().map(|v| v.to_bits()));
        }
    }
    bits
}

#[test]
fn spaces_describe_what_step_returns() {
    let mut env = Env::from_task("needle-reach").unwrap();
    let obs_space = env.observation_space();
    let act_space = env.action_space();
    assert_eq!(act_space.shape, vec![5]);
    assert!(act_space.low.iter().all(|&v| v == -1.0) && act_space.high.iter().all(|&v| v == 1.0));
    let obs = env.reset(1).unwrap();
    assert_eq!(obs.flat().len(), obs_space.shape[0]);
    assert_eq!(obs.achieved_goal.len(), 3);
    assert_eq!(obs.desired_goal.len(), 3);
    let step = env.step(&[0.1, 0.2, -0.3, 0.0, 0.5]).unwrap();
    assert_eq!(step.observation.flat().len(), obs_space.shape[0]);
    assert!(step.info.tip_error_mm.is_finite() && step.info.tip_error_mm > 0.0);
}

#[test]
fn same_seed_and_actions_give_a_bit_identical_trajectory() {
    let acts = actions(5, 120);
    let a = trajectory(&mut Env::from_task("needle-reach").unwrap(), 42, &acts);
    let b = trajectory(&mut Env::from_task("needle-reach").unwrap(), 42, &acts);
    assert_eq!(a, b);
    let c = trajectory(&mut Env::from_task("needle-reach").unwrap(), 43, &acts);
    assert_ne!(a, c, "another seed gives another episode");
    // Reusing one env gives the same result as a fresh one.
    let mut env = Env::from_task("needle-reach").unwrap();
    trajectory(&mut env, 3, &acts[..50]);
    assert_eq!(trajectory(&mut env, 42, &acts), a);
}

fn vec_run(threads: usize, steps: usize) -> Vec<u32> {
    let config = TaskConfig::builtin("needle-reach").unwrap();
    let mut venv = VecEnv::new(&config, 6, 9, threads).unwrap();
    assert_eq!(venv.threads(), threads);
    let mut bits: Vec<u32> = venv.reset().unwrap().iter().flat_map(|o| o.flat()).map(|v| v.to_bits()).collect();
    let mut resets = 0;
    for t in 0..steps {
        let s = venv.step(&actions(t as u64, 6)).unwrap();
        for (i, o) in s.observations.iter().enumerate() {
            bits.extend(o.flat().iter().map(|v| v.to_bits()));
            bits.push(s.rewards[i].to_bits());
            if let Some(f) = &s.final_observations[i] {
                resets += 1;
                assert!(s.truncated[i]);
                bits.extend(f.flat().iter().map(|v| v.to_bits()));
            }
        }
    }
    assert_eq!(resets, 6 * (steps / 50), "every env auto-resets after 50 steps");
    bits
}

#[test]
fn vec_env_is_identical_on_one_and_two_threads() {
    let one = vec_run(1, 110);
    let two = vec_run(2, 110);
    assert_eq!(one, two);
}

/// Per env, the episodes as (observations, rewards) bits, ended by the
/// step that terminated or truncated them.
fn episodes_by_env(mode: AutoReset, steps: usize) -> Vec<Vec<Vec<u32>>> {
    let mut config = TaskConfig::builtin("needle-reach").unwrap();
    config.episode.steps = 7;
    let mut venv = VecEnv::new(&config, 3, 11, 2).unwrap();
    venv.set_autoreset(mode);
    let bits = |o: &gesture_lab::task::Observation| o.flat().iter().map(|v| v.to_bits()).collect::<Vec<u32>>();
    let mut episodes: Vec<Vec<Vec<u32>>> = venv.reset().unwrap().iter().map(|o| vec![bits(o)]).collect();
    // Each env's actions follow its own steps, so both modes give it the same ones.
    let mut env_steps = [0u64; 3];
    for _ in 0..steps {
        let acts: Vec<f32> = (0..3).flat_map(|i| actions(env_steps[i] * 3 + i as u64, 1)).collect();
        let s = venv.step(&acts).unwrap();
        for i in 0..3 {
            env_steps[i] += s.stepped[i] as u64;
            let current = episodes[i].last_mut().unwrap();
            if !s.stepped[i] {
                // Next-step autoreset: this call only reset env i.
                assert_eq!(mode, AutoReset::NextStep);
                assert!(s.rewards[i] == 0.0 && !s.terminated[i] && !s.truncated[i] && s.final_observations[i].is_none());
                episodes[i].push(bits(&s.observations[i]));
                continue;
            }
            let last = s.final_observations[i].as_ref().unwrap_or(&s.observations[i]);
            current.extend(bits(last));
            current.push(s.rewards[i].to_bits());
            if s.final_observations[i].is_some() {
                episodes[i].push(bits(&s.observations[i]));
            }
        }
    }
    episodes
}

#[test]
fn next_step_autoreset_runs_the_same_episodes_one_call_later() {
    // Same-step: 7 steps per episode; next-step: 7 steps and one reset call.
    let same = episodes_by_env(AutoReset::SameStep, 21);
    let next = episodes_by_env(AutoReset::NextStep, 24);
    for (s, n) in same.iter().zip(&next) {
        assert_eq!(s.len(), 4, "three whole episodes and a new one");
        assert_eq!(&s[..3], &n[..3]);
        assert_eq!(s[3], n[3], "the fourth episode starts the same");
    }
    assert_ne!(same[0][0], same[1][0], "the envs run different episodes");
}

#[test]
fn config_overrides_merge_table_by_table_and_name_a_bad_key() {
    let overrides = |text: &str| TaskSpec { task: Some("needle-reach".into()), overrides: Some(text.parse().unwrap()), ..Default::default() }.load();
    let config = overrides("episode = { steps = 20 }\nphysics = { substeps = 6 }").unwrap();
    let builtin = TaskConfig::builtin("needle-reach").unwrap();
    assert_eq!((config.episode.steps, config.physics.substeps), (20, 6));
    assert_eq!(config.episode.success_tolerance_m, builtin.episode.success_tolerance_m, "the rest of the table is kept");
    let err = overrides("episode = { stepz = 20 }").unwrap_err().to_string();
    assert!(err.contains("stepz") && err.contains("config overrides"), "{err}");
    let err = overrides("episode = { steps = 0 }").unwrap_err().to_string();
    assert!(err.contains("episode.steps = 0"), "{err}");
    let err = overrides("episode = 3").unwrap_err().to_string();
    assert!(err.contains("`episode` is a table"), "{err}");
}

#[test]
fn vec_env_envs_run_different_episodes() {
    let config = TaskConfig::builtin("needle-reach").unwrap();
    let mut venv = VecEnv::new(&config, 3, 0, 1).unwrap();
    let obs = venv.reset().unwrap();
    assert_ne!(obs[0].desired_goal, obs[1].desired_goal);
    assert_ne!(obs[1].desired_goal, obs[2].desired_goal);
}

#[test]
fn bad_actions_are_errors_that_name_the_value() {
    let mut env = Env::from_task("needle-reach").unwrap();
    let err = env.step(&[0.0; 5]).unwrap_err();
    assert!(err.to_string().contains("before reset"), "{err}");
    env.reset(0).unwrap();
    let before = env.arm_state();
    for (action, needle) in [
        (vec![f32::NAN, 0.0, 0.0, 0.0, 0.0], "action[0] = NaN"),
        (vec![0.0, 0.0, f32::INFINITY, 0.0, 0.0], "action[2] = inf"),
        (vec![0.0, 0.0, 0.0, 0.0, f32::NEG_INFINITY], "action[4] = -inf"),
        (vec![0.0; 4], "expected 5 numbers"),
        (vec![0.0; 6], "got 6"),
    ] {
        let err = env.step(&action).unwrap_err();
        assert!(matches!(err, Error::InvalidAction(_)));
        assert!(err.to_string().contains(needle), "`{err}` should contain `{needle}`");
    }
    // A rejected action changes nothing.
    assert_eq!(env.arm_state(), before);
    assert_eq!(env.episode_steps(), 0);
    // Out-of-range finite actions are clipped and flagged.
    let s = env.step(&[3.0, 0.0, 0.0, 0.0, 0.0]).unwrap();
    assert!(s.info.action_clipped);
}

#[test]
fn vec_env_rejects_a_bad_action_before_stepping_any_env() {
    let config = TaskConfig::builtin("needle-reach").unwrap();
    let mut venv = VecEnv::new(&config, 3, 0, 2).unwrap();
    venv.reset().unwrap();
    let states: Vec<_> = venv.envs().iter().map(|e| e.arm_state()).collect();
    let mut acts = vec![0.5; 15];
    acts[12] = f32::NAN;
    let err = venv.step(&acts).unwrap_err();
    assert!(err.to_string().contains("env 2") && err.to_string().contains("NaN"), "{err}");
    let after: Vec<_> = venv.envs().iter().map(|e| e.arm_state()).collect();
    assert_eq!(states, after);
    assert!(venv.step(&[0.0; 14]).unwrap_err().to_string().contains("expected 15"));
}

#[test]
fn unknown_tasks_and_impossible_configs_are_clear_errors() {
    let err = Env::from_task("needle-grab").err().unwrap();
    assert!(matches!(err, Error::UnknownTask { .. }));
    assert!(err.to_string().contains("needle-grab") && err.to_string().contains("needle-reach"), "{err}");

    let text = TaskConfig::builtin("needle-reach").map(|_| gesture_lab::task::TASKS[0].default_config).unwrap();
    for (from, to, needle) in [
        ("dt = 0.0125", "dt = 0.0", "physics.dt = 0"),
        ("dt = 0.0125", "dt = -0.01", "physics.dt = -0.01"),
        ("substeps = 4", "substeps = 0", "physics.substeps = 0"),
        ("steps = 50", "steps = 0", "episode.steps = 0"),
        ("max_step_m = 0.01", "max_step_m = -1.0", "control.max_step_m = -1"),
        ("task = \"needle-reach\"", "task = \"peg-juggle\"", "peg-juggle"),
        ("reward = \"sparse\"", "reward = \"shaped\"", "shaped"),
        ("gravity = 9.81", "gravity = 9.81\nsolver = 3", "solver"),
    ] {
        assert!(text.contains(from), "{from}");
        let bad = text.replacen(from, to, 1);
        let err = TaskConfig::from_toml_str(&bad, "bad.toml").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(needle), "`{msg}` should name `{needle}`");
    }
    let err = TaskConfig::load(std::path::Path::new("no/such/task.toml")).unwrap_err();
    assert!(err.to_string().contains("no/such/task.toml"), "{err}");
}

#[test]
fn a_physics_blow_up_truncates_the_episode_and_is_reported() {
    let mut config = TaskConfig::builtin("needle-reach").unwrap();
    // Absurd, uncompensated gravity tears the arm apart.
    config.physics.gravity = 1e30;
    config.physics.gravity_compensation = 0.0;
    let mut env = Env::new(config).unwrap();
    env.reset(0).unwrap();
    let mut faulted = false;
    for _ in 0..50 {
        let s = env.step(&[0.0; 5]).unwrap();
        if s.info.physics_fault {
            assert!(s.truncated && !s.info.success);
            faulted = true;
            break;
        }
    }
    assert!(faulted, "the blow-up was not reported");
    // The env stays usable: a reset starts a clean episode.
    assert!(env.step(&[0.0; 5]).is_err());
    env.reset(1).unwrap();
}
