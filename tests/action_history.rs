//! `control.action_history`: the last k actions in the observation, so a
//! policy can see the actions that latency still holds back.

use gesture_lab::env::{Env, PSM_ACTION_DIM as ACTION_DIM};
use gesture_lab::policy;
use gesture_lab::rl::sac::{self, SacHerConfig};
use gesture_lab::task::TaskConfig;
use gesture_lab::task::perturb::PerturbConfig;

fn needle_reach(history: usize) -> TaskConfig {
    let mut config = TaskConfig::builtin("needle-reach").unwrap();
    config.control.action_history = history;
    config
}

#[test]
fn the_observation_ends_with_the_last_actions_most_recent_first() {
    let mut plain = Env::new(needle_reach(0)).unwrap();
    let mut env = Env::new(needle_reach(2)).unwrap();
    assert_eq!(env.observation_dim(), plain.observation_dim() + 2 * ACTION_DIM);
    assert_eq!(env.observation_space().shape[0], plain.observation_space().shape[0] + 2 * ACTION_DIM);
    let base = plain.observation_dim();

    let (first, first_plain) = (env.reset(3).unwrap(), plain.reset(3).unwrap());
    assert_eq!(first.observation.len(), env.observation_dim());
    assert_eq!(first.observation[..base], first_plain.observation[..], "the task's part is unchanged");
    assert!(first.observation[base..].iter().all(|&v| v == 0.0), "no actions yet: zeros");

    let a1 = [0.5f32, -0.25, 0.125, 0.75, -1.0];
    let a2 = [2.0f32, 0.0, -0.5, 0.0, 0.25]; // 2.0 is clipped to 1.0
    let s1 = env.step(&a1).unwrap();
    let p1 = plain.step(&a1).unwrap();
    assert_eq!(s1.observation.observation[..base], p1.observation.observation[..]);
    assert_eq!(s1.observation.observation[base..base + ACTION_DIM], a1);
    assert!(s1.observation.observation[base + ACTION_DIM..].iter().all(|&v| v == 0.0));

    let s2 = env.step(&a2).unwrap();
    assert_eq!(s2.observation.observation[base..base + ACTION_DIM], [1.0, 0.0, -0.5, 0.0, 0.25], "the action applied, clipped");
    assert_eq!(s2.observation.observation[base + ACTION_DIM..], a1, "the older action moved back");
    assert_eq!(s2.reward, plain.step(&a2).unwrap().reward, "rewards ignore the history");

    // A new episode starts with an empty history again.
    let again = env.reset(4).unwrap();
    assert!(again.observation[base..].iter().all(|&v| v == 0.0));
}

#[test]
fn latency_can_vary_per_episode() {
    let mut config = needle_reach(1);
    config.perturb = PerturbConfig::default().with_overrides("latency_max_steps=1").unwrap();
    let mut env = Env::new(config).unwrap();
    let push = [1.0f32, 0.0, 0.0, 0.0, 0.0];
    let mut delayed = 0;
    let seeds = 40;
    for seed in 0..seeds {
        let start = env.reset(seed).unwrap().achieved_goal[0];
        let moved = (env.step(&push).unwrap().observation.achieved_goal[0] - start).abs();
        delayed += (moved < 1e-4) as usize;
    }
    assert!(delayed > 5 && delayed < seeds as usize - 5, "{delayed} of {seeds} episodes had one step of latency");
}

#[test]
fn a_bundle_keeps_its_action_history() {
    let dir = std::env::temp_dir().join(format!("gesture-lab-test-history-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let task = needle_reach(1);
    let config = SacHerConfig::new().with_hidden(16).with_batch_size(32).with_random_steps(100).with_eval_interval(100_000).with_eval_episodes(2);
    let trained = sac::train(&task, config.clone(), 200, 3, 1, &mut |_| {}).unwrap();
    assert_eq!(trained.learner.obs_dim, Env::new(needle_reach(0)).unwrap().observation_dim() + ACTION_DIM);
    let run = policy::RunInfo {
        seed: 3,
        env_steps: trained.env_steps,
        wall_time_s: trained.wall_s,
        evaluation: trained.curve.last().unwrap().clone(),
        kept: "last".into(),
    };
    let dims = (trained.learner.obs_dim, trained.learner.goal_dim);
    let manifest = policy::Manifest::new(&task, "sac-her", dims, 16, trained.learner.normalizer.clone(), serde_json::to_value(&config).unwrap(), run);
    policy::save(&dir, manifest, &trained.learner.policy_actor(), &trained.curve).unwrap();

    // Loading rebuilds the env from the bundle's task config, history included.
    let loaded = policy::load(&dir, Some("needle-reach")).unwrap();
    assert_eq!(loaded.manifest.task_config.control.action_history, 1);
    let ev = sac::evaluate(&loaded.policy, &loaded.manifest.task_config, 3, 0, 1).unwrap();
    assert_eq!(ev.episodes, 3);

    // Without the field the shapes no longer match, and loading says so.
    let path = dir.join(policy::MANIFEST_FILE);
    let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    m["task_config"]["control"].as_object_mut().unwrap().remove("action_history").unwrap();
    std::fs::write(&path, serde_json::to_vec(&m).unwrap()).unwrap();
    let e = policy::load(&dir, None).err().expect("refused").to_string();
    assert!(e.contains("do not match"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}
