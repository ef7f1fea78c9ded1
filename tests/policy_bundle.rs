//! Policy bundles: round trips, and every way a bad file is refused.

use std::path::{Path, PathBuf};

use gesture_lab::env::Env;
use gesture_lab::policy::{self, MANIFEST_FILE};
use gesture_lab::rl::GoalPolicy;
use gesture_lab::rl::sac::{self, SacHerConfig};
use gesture_lab::task::TaskConfig;

/// A tiny, quickly trained bundle in a fresh temp directory, and the trained policy.
fn small_bundle(name: &str) -> (PathBuf, GoalPolicy) {
    small_bundle_seeded(name, 3)
}

fn small_bundle_seeded(name: &str, seed: u64) -> (PathBuf, GoalPolicy) {
    let dir = std::env::temp_dir().join(format!("gesture-lab-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let task = TaskConfig::builtin("needle-reach").unwrap();
    let config = SacHerConfig::new().with_hidden(16).with_batch_size(32).with_random_steps(100).with_eval_interval(100_000).with_eval_episodes(2);
    let trained = sac::train(&task, config.clone(), 200, seed, 1, &mut |_| {}).unwrap();
    let run = policy::RunInfo {
        seed,
        env_steps: trained.env_steps,
        wall_time_s: trained.wall_s,
        evaluation: trained.curve.last().unwrap().clone(),
        kept: "last".into(),
    };
    let dims = (trained.learner.obs_dim, trained.learner.goal_dim);
    let hyper = serde_json::to_value(&config).unwrap();
    let manifest = policy::Manifest::new(&task, "sac-her", dims, 16, trained.learner.normalizer.clone(), hyper, run);
    policy::save(&dir, manifest, &trained.learner.policy_actor(), &trained.curve).unwrap();
    // The curve plot is a real PNG.
    let png = std::fs::read(dir.join(policy::CURVE_PLOT)).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 5_000, "{} bytes", png.len());
    (dir, GoalPolicy::new(trained.learner.policy_actor(), trained.learner.normalizer.clone(), dims.0, dims.1))
}

fn copy_bundle(from: &Path, name: &str) -> PathBuf {
    let to = from.with_file_name(format!("{}-{name}", from.file_name().unwrap().to_string_lossy()));
    let _ = std::fs::remove_dir_all(&to);
    std::fs::create_dir_all(&to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
    to
}

fn load_error(dir: &Path, task: Option<&str>) -> String {
    match policy::load(dir, task) {
        Ok(_) => panic!("{} loaded, but should have been refused", dir.display()),
        Err(e) => e.to_string(),
    }
}

fn edit_manifest(dir: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let path = dir.join(MANIFEST_FILE);
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(&path, serde_json::to_string(&v).unwrap()).unwrap();
}

#[test]
fn a_bundle_round_trips_and_bad_bundles_are_refused_by_name() {
    let (dir, trained) = small_bundle("roundtrip");
    let loaded = policy::load(&dir, Some("needle-reach")).unwrap();

    // The loaded policy acts exactly like the trained one in memory, on many observations.
    let mut env = Env::from_task("needle-reach").unwrap();
    let observations: Vec<_> = (0..20).map(|s| env.reset(s).unwrap()).collect();
    assert_eq!(loaded.policy.act(&observations), trained.act(&observations));
    let obs = observations[5].clone();
    let a = loaded.policy.act(std::slice::from_ref(&obs));
    assert_eq!(a.len(), 5);
    assert!(a.iter().all(|v| v.is_finite() && v.abs() <= 1.0));

    // A truncated weights file.
    let weights_name = policy::weights_path(&dir).unwrap().file_name().unwrap().to_string_lossy().into_owned();
    assert!(weights_name.starts_with("actor-") && weights_name.ends_with(".bpk"), "{weights_name}");
    let d = copy_bundle(&dir, "truncated");
    let w = d.join(&weights_name);
    let bytes = std::fs::read(&w).unwrap();
    std::fs::write(&w, &bytes[..bytes.len() / 2]).unwrap();
    let e = load_error(&d, None);
    assert!(e.contains(&weights_name) && e.contains("truncated"), "{e}");

    // One flipped byte.
    let d = copy_bundle(&dir, "flipped");
    let w = d.join(&weights_name);
    let mut bytes = std::fs::read(&w).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x10;
    std::fs::write(&w, &bytes).unwrap();
    let e = load_error(&d, None);
    assert!(e.contains(&weights_name) && e.contains("checksum"), "{e}");

    // Another format version.
    let d = copy_bundle(&dir, "version");
    edit_manifest(&d, |v| v["format_version"] = 99.into());
    let e = load_error(&d, None);
    assert!(e.contains(MANIFEST_FILE) && e.contains("format version 99"), "{e}");

    // A foreign file where the manifest should be.
    let d = copy_bundle(&dir, "foreign");
    std::fs::write(d.join(MANIFEST_FILE), "{\"name\": \"some other tool\"}").unwrap();
    let e = load_error(&d, None);
    assert!(e.contains("not a gesture-lab policy manifest"), "{e}");
    std::fs::write(d.join(MANIFEST_FILE), [0u8, 159, 146, 150]).unwrap();
    let e = load_error(&d, None);
    assert!(e.contains(MANIFEST_FILE), "{e}");

    // Trained for another task.
    let e = load_error(&dir, Some("peg-transfer"));
    assert!(e.contains("trained for task `needle-reach`, not `peg-transfer`"), "{e}");

    // Other shapes.
    let d = copy_bundle(&dir, "shapes");
    edit_manifest(&d, |v| v["observation_dim"] = 15.into());
    let e = load_error(&d, None);
    assert!(e.contains("shapes") && e.contains("15"), "{e}");

    // A weights file outside the bundle (absolute, or up with `..`), even one that exists.
    let d = copy_bundle(&dir, "escape");
    std::fs::copy(d.join(&weights_name), d.with_file_name("outside.bpk")).unwrap();
    for escape in ["../outside.bpk", "/etc/passwd", "sub/../actor.bpk", ""] {
        edit_manifest(&d, |v| v["weights_file"] = escape.into());
        let e = load_error(&d, None);
        assert!(e.contains("must be a file name inside the bundle directory"), "{escape}: {e}");
    }
    let _ = std::fs::remove_file(d.with_file_name("outside.bpk"));

    // A missing file.
    let d = copy_bundle(&dir, "missing");
    std::fs::remove_file(d.join(&weights_name)).unwrap();
    let e = load_error(&d, None);
    assert!(e.contains(&weights_name) && e.contains("cannot read"), "{e}");
    let e = load_error(Path::new("/nonexistent/policy"), None);
    assert!(e.contains("/nonexistent/policy/policy.json"), "{e}");

    for name in ["truncated", "flipped", "version", "foreign", "shapes", "escape", "missing"] {
        let _ = std::fs::remove_dir_all(dir.with_file_name(format!("{}-{name}", dir.file_name().unwrap().to_string_lossy())));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_ppo_bundle_round_trips() {
    use gesture_lab::rl::PolicyNet;
    use gesture_lab::rl::ppo::{self, PpoConfig};
    let dir = std::env::temp_dir().join(format!("gesture-lab-test-ppo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut task = TaskConfig::builtin("needle-reach").unwrap();
    task.episode.reward = gesture_lab::task::RewardMode::Dense;
    let config = PpoConfig::new().with_envs(2).with_rollout_steps(50).with_hidden(16).with_eval_interval(1_000_000).with_eval_episodes(2);
    let trained = ppo::train(&task, config.clone(), 200, 1, 1, &mut |_| {}).unwrap();
    let actor = PolicyNet::Gaussian(burn::module::Module::valid(&trained.agent.actor));
    let run = policy::RunInfo {
        seed: 1,
        env_steps: trained.env_steps,
        wall_time_s: trained.wall_s,
        evaluation: trained.curve.last().unwrap().clone(),
        kept: "last".into(),
    };
    let hyper = serde_json::to_value(&config).unwrap();
    let manifest = policy::Manifest::new(&task, "ppo", (trained.obs_dim, trained.goal_dim), 16, trained.normalizer.clone(), hyper, run);
    policy::save(&dir, manifest, &actor, &trained.curve).unwrap();
    let loaded = policy::load(&dir, Some("needle-reach")).unwrap();
    assert_eq!(loaded.manifest.network.kind, "gaussian-mlp");
    assert_eq!(loaded.policy.actor().parameters(), actor.parameters());
    let mut env = Env::new(task).unwrap();
    let obs = env.reset(2).unwrap();
    assert_eq!(loaded.policy.act(std::slice::from_ref(&obs)), trained.policy().act(std::slice::from_ref(&obs)));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_same_run_writes_the_same_bytes_and_a_bad_out_fails_before_training() {
    use gesture_lab::policy::training::TrainRequest;
    use gesture_lab::rl::Algo;
    let base = std::env::temp_dir().join(format!("gesture-lab-test-same-bytes-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let request = |out: PathBuf| TrainRequest {
        steps: 200,
        seed: 5,
        threads: 1,
        config: Some(("hidden = 16\nbatch_size = 32\nrandom_steps = 100\neval_interval = 100000\neval_episodes = 2".into(), "test".into())),
        out,
        ..TrainRequest::new(TaskConfig::builtin("needle-reach").unwrap(), Algo::SacHer)
    };
    let mut progress = 0;
    for name in ["a", "b"] {
        request(base.join(name)).run(&mut |_| {}, &mut |_| progress += 1).unwrap();
    }
    assert!(progress > 0);
    // burn numbers parameters at random; the bundle must not carry that.
    let weights = |d: &str| std::fs::read(policy::weights_path(&base.join(d)).unwrap()).unwrap();
    let (a, b) = (weights("a"), weights("b"));
    assert_eq!(a, b, "the same seed and config write the same weights file");
    let sha = |d: &str| policy::load(&base.join(d), None).unwrap().manifest.weights_sha256;
    assert_eq!(sha("a"), sha("b"));

    // A file where the bundle's directory should go: refused before any training.
    let file = base.join("a-file");
    std::fs::write(&file, b"not a directory").unwrap();
    let mut progress = 0;
    let err = request(file.clone()).run(&mut |_| {}, &mut |_| progress += 1).err().unwrap().to_string();
    assert!(err.contains(&file.display().to_string()) && err.contains("is a file"), "{err}");
    assert_eq!(progress, 0, "nothing was trained");
    std::fs::remove_dir_all(&base).unwrap();
}

#[test]
fn a_full_disk_while_a_bundle_is_saved_leaves_the_previous_bundle_whole() {
    let (dir, first) = small_bundle("diskfull");
    let first_weights = policy::weights_path(&dir).unwrap();
    // Another run's weights into the same directory, with the disk full
    // when the manifest (the commit) is written: /dev/full refuses every byte.
    let (other_dir, second) = small_bundle_seeded("diskfull-other", 4);
    let other = policy::load(&other_dir, None).unwrap();
    std::os::unix::fs::symlink("/dev/full", dir.join(format!("{MANIFEST_FILE}.tmp"))).unwrap();
    let curve = [other.manifest.evaluation.clone()];
    let err = policy::save(&dir, other.manifest.clone(), second.actor(), &curve).err().unwrap().to_string();
    assert!(err.contains(MANIFEST_FILE), "{err}");
    // The previous bundle still loads, with its own weights.
    let mut env = Env::from_task("needle-reach").unwrap();
    let observations: Vec<_> = (0..8).map(|s| env.reset(s).unwrap()).collect();
    let reloaded = policy::load(&dir, None).unwrap();
    assert_eq!(reloaded.policy.act(&observations), first.act(&observations));
    assert_eq!(policy::weights_path(&dir).unwrap(), first_weights);

    // With room again, the save goes through and the old weights file goes.
    std::fs::remove_file(dir.join(format!("{MANIFEST_FILE}.tmp"))).unwrap();
    policy::save(&dir, other.manifest.clone(), second.actor(), &curve).unwrap();
    assert_eq!(policy::load(&dir, None).unwrap().policy.act(&observations), second.act(&observations));
    assert!(!first_weights.exists(), "the previous weights file was removed");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&other_dir);
}

/// A policy that sees the goal minus the achieved goal (`goal_offset_input`)
/// says so in its bundle, loads back acting exactly as trained, and really
/// reads the achieved goal. A bundle whose manifest drops the flag no longer
/// fits its weights and is refused, naming the file.
#[test]
fn a_goal_offset_policy_round_trips_and_reads_the_achieved_goal() {
    let task = TaskConfig::builtin("needle-reach").unwrap();
    let config = SacHerConfig::new()
        .with_hidden(16)
        .with_batch_size(32)
        .with_random_steps(100)
        .with_eval_interval(100_000)
        .with_eval_episodes(2)
        .with_goal_offset_input(true);
    let outcome = gesture_lab::rl::train(&task, &gesture_lab::rl::AlgoConfig::SacHer(config.clone()), 300, 4, 1, None, None, &mut |_| {}).unwrap();
    let dir = std::env::temp_dir().join(format!("gesture-lab-test-goal-offset-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    policy::save_trained(&dir, &outcome, &gesture_lab::rl::AlgoConfig::SacHer(config), 4).unwrap();
    let loaded = policy::load(&dir, Some("needle-reach")).unwrap();
    assert!(loaded.manifest.network.goal_offset && loaded.policy.goal_offset);
    assert_eq!(loaded.policy.input_width(), 2 * loaded.manifest.goal_dim + loaded.manifest.observation_dim);

    let mut env = Env::new(task.clone()).unwrap();
    let obs = vec![env.reset(9).unwrap()];
    assert_eq!(loaded.policy.act(&obs), outcome.policy().act(&obs));
    let mut moved = obs.clone();
    moved[0].achieved_goal[0] += 0.01;
    assert_ne!(loaded.policy.act(&moved), loaded.policy.act(&obs), "the achieved goal is an input");

    edit_manifest(&dir, |v| v["network"].as_object_mut().unwrap().remove("goal_offset").map(|_| ()).unwrap());
    let e = load_error(&dir, None);
    assert!(e.contains(MANIFEST_FILE) && e.contains("normaliser has") && e.contains("the policy input has"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}
