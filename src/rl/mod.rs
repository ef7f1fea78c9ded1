//! Layer 4: learning. The algorithms (SAC+HER, PPO in burn) build on the
//! pieces here: the observation normaliser that belongs to a policy, and
//! the hindsight replay buffer.

pub mod her;
pub mod normalizer;
