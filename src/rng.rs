//! Seeded randomness, shared by every layer: one generator type, the
//! per-episode seed sequence and the derived streams, and normal samples.
//! It sits below `sim/` so that no layer reaches upward for it.

use rand::{RngExt, SeedableRng};

/// The random number generator of every env and learner: a documented,
/// portable algorithm so that seeds reproduce across platforms and crate versions.
pub type Rng = rand::rngs::Xoshiro256PlusPlus;

pub fn rng_from_seed(seed: u64) -> Rng {
    Rng::seed_from_u64(seed)
}

/// Seed of episode `episode` of env `index` in a vector seeded with `seed`
/// (SplitMix64 finaliser: well-spread, independent of the thread count).
pub fn episode_seed(seed: u64, index: usize, episode: u64) -> u64 {
    let mut z = seed.wrapping_add((index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)).wrapping_add(episode.wrapping_mul(0xD1B5_4A32_D192_ED03));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// An independent stream for one purpose (network init, replay sampling,
/// exploration, ...) of a run seeded with `seed`; `counter` numbers its uses.
pub fn stream(seed: u64, purpose: u64, counter: u64) -> Rng {
    rng_from_seed(episode_seed(seed ^ purpose.wrapping_mul(0xA24B_AED4_963E_E407), purpose as usize, counter))
}

/// `n` standard-normal numbers (Box–Muller), from our own generator.
pub fn standard_normal(rng: &mut Rng, n: usize) -> Vec<f32> {
    box_muller(&normal_uniforms(rng, n))
}

/// The uniform draws behind `n` standard-normal numbers, in the order
/// [`standard_normal`] takes them: drawing is sequential, the transform
/// ([`box_muller`]) can then run on any thread with the same result.
pub fn normal_uniforms(rng: &mut Rng, n: usize) -> Vec<[f64; 2]> {
    (0..n).map(|_| [rng.random_range(f64::EPSILON..1.0), rng.random_range(0.0..1.0)]).collect()
}

/// Standard-normal numbers from pairs of uniform draws.
pub fn box_muller(uniforms: &[[f64; 2]]) -> Vec<f32> {
    uniforms.iter().map(|[u1, u2]| ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32).collect()
}
