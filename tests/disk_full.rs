//! A full disk while a checkpoint is written (an injected write error: the
//! file gets half its bytes, then "No space left on device"). Alone in its
//! test binary, because the injection is process-wide.

use gesture_lab::files::inject_full_disk;
use gesture_lab::rl::checkpoint;
use gesture_lab::rl::sac::{self, Checkpointing, SacHerConfig};
use gesture_lab::task::TaskConfig;

#[test]
fn a_full_disk_while_a_checkpoint_is_written_keeps_the_previous_one_and_resume_continues_from_it() {
    let task = TaskConfig::builtin("needle-reach").unwrap();
    let config = SacHerConfig::new().with_hidden(16).with_batch_size(32).with_random_steps(200).with_eval_interval(100_000).with_eval_episodes(2);
    let whole = sac::train(&task, config.clone(), 1200, 5, 1, &mut |_| {}).unwrap().learner.actor_parameters();

    let dir = std::env::temp_dir().join(format!("gesture-lab-disk-full-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cp = Checkpointing { dir: dir.clone(), every: 400, resume: true };
    sac::train_with_checkpoints(&task, config.clone(), 800, 5, 1, Some(&cp), None, &mut |_| {}).unwrap();
    let saved_at = |dir| checkpoint::load(dir, &task, &config, 5, None).unwrap().expect("a checkpoint").1.env_steps;
    assert_eq!(saved_at(&dir), 800);

    // The run goes on; its next checkpoint meets a full disk.
    inject_full_disk(Some("checkpoint.tmp/critic.bpk"));
    let result = sac::train_with_checkpoints(&task, config.clone(), 1200, 5, 1, Some(&cp), None, &mut |_| {});
    inject_full_disk(None);
    let err = result.err().expect("the save fails").to_string();
    assert!(err.contains("checkpoint.tmp/critic.bpk") && err.contains("No space left on device"), "{err}");

    // The previous checkpoint is whole, and resuming from it ends with the
    // weights of a run never interrupted.
    assert_eq!(saved_at(&dir), 800);
    let resumed = sac::train_with_checkpoints(&task, config.clone(), 1200, 5, 1, Some(&cp), None, &mut |_| {}).unwrap();
    assert_eq!(resumed.learner.actor_parameters(), whole);
    let _ = std::fs::remove_dir_all(&dir);
}
