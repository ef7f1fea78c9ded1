//! Episode replay buffer with Hindsight Experience Replay (the "future"
//! strategy): a stored transition is replayed with, as its goal, a point
//! the tip actually reached later in the same episode, and its reward is
//! recomputed for that goal with the task's `compute_reward`.

use rand::RngExt;

use crate::rng::Rng;

/// One finished episode, flattened row by row.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Episode {
    /// T + 1 observations (without goals).
    pub observations: Vec<f32>,
    /// T + 1 achieved goals.
    pub achieved_goals: Vec<f32>,
    /// T desired goals.
    pub desired_goals: Vec<f32>,
    /// T actions.
    pub actions: Vec<f32>,
}

/// A training batch, each field `batch × width`, row-major.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Batch {
    pub observations: Vec<f32>,
    pub goals: Vec<f32>,
    pub actions: Vec<f32>,
    /// With n-step returns, the discounted sum of the row's rewards.
    pub rewards: Vec<f32>,
    /// The observation the critics bootstrap from (n steps on, or the
    /// episode's last).
    pub next_observations: Vec<f32>,
    /// Env steps from the row's observation to its next one (1 to n).
    pub bootstrap_steps: Vec<f32>,
    /// The achieved goal with the row's observation, and with its next one.
    pub achieved_goals: Vec<f32>,
    pub next_achieved_goals: Vec<f32>,
}

/// How many env steps of reward a replayed row sums before the critics
/// bootstrap, and their discount. `NStep::ONE` is the one-step TD target.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NStep {
    pub steps: usize,
    pub gamma: f32,
}

impl NStep {
    pub const ONE: NStep = NStep { steps: 1, gamma: 1.0 };
}

/// A ring buffer of fixed-length episodes.
pub struct HerBuffer {
    pub obs_dim: usize,
    pub goal_dim: usize,
    pub action_dim: usize,
    /// Control steps per episode (T).
    pub horizon: usize,
    capacity: usize,
    episodes: Vec<Episode>,
    next: usize,
}

impl HerBuffer {
    /// `capacity` is in transitions; the buffer keeps that many / T episodes.
    pub fn new(obs_dim: usize, goal_dim: usize, action_dim: usize, horizon: usize, capacity: usize) -> Self {
        assert!(horizon > 0);
        Self { obs_dim, goal_dim, action_dim, horizon, capacity: (capacity / horizon).max(1), episodes: Vec::new(), next: 0 }
    }

    /// Whether `other` holds episodes of the same sizes in the same number
    /// (a buffer read from a checkpoint must fit the learner's).
    pub fn same_shape(&self, other: &HerBuffer) -> bool {
        (self.obs_dim, self.goal_dim, self.action_dim, self.horizon, self.capacity)
            == (other.obs_dim, other.goal_dim, other.action_dim, other.horizon, other.capacity)
    }

    /// Stored transitions.
    pub fn len(&self) -> usize {
        self.episodes.len() * self.horizon
    }

    pub fn is_empty(&self) -> bool {
        self.episodes.is_empty()
    }

    pub fn push(&mut self, episode: Episode) {
        let t = self.horizon;
        assert_eq!(episode.observations.len(), (t + 1) * self.obs_dim, "observations");
        assert_eq!(episode.achieved_goals.len(), (t + 1) * self.goal_dim, "achieved goals");
        assert_eq!(episode.desired_goals.len(), t * self.goal_dim, "desired goals");
        assert_eq!(episode.actions.len(), t * self.action_dim, "actions");
        if self.episodes.len() < self.capacity {
            self.episodes.push(episode);
        } else {
            self.episodes[self.next] = episode;
        }
        self.next = (self.next + 1) % self.capacity;
    }

    /// The buffer as bytes (little-endian), for checkpoints.
    pub fn to_bytes(&self) -> Vec<u8> {
        let header = [self.obs_dim, self.goal_dim, self.action_dim, self.horizon, self.capacity, self.episodes.len(), self.next];
        let mut out = Vec::new();
        out.extend_from_slice(b"GLHER001");
        for h in header {
            out.extend_from_slice(&(h as u64).to_le_bytes());
        }
        for ep in &self.episodes {
            for part in [&ep.observations, &ep.achieved_goals, &ep.desired_goals, &ep.actions] {
                for v in part.iter() {
                    out.extend_from_slice(&v.to_le_bytes());
                }
            }
        }
        out
    }

    /// Reads what [`Self::to_bytes`] wrote; `None` if the bytes are not such a buffer.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let body = bytes.strip_prefix(b"GLHER001")?;
        let word = |i: usize| -> Option<usize> { Some(u64::from_le_bytes(body.get(i * 8..i * 8 + 8)?.try_into().ok()?) as usize) };
        let [obs_dim, goal_dim, action_dim, horizon, capacity, count, next] = [word(0)?, word(1)?, word(2)?, word(3)?, word(4)?, word(5)?, word(6)?];
        let t = horizon;
        // Checked: the header's words come from a file (overflow was found by fuzzing).
        let rows = t.checked_add(1)?;
        let sizes = [rows.checked_mul(obs_dim)?, rows.checked_mul(goal_dim)?, t.checked_mul(goal_dim)?, t.checked_mul(action_dim)?];
        let per_episode = sizes.iter().try_fold(0usize, |sum, &n| sum.checked_add(n))?;
        let floats = &body[56..];
        if horizon == 0 || count > capacity || next >= capacity.max(1) || Some(floats.len()) != count.checked_mul(per_episode).and_then(|n| n.checked_mul(4)) {
            return None;
        }
        let mut values = floats.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap()));
        let mut take = |n: usize| -> Vec<f32> { values.by_ref().take(n).collect() };
        let episodes = (0..count)
            .map(|_| Episode { observations: take(sizes[0]), achieved_goals: take(sizes[1]), desired_goals: take(sizes[2]), actions: take(sizes[3]) })
            .collect();
        Some(Self { obs_dim, goal_dim, action_dim, horizon, capacity, episodes, next })
    }

    /// Samples `n` transitions; each has its goal replaced by a future
    /// achieved goal with probability `future_p` (k = 4 relabels per real
    /// goal is future_p = 1 − 1/(1 + 4) = 0.8).
    pub fn sample(&self, n: usize, future_p: f64, rng: &mut Rng, reward: impl Fn(&[f32], &[f32]) -> f32) -> Batch {
        self.sample_returns(n, future_p, NStep::ONE, rng, &reward)
    }

    /// [`Self::sample`] with `returns.steps`-step returns.
    pub fn sample_returns(&self, n: usize, future_p: f64, returns: NStep, rng: &mut Rng, reward: &dyn Fn(&[f32], &[f32]) -> f32) -> Batch {
        assert!(!self.is_empty(), "sample from an empty buffer");
        let mut b = Batch::with_capacity(n, self.obs_dim, self.goal_dim, self.action_dim);
        sample_into(&mut b, &self.episodes, n, future_p, returns, rng, reward, (self.obs_dim, self.goal_dim, self.action_dim));
        b
    }
}

impl Batch {
    pub fn with_capacity(n: usize, obs_dim: usize, goal_dim: usize, action_dim: usize) -> Self {
        Batch {
            observations: Vec::with_capacity(n * obs_dim),
            goals: Vec::with_capacity(n * goal_dim),
            actions: Vec::with_capacity(n * action_dim),
            rewards: Vec::with_capacity(n),
            next_observations: Vec::with_capacity(n * obs_dim),
            bootstrap_steps: Vec::with_capacity(n),
            achieved_goals: Vec::with_capacity(n * goal_dim),
            next_achieved_goals: Vec::with_capacity(n * goal_dim),
        }
    }

    /// Rows in the batch.
    pub fn len(&self) -> usize {
        self.rewards.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rewards.is_empty()
    }
}

/// Appends `n` HER-relabelled transitions drawn uniformly from `episodes`
/// (each of any length: its own number of actions) to `b`.
#[allow(clippy::too_many_arguments)]
fn sample_into(
    b: &mut Batch,
    episodes: &[Episode],
    n: usize,
    future_p: f64,
    returns: NStep,
    rng: &mut Rng,
    reward: &dyn Fn(&[f32], &[f32]) -> f32,
    (od, gd, ad): (usize, usize, usize),
) {
    for _ in 0..n {
        let ep = &episodes[rng.random_range(0..episodes.len())];
        let t_max = ep.actions.len() / ad;
        let t = rng.random_range(0..t_max);
        let goal = if rng.random_bool(future_p) {
            let future = rng.random_range(t + 1..=t_max);
            &ep.achieved_goals[future * gd..(future + 1) * gd]
        } else {
            &ep.desired_goals[t * gd..(t + 1) * gd]
        };
        // Rewards of the steps t .. t + m, cut short by the episode's end.
        let m = returns.steps.max(1).min(t_max - t);
        let reward_at = |k: usize| reward(&ep.achieved_goals[(t + k + 1) * gd..(t + k + 2) * gd], goal);
        // Summed from the last step back; one step is the reward itself, bit for bit.
        let mut sum = reward_at(m - 1);
        for k in (0..m - 1).rev() {
            sum = reward_at(k) + returns.gamma * sum;
        }
        b.observations.extend_from_slice(&ep.observations[t * od..(t + 1) * od]);
        b.next_observations.extend_from_slice(&ep.observations[(t + m) * od..(t + m + 1) * od]);
        b.actions.extend_from_slice(&ep.actions[t * ad..(t + 1) * ad]);
        b.goals.extend_from_slice(goal);
        b.rewards.push(sum);
        b.bootstrap_steps.push(m as f32);
        b.achieved_goals.extend_from_slice(&ep.achieved_goals[t * gd..(t + 1) * gd]);
        b.next_achieved_goals.extend_from_slice(&ep.achieved_goals[(t + m) * gd..(t + m + 1) * gd]);
    }
}

/// Demonstration episodes, kept apart from the agent's own replay and
/// sampled into every batch (Nair et al. 2018). Episodes may have any
/// length (a teleop recording with early termination); HER relabels them
/// as it does the agent's.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DemoBuffer {
    pub obs_dim: usize,
    pub goal_dim: usize,
    pub action_dim: usize,
    episodes: Vec<Episode>,
}

impl DemoBuffer {
    /// Checks every episode's shape (T + 1 observations and achieved goals,
    /// T desired goals and actions, T ≥ 1).
    pub fn new(obs_dim: usize, goal_dim: usize, action_dim: usize, episodes: Vec<Episode>) -> crate::Result<Self> {
        for (i, ep) in episodes.iter().enumerate() {
            let t = ep.actions.len() / action_dim;
            let ok = t > 0
                && ep.actions.len() == t * action_dim
                && ep.observations.len() == (t + 1) * obs_dim
                && ep.achieved_goals.len() == (t + 1) * goal_dim
                && ep.desired_goals.len() == t * goal_dim;
            if !ok {
                return Err(crate::Error::Invalid(format!("demonstration episode {i}: its rows do not have the env's shapes")));
            }
        }
        Ok(Self { obs_dim, goal_dim, action_dim, episodes })
    }

    pub fn episodes(&self) -> &[Episode] {
        &self.episodes
    }

    /// Transitions held.
    pub fn len(&self) -> usize {
        self.episodes.iter().map(|e| e.actions.len() / self.action_dim).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.episodes.is_empty()
    }

    /// Appends `n` HER-relabelled demonstration transitions to `b`.
    pub fn sample_into(&self, b: &mut Batch, n: usize, future_p: f64, rng: &mut Rng, reward: &dyn Fn(&[f32], &[f32]) -> f32) {
        self.sample_returns_into(b, n, future_p, NStep::ONE, rng, reward);
    }

    /// [`Self::sample_into`] with `returns.steps`-step returns.
    pub fn sample_returns_into(&self, b: &mut Batch, n: usize, future_p: f64, returns: NStep, rng: &mut Rng, reward: &dyn Fn(&[f32], &[f32]) -> f32) {
        assert!(!self.is_empty(), "sample from no demonstrations");
        sample_into(b, &self.episodes, n, future_p, returns, rng, reward, (self.obs_dim, self.goal_dim, self.action_dim));
    }

    /// A digest of every value, so that a resumed run can check it was
    /// given the same demonstrations.
    pub fn sha256(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for ep in &self.episodes {
            for part in [&ep.observations, &ep.achieved_goals, &ep.desired_goals, &ep.actions] {
                h.update((part.len() as u64).to_le_bytes());
                for v in part.iter() {
                    h.update(v.to_le_bytes());
                }
            }
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::rng_from_seed;
    use crate::task::goal_distance;

    /// An episode on a line: observation = achieved goal = step index.
    fn line_episode(t: usize, goal: f32) -> Episode {
        Episode {
            observations: (0..=t).map(|i| i as f32).collect(),
            achieved_goals: (0..=t).map(|i| i as f32).collect(),
            desired_goals: vec![goal; t],
            actions: vec![1.0; t],
        }
    }

    fn sparse(a: &[f32], g: &[f32]) -> f32 {
        -((goal_distance(a, g) > 0.5) as i32 as f32)
    }

    #[test]
    fn relabelled_goals_come_from_the_future_of_the_same_episode() {
        let mut buf = HerBuffer::new(1, 1, 1, 10, 1000);
        buf.push(line_episode(10, 100.0));
        let mut rng = rng_from_seed(3);
        let b = buf.sample(2000, 1.0, &mut rng, sparse);
        let mut hits = 0;
        for i in 0..2000 {
            let (t, g) = (b.observations[i], b.goals[i]);
            assert!(g > t && g <= 10.0, "goal {g} not after step {t}");
            assert_eq!(b.next_observations[i], t + 1.0);
            // The reward is recomputed for the new goal.
            assert_eq!(b.rewards[i], if g == t + 1.0 { 0.0 } else { -1.0 });
            hits += (b.rewards[i] == 0.0) as usize;
        }
        assert!(hits > 0, "some relabelled goals are reached at once");
    }

    /// n-step rows sum the discounted rewards of the next n steps for their
    /// (relabelled) goal and bootstrap from n steps on, or from the
    /// episode's end when that comes first.
    #[test]
    fn n_step_rows_sum_discounted_rewards_up_to_the_episodes_end() {
        let mut buf = HerBuffer::new(1, 1, 1, 10, 1000);
        buf.push(line_episode(10, 100.0));
        let returns = NStep { steps: 3, gamma: 0.5 };
        let b = buf.sample_returns(2000, 0.8, returns, &mut rng_from_seed(5), &sparse);
        let mut cut_short = 0;
        for i in 0..2000 {
            let (t, g) = (b.observations[i], b.goals[i]);
            let m = b.bootstrap_steps[i];
            assert_eq!(m, 3f32.min(10.0 - t));
            assert_eq!(b.next_observations[i], t + m);
            // Step k reaches t + k + 1: reward 0 there only if that is the goal.
            let expected: f32 = (0..m as usize).map(|k| 0.5f32.powi(k as i32) * if t + k as f32 + 1.0 == g { 0.0 } else { -1.0 }).sum();
            assert_eq!(b.rewards[i], expected, "row at step {t}, goal {g}");
            cut_short += (m < 3.0) as usize;
        }
        assert!(cut_short > 0, "rows near the end bootstrap sooner");
        // One step is the plain TD row.
        let one = buf.sample_returns(100, 0.5, NStep::ONE, &mut rng_from_seed(6), &sparse);
        assert_eq!(one, buf.sample(100, 0.5, &mut rng_from_seed(6), sparse));
        assert!(one.bootstrap_steps.iter().all(|&m| m == 1.0));
    }

    #[test]
    fn without_relabelling_the_original_goal_is_kept() {
        let mut buf = HerBuffer::new(1, 1, 1, 5, 100);
        buf.push(line_episode(5, 100.0));
        let b = buf.sample(50, 0.0, &mut rng_from_seed(0), sparse);
        assert!(b.goals.iter().all(|&g| g == 100.0));
        assert!(b.rewards.iter().all(|&r| r == -1.0));
    }

    #[test]
    fn the_ring_keeps_the_newest_episodes_and_sampling_repeats_per_seed() {
        let mut buf = HerBuffer::new(1, 1, 1, 5, 10); // two episodes
        for g in [1.0, 2.0, 3.0] {
            buf.push(line_episode(5, g));
        }
        assert_eq!(buf.len(), 10);
        let b = buf.sample(200, 0.0, &mut rng_from_seed(9), sparse);
        assert!(b.goals.iter().all(|&g| g == 2.0 || g == 3.0), "the oldest episode was overwritten");
        assert_eq!(b, buf.sample(200, 0.0, &mut rng_from_seed(9), sparse));
        // A checkpointed buffer samples the same batches.
        let bytes = buf.to_bytes();
        let back = HerBuffer::from_bytes(&bytes).unwrap();
        assert_eq!(back.sample(200, 0.5, &mut rng_from_seed(4), sparse), buf.sample(200, 0.5, &mut rng_from_seed(4), sparse));
        assert!(HerBuffer::from_bytes(&bytes[..bytes.len() - 3]).is_none());
    }
}
