//! `bench soak`: long runs that must neither panic nor grow. Random actions
//! on a `VecEnv` for millions of steps, or a long training, with the
//! resident memory sampled along the way.

use std::time::Instant;

use anyhow::Result;
use rand::RngExt;
use serde::{Deserialize, Serialize};

use crate::env::{AutoReset, VecEnv};
use crate::rng::rng_from_seed;
use crate::task::TaskConfig;

/// Resident memory of this process (MiB), from `/proc/self/statm`; `None`
/// where there is no procfs.
pub fn resident_mib() -> Option<f64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: f64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // The kernel's page size; 4 KiB on every Linux this runs on, read where libc is linked.
    #[cfg(target_os = "linux")]
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as f64;
    #[cfg(not(target_os = "linux"))]
    let page = 4096.0;
    Some(pages * page / (1024.0 * 1024.0))
}

/// Resident memory at one point of a run.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub struct RssSample {
    pub env_steps: u64,
    pub wall_s: f64,
    pub rss_mib: f64,
}

/// The RSS curve of a run, and its growth after warm-up.
#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct MemoryCurve {
    pub samples: Vec<RssSample>,
    /// The sample that ends the warm-up (the first tenth of the run).
    pub warm_rss_mib: f64,
    pub end_rss_mib: f64,
    pub peak_rss_mib: f64,
    /// (peak after warm-up − warm) / warm, in %.
    pub growth_after_warmup_pct: f64,
    /// The same over the second half of the run: allocators and burn's
    /// buffers reach their high-water marks late in some runs, so a leak
    /// shows as growth here too, a long warm-up does not.
    pub growth_second_half_pct: f64,
}

impl MemoryCurve {
    /// Samples every `every` env steps (and at the first call).
    fn sample(&mut self, env_steps: u64, wall_s: f64, every: u64) {
        let due = self.samples.last().is_none_or(|s| env_steps >= s.env_steps + every);
        if let (true, Some(rss_mib)) = (due, resident_mib()) {
            self.samples.push(RssSample { env_steps, wall_s, rss_mib });
        }
    }

    /// From the first sample at or after `env_steps`: that sample's RSS,
    /// the peak after it, and the growth to the peak in %.
    fn growth_from(&self, env_steps: u64) -> Option<(f64, f64, f64)> {
        let mut after = self.samples.iter().filter(|s| s.env_steps >= env_steps).map(|s| s.rss_mib);
        let start = after.next()?;
        let peak = after.fold(start, f64::max);
        Some((start, peak, 100.0 * (peak - start) / start))
    }

    fn finish(mut self, total_steps: u64) -> Self {
        if let (Some((warm, peak, growth)), Some(end)) = (self.growth_from(total_steps / 10), self.samples.last()) {
            (self.warm_rss_mib, self.end_rss_mib, self.peak_rss_mib, self.growth_after_warmup_pct) = (warm, end.rss_mib, peak, growth);
        }
        if let Some((_, _, growth)) = self.growth_from(total_steps / 2) {
            self.growth_second_half_pct = growth;
        }
        self
    }
}

/// A physics fault met on the way: enough to replay its episode.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct FaultRecord {
    pub env: usize,
    /// The VecEnv's episode counter of that env: `episode_seed(seed, env, episode)` replays it.
    pub episode: u64,
    pub step_in_episode: u64,
}

/// One task's random-action soak.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct SoakReport {
    pub task: String,
    pub grasp: Option<String>,
    pub env_steps: u64,
    pub envs: usize,
    pub threads: usize,
    pub seed: u64,
    pub wall_s: f64,
    pub env_steps_per_s: f64,
    pub episodes: u64,
    pub physics_faults: u64,
    /// The first faults (at most 20), to replay and explain.
    pub first_faults: Vec<FaultRecord>,
    /// Non-finite observations or rewards seen (must be 0: a diverged step is a fault).
    pub non_finite_outputs: u64,
    pub memory: MemoryCurve,
}

const RSS_SAMPLES: u64 = 100;

/// Steps `envs` envs of `config` with uniform random actions until `steps`
/// env steps are done, on `threads` threads, resetting episodes as they end.
pub fn soak_random(config: &TaskConfig, steps: u64, envs: usize, threads: usize, seed: u64, on_progress: &mut dyn FnMut(u64)) -> Result<SoakReport> {
    let mut venv = VecEnv::new(config, envs.max(1), seed, threads)?;
    venv.set_autoreset(AutoReset::SameStep);
    venv.reset()?;
    let n = venv.num_envs();
    let mut rng = rng_from_seed(seed ^ 0x50a4);
    let mut actions = vec![0.0f32; n * venv.action_dim()];
    let mut in_episode = vec![0u64; n];
    let (mut done, mut episodes, mut faults, mut non_finite) = (0u64, 0u64, 0u64, 0u64);
    let mut first_faults = Vec::new();
    let mut memory = MemoryCurve::default();
    let every = (steps / RSS_SAMPLES).max(1);
    let t0 = Instant::now();
    while done < steps {
        actions.iter_mut().for_each(|a| *a = rng.random_range(-1.0f32..=1.0));
        let step = venv.step(&actions)?;
        for i in 0..n {
            in_episode[i] += 1;
            let finite = step.rewards[i].is_finite() && step.observations[i].flat().iter().all(|v| v.is_finite());
            non_finite += u64::from(!finite);
            if step.infos[i].physics_fault {
                faults += 1;
                if first_faults.len() < 20 {
                    first_faults.push(FaultRecord { env: i, episode: venv.episode_counters()[i].saturating_sub(1), step_in_episode: in_episode[i] });
                }
            }
            if step.terminated[i] || step.truncated[i] {
                episodes += 1;
                in_episode[i] = 0;
            }
        }
        done += n as u64;
        memory.sample(done, t0.elapsed().as_secs_f64(), every);
        on_progress(done);
    }
    let wall_s = t0.elapsed().as_secs_f64();
    Ok(SoakReport {
        task: config.task.clone(),
        grasp: config.physics.arm_contacts.then(|| config.physics.grasp.to_string()),
        env_steps: done,
        envs: n,
        threads: venv.threads(),
        seed,
        wall_s,
        env_steps_per_s: done as f64 / wall_s,
        episodes,
        physics_faults: faults,
        first_faults,
        non_finite_outputs: non_finite,
        memory: memory.finish(done),
    })
}

/// A long training's speed and memory.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct SoakTrainReport {
    pub task: String,
    pub algo: String,
    pub env_steps: u64,
    pub threads: usize,
    pub seed: u64,
    pub wall_s: f64,
    pub env_steps_per_s: f64,
    pub final_success_rate: f64,
    pub memory: MemoryCurve,
}

/// Trains `config` on `task` for `steps` env steps, sampling memory at
/// each progress report.
pub fn soak_train(task: &TaskConfig, config: &crate::rl::AlgoConfig, steps: u64, threads: usize, seed: u64) -> Result<SoakTrainReport> {
    let mut memory = MemoryCurve::default();
    let every = (steps / RSS_SAMPLES).max(1);
    let t0 = Instant::now();
    memory.sample(0, 0.0, every);
    let trained = crate::rl::train(task, config, steps, seed, threads, None, None, &mut |p| memory.sample(p.env_steps, t0.elapsed().as_secs_f64(), every))?;
    // The end of the run, however close to the last sample.
    memory.sample(trained.env_steps, t0.elapsed().as_secs_f64(), 0);
    let wall_s = t0.elapsed().as_secs_f64();
    Ok(SoakTrainReport {
        task: task.task.clone(),
        algo: config.algo().name().into(),
        env_steps: trained.env_steps,
        threads,
        seed,
        wall_s,
        env_steps_per_s: trained.env_steps as f64 / wall_s,
        final_success_rate: trained.curve.last().map_or(0.0, |e| e.success_rate),
        memory: memory.finish(trained.env_steps),
    })
}
