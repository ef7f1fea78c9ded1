//! Hot paths of the simulator: one physics substep, one env step, one VecEnv step,
//! and one env step of the grasp task while the oracle holds and carries the needle.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gesture_lab::env::{Env, PSM_ACTION_DIM, VecEnv};
use gesture_lab::task::TaskConfig;
use std::hint::black_box;

fn physics_substep(c: &mut Criterion) {
    let mut env = Env::from_task("needle-reach").unwrap();
    env.reset(0).unwrap();
    // Give the servos somewhere to go, so the bench measures a moving arm.
    env.step(&[0.8, -0.5, 0.3, 0.5, 1.0]).unwrap();
    c.bench_function("physics_substep", |b| b.iter(|| env.step_physics_only()));
}

fn env_step(c: &mut Criterion) {
    let mut env = Env::from_task("needle-reach").unwrap();
    env.reset(0).unwrap();
    let actions = [[0.8f32, -0.5, 0.3, 0.5, 1.0], [-0.7, 0.6, -0.2, -0.5, -1.0]];
    let mut i = 0usize;
    let mut episodes = 0;
    c.bench_function("env_step", |b| {
        b.iter(|| {
            i += 1;
            let s = env.step(black_box(&actions[i % 2])).unwrap();
            if s.truncated {
                episodes += 1;
                env.reset(episodes).unwrap();
            }
        })
    });
}

fn vec_env_step(c: &mut Criterion) {
    let config = TaskConfig::builtin("needle-reach").unwrap();
    let mut group = c.benchmark_group("vec_env_step");
    for (envs, threads) in [(32, 1), (32, 2), (128, 2)] {
        let mut venv = VecEnv::new(&config, envs, 0, threads).unwrap();
        venv.reset().unwrap();
        let actions: Vec<f32> = (0..envs * PSM_ACTION_DIM).map(|k| ((k * 37 % 200) as f32 / 100.0) - 1.0).collect();
        group.throughput(Throughput::Elements(envs as u64));
        group.bench_function(format!("{envs}_envs_{threads}_threads"), |b| b.iter(|| venv.step(black_box(&actions)).unwrap()));
    }
    group.finish();
}

/// needle-pick in friction mode with contacts active: the oracle grasps the
/// needle first, then each iteration is one oracle step (the episode restarts
/// from the same grasped state when it ends).
fn needle_pick_grasped_step(c: &mut Criterion) {
    let mut env = Env::from_task("needle-pick").unwrap();
    let grasp = |env: &mut Env| {
        env.reset(0).unwrap();
        for _ in 0..env.config().episode.steps - 1 {
            let s = env.step(&env.oracle_action()).unwrap();
            if s.info.grasp.as_ref().is_some_and(|g| g.grasped) {
                return;
            }
        }
        panic!("the oracle did not grasp the needle");
    };
    grasp(&mut env);
    c.bench_function("needle_pick_grasped_env_step", |b| {
        b.iter(|| {
            let s = env.step(black_box(&env.oracle_action())).unwrap();
            if s.truncated || s.terminated {
                grasp(&mut env);
            }
        })
    });
}

criterion_group!(benches, physics_substep, env_step, vec_env_step, needle_pick_grasped_step);
criterion_main!(benches);
