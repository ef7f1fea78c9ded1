//! What the fuzz targets (`fuzz/`) found, pinned: each input is refused with
//! a message naming the field, instead of panicking, hanging or exhausting
//! memory. The inputs the fuzzer wrote are in `tests/fuzz-found/`.

use std::path::{Path, PathBuf};

use gesture_lab::policy::{self, MANIFEST_FILE};
use gesture_lab::rl::sac::{self, Checkpointing, SacHerConfig};
use gesture_lab::task::TaskConfig;

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gesture-lab-fuzz-found-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn config_error(toml: &str) -> String {
    match TaskConfig::from_toml_str(toml, "fuzz.toml") {
        Ok(_) => panic!("accepted:\n{toml}"),
        Err(e) => e.to_string(),
    }
}

/// A copy of the shipped needle-reach bundle whose manifest and weights
/// `edit` changes; the manifest's checksum, length and file name are then
/// made to match the weights, as the fuzz target does.
fn edited_bundle(name: &str, edit: impl FnOnce(&mut serde_json::Value, &mut Vec<u8>)) -> PathBuf {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/needle-reach");
    let dir = temp(name);
    let mut manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(from.join(MANIFEST_FILE)).unwrap()).unwrap();
    let mut weights = std::fs::read(from.join(manifest["weights_file"].as_str().unwrap())).unwrap();
    edit(&mut manifest, &mut weights);
    let file = policy::weights_file_name(&weights);
    manifest["weights_file"] = file.clone().into();
    manifest["weights_bytes"] = weights.len().into();
    manifest["weights_sha256"] = policy::sha256_hex(&weights).into();
    std::fs::write(dir.join(&file), &weights).unwrap();
    std::fs::write(dir.join(MANIFEST_FILE), serde_json::to_string(&manifest).unwrap()).unwrap();
    dir
}

fn load_error(dir: &Path) -> String {
    match policy::load(dir, None) {
        Ok(_) => panic!("{} loaded, but should have been refused", dir.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn the_unedited_copy_of_a_bundle_loads() {
    // The edits below are what makes each bundle fail, not the copying.
    let dir = edited_bundle("unedited", |_, _| {});
    policy::load(&dir, None).unwrap();
}

#[test]
fn weights_holding_nan_are_refused() {
    // fuzz target policy_bundle: a NaN in the weights gave NaN actions.
    let dir = edited_bundle("nan-weights", |_, w| {
        let n = w.len();
        w[n - 4..].copy_from_slice(&f32::NAN.to_le_bytes());
    });
    let err = load_error(&dir);
    assert!(err.contains("non-finite") && err.contains("actor-"), "{err}");
}

#[test]
fn a_normaliser_that_cannot_normalise_is_refused() {
    // A negative or NaN clip made `clamp` panic; a zero floor divided by zero.
    for (field, value, named) in [
        ("clip", serde_json::json!(-1.0), "normalizer.clip"),
        ("min_std", serde_json::json!(0.0), "normalizer.min_std"),
        ("count", serde_json::json!(-3.0), "normalizer.count"),
    ] {
        let dir = edited_bundle(&format!("normaliser-{field}"), |m, _| m["normalizer"][field] = value);
        let err = load_error(&dir);
        assert!(err.contains(named) && err.contains(MANIFEST_FILE), "{field}: {err}");
    }
    let dir = edited_bundle("normaliser-lengths", |m, _| {
        m["normalizer"]["m2"].as_array_mut().unwrap().pop();
    });
    let err = load_error(&dir);
    assert!(err.contains("variances"), "{err}");
}

#[test]
fn a_network_wider_than_its_weights_is_refused_before_it_is_allocated() {
    // 2^40 hidden units: the network alone would take 4 × 2^80 bytes.
    let dir = edited_bundle("wide", |m, _| m["network"]["hidden"] = (1u64 << 40).into());
    let err = load_error(&dir);
    assert!(err.contains("network.hidden = 1099511627776"), "{err}");
}

#[test]
fn peg_transfer_blocks_that_overlap_are_refused() {
    // fuzz target task_config: 1 m blocks on pegs 24 mm apart, four of them
    // overlapping; the first step took minutes.
    let found = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-found/task_config-peg-transfer-metre-blocks.toml")).unwrap();
    let err = config_error(&found);
    assert!(err.contains("outer_inradius") && err.contains("board"), "{err}");
    // Blocks that fit the board but not beside each other.
    let base = TaskConfig::builtin("peg-transfer").unwrap();
    let table: toml::Table = "[peg_transfer]\nblock = { outer_inradius = 0.007, wall = 0.0015, height = 0.012 }".parse().unwrap();
    let err = base.with_overrides(&table).expect_err("overlapping blocks refused").to_string();
    assert!(err.contains("would overlap"), "{err}");
}

#[test]
fn objects_must_start_on_their_tray() {
    for (task, table, named) in [
        ("needle-pick", "[needle_pick]\nneedle_region_m = 0.5", "needle_region_m"),
        ("gauze-retrieve", "[gauze_retrieve]\ngauze_half_extents = [3.0, 0.001, 0.0015]", "gauze_region_m"),
    ] {
        let base = TaskConfig::builtin(task).unwrap();
        let err = base.with_overrides(&table.parse().unwrap()).expect_err("refused").to_string();
        assert!(err.contains(named) && err.contains("tray_half_extents"), "{task}: {err}");
    }
}

#[test]
fn physics_iteration_counts_are_bounded() {
    // A billion substeps per control step hangs the first step.
    let base = TaskConfig::builtin("needle-reach").unwrap();
    for field in ["substeps", "solver_iterations", "pgs_iterations"] {
        let table: toml::Table = format!("[physics]\n{field} = 1000000000").parse().unwrap();
        let err = base.with_overrides(&table).expect_err("refused").to_string();
        assert!(err.contains(&format!("physics.{field} = 1000000000 must be between 1 and 100")), "{err}");
    }
}

/// A tiny SAC+HER run that left a checkpoint, and what resumes it.
struct Resumable {
    task: TaskConfig,
    config: SacHerConfig,
    dir: PathBuf,
    cp: Checkpointing,
}

/// Replaces a part of the checkpoint in `dir` with `bytes`, and its checksum
/// with theirs (as the fuzz target does), so that the part's decoder reads them.
fn replace_part(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(dir.join("checkpoint").join(name), bytes).unwrap();
    let state = dir.join("checkpoint/state.json");
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    for entry in v["files"].as_array_mut().unwrap() {
        if entry[0] == name {
            entry[1] = policy::sha256_hex(bytes).into();
        }
    }
    std::fs::write(&state, serde_json::to_string(&v).unwrap()).unwrap();
}

fn resumable(name: &str) -> Resumable {
    let task = TaskConfig::builtin("needle-reach").unwrap();
    let config = SacHerConfig::new().with_hidden(8).with_batch_size(16).with_random_steps(50).with_eval_interval(100_000).with_eval_episodes(1);
    let dir = temp(name);
    let cp = Checkpointing { dir: dir.clone(), every: 100, resume: true };
    sac::train_with_checkpoints(&task, config.clone(), 200, 1, 1, Some(&cp), None, &mut |_| {}).unwrap();
    Resumable { task, config, dir, cp }
}

#[test]
fn a_checkpoint_whose_shapes_do_not_fit_the_task_is_refused() {
    // The networks were sized from the checkpoint's obs_dim before any check.
    let Resumable { task, config, dir, cp } = resumable("checkpoint-shapes");
    let state = dir.join("checkpoint/state.json");
    let original = std::fs::read_to_string(&state).unwrap();
    for (edit, named) in [("obs_dim", "obs_dim 1099511627776"), ("normalizer", "normalizer.clip")] {
        let mut v: serde_json::Value = serde_json::from_str(&original).unwrap();
        match edit {
            "obs_dim" => v["state"]["obs_dim"] = (1u64 << 40).into(),
            _ => v["state"]["normalizer"]["clip"] = (-1.0).into(),
        }
        std::fs::write(&state, serde_json::to_string(&v).unwrap()).unwrap();
        let Err(err) = sac::train_with_checkpoints(&task, config.clone(), 400, 1, 1, Some(&cp), None, &mut |_| {}) else { panic!("{edit}: resumed") };
        let err = err.to_string();
        assert!(err.contains(named) && err.contains("state.json"), "{edit}: {err}");
    }
}

#[test]
fn a_grasp_task_config_that_lost_its_length_unit_is_refused() {
    // fuzz target task_config: the `length_unit = 0.01` line merged into a
    // comment, the default of 1 applied, and peg-transfer stepped some
    // hundred times slower (a timeout, not a hang).
    let found = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-found/task_config-peg-transfer-no-length-unit.toml")).unwrap();
    let err = config_error(&found);
    assert!(err.contains("physics.length_unit = 1") && err.contains("millimetre"), "{err}");
    let table: toml::Table = "[physics]\nlength_unit = 5.0".parse().unwrap();
    let err = TaskConfig::builtin("needle-reach").unwrap().with_overrides(&table).expect_err("refused").to_string();
    assert!(err.contains("physics.length_unit = 5 must be at most 1"), "{err}");
}

#[test]
fn a_malformed_optimiser_state_is_an_error_not_a_panic() {
    // fuzz target checkpoint: burn's optimiser loader panicked ("Optimizer
    // record tensors should carry a parameter id") on these bytes, given the
    // right checksum.
    let Resumable { task, config, dir, cp } = resumable("optimiser-state");
    let found = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-found/checkpoint-critic_opt.bin")).unwrap();
    replace_part(&dir, "critic_opt.bin", &found);
    let Err(err) = sac::train_with_checkpoints(&task, config, 400, 1, 1, Some(&cp), None, &mut |_| {}) else { panic!("resumed") };
    let err = err.to_string();
    assert!(err.contains("critic_opt.bin"), "{err}");
}

#[test]
fn a_robot_link_of_negative_size_is_refused() {
    // fuzz target robot_description: `radius = -0.0042` (or -0.0) passed,
    // and parry's cylinder asserted when the instrument was built.
    use gesture_lab::sim::description::RobotDescription;
    let found = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-found/robot_description-negative-zero-radius.toml")).unwrap();
    let err = RobotDescription::from_toml_str(&found, "fuzz.toml").expect_err("refused").to_string();
    assert!(err.contains("link sizes [-0.0042, 0.2081] must be positive"), "{err}");
    let shipped = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/robots/psm.toml")).unwrap();
    let negative_zero = shipped.replace("radius = 0.0042", "radius = -0.0");
    let err = RobotDescription::from_toml_str(&negative_zero, "fuzz.toml").expect_err("refused").to_string();
    assert!(err.contains("must be positive"), "{err}");
}

#[test]
fn a_replay_buffer_with_absurd_or_other_sizes_is_refused() {
    // fuzz target checkpoint: header words near 2^62 overflowed the size
    // arithmetic (a panic with overflow checks; wrapped and misread without).
    let Resumable { task, config, dir, cp } = resumable("buffer-sizes");
    let buffer = |words: [u64; 7]| -> Vec<u8> {
        let mut b = b"GLHER001".to_vec();
        words.iter().for_each(|w| b.extend_from_slice(&w.to_le_bytes()));
        b.extend_from_slice(&[0u8; 64]);
        b
    };
    let episode_steps = task.episode.steps as u64;
    for (what, words) in [("overflowing sizes", [1 << 62, 1, 1, 4, 10, 1, 0]), ("another horizon", [14, 3, 5, episode_steps + 1, 10, 0, 0])] {
        let mut bytes = buffer(words);
        if what == "another horizon" {
            bytes.truncate(8 + 56); // no episodes: a well-formed empty buffer
        }
        replace_part(&dir, "buffer.bin", &bytes);
        let Err(err) = sac::train_with_checkpoints(&task, config.clone(), 400, 1, 1, Some(&cp), None, &mut |_| {}) else { panic!("{what}: resumed") };
        let err = err.to_string();
        assert!(err.contains("buffer.bin"), "{what}: {err}");
    }
}
