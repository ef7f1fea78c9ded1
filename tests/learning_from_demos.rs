//! Learning from demonstrations: behaviour cloning and demo-augmented
//! SAC+HER train from recorded files, repeat bit for bit, really use the
//! demonstrations, and resume only with the same ones.

use std::path::PathBuf;

use gesture_lab::policy::demos::{load_for_training, record_oracle};
use gesture_lab::rl::bc::{self, BcConfig};
use gesture_lab::rl::her::DemoBuffer;
use gesture_lab::rl::sac::{self, Checkpointing, SacHerConfig, evaluate};
use gesture_lab::rl::{AlgoConfig, train};
use gesture_lab::task::TaskConfig;

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gesture-lab-lfd-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// `episodes` oracle demonstrations of needle-reach, through a file as a user would pass them.
fn needle_reach_demos(episodes: usize, seed: u64) -> (TaskConfig, DemoBuffer) {
    let task = TaskConfig::builtin("needle-reach").unwrap();
    let path = temp(&format!("demos-{episodes}-{seed}")).join("demos.json");
    record_oracle(&task, episodes, seed, 100, &mut |_, _| {}).unwrap().save(&path).unwrap();
    let (buffer, _) = load_for_training(std::slice::from_ref(&path), &task).unwrap();
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
    (task, buffer)
}

fn small_sac() -> SacHerConfig {
    SacHerConfig::new().with_hidden(16).with_batch_size(32).with_random_steps(0).with_bc_pretrain_updates(20).with_eval_interval(100_000).with_eval_episodes(2)
}

#[test]
fn demo_augmented_sac_repeats_bit_for_bit_and_really_uses_the_demonstrations() {
    let (task, demos) = needle_reach_demos(3, 1);
    let run = |demos: Option<&DemoBuffer>, config: SacHerConfig| {
        let t = sac::train_with_checkpoints(&task, config, 400, 3, 1, None, demos, &mut |_| {}).unwrap();
        assert!(t.learner.updates > 0);
        (t.learner.actor_parameters(), t.learner.last_bc)
    };
    let (a, bc_a) = run(Some(&demos), small_sac());
    let (b, bc_b) = run(Some(&demos), small_sac());
    assert!(a == b && bc_a == bc_b, "same seed, config and demonstrations: same weights");
    assert!((0.0..=1.0).contains(&bc_a[1]), "the Q-filter's pass rate: {bc_a:?}");
    // Without demonstrations, or without the Q-filter, the weights differ.
    let (none, bc_none) = run(None, small_sac());
    assert_ne!(a, none);
    assert_eq!(bc_none, [0.0, 0.0]);
    let (unfiltered, bc_unfiltered) = run(Some(&demos), small_sac().with_q_filter(false));
    assert_ne!(a, unfiltered);
    assert_eq!(bc_unfiltered[1], 1.0, "without the filter every demonstration row counts");
    assert!(bc_unfiltered[0] > 0.0, "a behaviour-cloning loss: {bc_unfiltered:?}");
}

#[test]
fn a_checkpoint_resumes_only_with_the_same_demonstrations() {
    let (task, demos) = needle_reach_demos(2, 2);
    let (_, other) = needle_reach_demos(2, 9);
    let config = small_sac();
    let whole = sac::train_with_checkpoints(&task, config.clone(), 600, 5, 1, None, Some(&demos), &mut |_| {}).unwrap();

    let dir = temp("resume");
    let cp = Checkpointing { dir: dir.clone(), every: 200, resume: true };
    sac::train_with_checkpoints(&task, config.clone(), 400, 5, 1, Some(&cp), Some(&demos), &mut |_| {}).unwrap();
    for wrong in [None, Some(&other)] {
        let e = sac::train_with_checkpoints(&task, config.clone(), 600, 5, 1, Some(&cp), wrong, &mut |_| {}).err().expect("refused").to_string();
        assert!(e.contains("other demonstrations"), "{e}");
    }
    let resumed = sac::train_with_checkpoints(&task, config, 600, 5, 1, Some(&cp), Some(&demos), &mut |_| {}).unwrap();
    assert_eq!(resumed.learner.actor_parameters(), whole.learner.actor_parameters());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn behaviour_cloning_of_oracle_demonstrations_reaches_the_needle() {
    let (task, demos) = needle_reach_demos(100, 4);
    let config = BcConfig::new().with_eval_interval(1_000_000).with_eval_episodes(5);
    let run = || bc::train(&task, config.clone(), &demos, 4000, 0, 1, &mut |_| {}).unwrap();
    let cloned = run();
    assert_eq!(cloned.updates, 4000);
    assert_eq!(cloned.curve.last().unwrap().updates, Some(4000));
    assert_eq!(gesture_lab::rl::nets::parameters(&cloned.actor), gesture_lab::rl::nets::parameters(&run().actor), "BC repeats bit for bit");
    let ev = evaluate(&cloned.policy(), &task, 40, 11, 1).unwrap();
    assert!(ev.success_rate >= 0.8, "a policy cloned from 100 oracle episodes reaches in {:.0} % of episodes", ev.success_rate * 100.0);
}

#[test]
fn behaviour_cloning_with_the_goal_offset_input_reads_the_achieved_goal() {
    let (task, demos) = needle_reach_demos(20, 4);
    let config = BcConfig::new().with_goal_offset_input(true).with_eval_interval(1_000_000).with_eval_episodes(2);
    let outcome = train(&task, &AlgoConfig::Bc(config), 300, 0, 1, None, Some(&demos), &mut |_| {}).unwrap();
    assert!(outcome.goal_offset, "the outcome (and so the bundle) records the input");
    let policy = outcome.policy();
    assert_eq!(policy.input_width(), demos.obs_dim + 2 * demos.goal_dim);
    // The same observation and goal from another achieved goal: only the
    // offset part of the input differs, so a different action shows it is read.
    let obs = gesture_lab::env::Env::new(task).unwrap().reset(0).unwrap();
    let mut elsewhere = obs.clone();
    elsewhere.achieved_goal[0] += 0.01;
    assert_ne!(policy.act(std::slice::from_ref(&obs)), policy.act(std::slice::from_ref(&elsewhere)));
}

#[test]
fn algorithms_refuse_missing_or_unusable_demonstrations() {
    let (task, demos) = needle_reach_demos(1, 3);
    let bc = AlgoConfig::Bc(BcConfig::new());
    let e = train(&task, &bc, 10, 0, 1, None, None, &mut |_| {}).err().unwrap().to_string();
    assert!(e.contains("--demos"), "{e}");
    let ppo = AlgoConfig::new(gesture_lab::rl::Algo::Ppo, None).unwrap();
    let e = train(&task, &ppo, 10, 0, 1, None, Some(&demos), &mut |_| {}).err().unwrap().to_string();
    assert!(e.contains("does not learn from demonstrations"), "{e}");
    // Demonstrations of another shape than the env's.
    let pick = TaskConfig::builtin("needle-pick").unwrap();
    let e = sac::train_with_checkpoints(&pick, small_sac(), 10, 0, 1, None, Some(&demos), &mut |_| {}).err().unwrap().to_string();
    assert!(e.contains("demonstrations have observation"), "{e}");
}

#[test]
fn during_the_critic_warm_up_the_pretrained_actor_and_its_inputs_stay_fixed() {
    let (task, demos) = needle_reach_demos(3, 5);
    let config = small_sac().with_critic_warmup_updates(1_000);
    // The actor as BC pre-training leaves it, built the way training builds it.
    let mut pretrained = sac::SacHer::new(config.clone(), &task, demos.obs_dim, demos.goal_dim, 3);
    pretrained.set_demonstrations(demos.clone());
    pretrained.pretrain_actor(config.bc_pretrain_updates);
    let trained = sac::train_with_checkpoints(&task, config.clone(), 400, 3, 1, None, Some(&demos), &mut |_| {}).unwrap();
    assert!(trained.learner.updates > 0 && trained.learner.last_losses[0] != 0.0, "the critics learned");
    assert_eq!(trained.learner.actor_parameters(), pretrained.actor_parameters(), "the actor is held during the warm-up");
    assert_eq!(trained.learner.normalizer, pretrained.normalizer, "the demonstrations' input statistics stay fixed");
    // Without the warm-up the actor moves.
    let moving = sac::train_with_checkpoints(&task, small_sac(), 400, 3, 1, None, Some(&demos), &mut |_| {}).unwrap();
    assert_ne!(moving.learner.actor_parameters(), pretrained.actor_parameters());
}
