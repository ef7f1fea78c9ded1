//! Learning hot paths: policy inference (one observation, a batch) and one SAC+HER update.

use criterion::{Criterion, criterion_group, criterion_main};
use gesture_lab::env::Env;
use gesture_lab::rl::sac::{self, SacHerConfig};
use gesture_lab::task::TaskConfig;
use std::hint::black_box;

fn learning(c: &mut Criterion) {
    let task = TaskConfig::builtin("needle-reach").unwrap();
    // A short run leaves a learner with a filled replay buffer.
    let config = SacHerConfig::new().with_random_steps(500).with_eval_interval(1_000_000).with_eval_episodes(2);
    let mut trained = sac::train(&task, config, 2000, 0, 1, &mut |_| {}).unwrap();
    let policy = trained.learner.policy();
    let mut env = Env::new(task.clone()).unwrap();
    let obs = env.reset(0).unwrap();
    let batch = vec![obs.clone(); 256];

    c.bench_function("inference_1_obs", |b| b.iter(|| black_box(policy.act(std::slice::from_ref(&obs)))));
    c.bench_function("inference_256_obs", |b| b.iter(|| black_box(policy.act(&batch))));

    let reward_task = task.build_task();
    let reward = |a: &[f32], g: &[f32]| reward_task.compute_reward(a, g);
    c.bench_function("sac_her_update_batch_256", |b| b.iter(|| trained.learner.update(&reward)));
}

criterion_group!(benches, learning);
criterion_main!(benches);
