"""Native training and policy bundles from Python, against the CLI."""

import json
import pathlib
import shutil

import gymnasium as gym
import numpy as np
import pytest

import gesture_lab
from conftest import ROOT, run_cli

SMALL = {"hidden": 16, "batch_size": 32, "random_steps": 100, "eval_interval": 100_000, "eval_episodes": 2}
SMALL_TOML = "\n".join(f"{k} = {v}" for k, v in SMALL.items())


def test_train_writes_the_bundle_the_cli_writes(cli, tmp_path):
    report = gesture_lab.train("needle-reach", "sac-her", 300, 4, config=SMALL, out=tmp_path / "py", threads=1)
    assert report["env_steps"] == 300 and report["updates"] > 0 and report["wall_s"] > 0
    assert report["evaluation"]["episodes"] == 2 and report["kept"] == report["evaluation"]
    assert report["curve"][-1] == report["evaluation"]
    (tmp_path / "small.toml").write_text(SMALL_TOML)
    run_cli(cli, "train", "--task", "needle-reach", "--steps", "300", "--seed", "4", "--config", str(tmp_path / "small.toml"), "--out", str(tmp_path / "cli"), "--quiet")
    weights = lambda d: d / json.loads((d / "policy.json").read_text())["weights_file"]  # noqa: E731
    py, rs = weights(tmp_path / "py").read_bytes(), weights(tmp_path / "cli").read_bytes()
    assert py == rs, "the same seed and config give the same weights from Python and from the CLI"


def test_policy_evaluate_matches_the_cli_eval(cli):
    bundle = ROOT / "policies" / "needle-reach"
    policy = gesture_lab.Policy.load(bundle)
    assert policy.task == "needle-reach" and policy.algorithm == "sac-her"
    ours = policy.evaluate(episodes=12, seed=3)
    theirs = json.loads(run_cli(cli, "eval", "--policy", str(bundle), "--episodes", "12", "--seed", "3", "--json"))
    assert ours == theirs
    assert ours["success_rate"] == 1.0


def test_a_loaded_policy_drives_a_gymnasium_env_to_the_goal():
    policy = gesture_lab.Policy.load(ROOT / "policies" / "needle-reach")
    env = gym.make("GestureLab/NeedleReach-v0")
    for seed in (0, 1, 2):
        obs, _ = env.reset(seed=seed)
        for _ in range(env.unwrapped.max_episode_steps):
            obs, _, terminated, truncated, info = env.step(policy.act(obs))
            if terminated or truncated:
                break
        assert info["is_success"] and info["tip_error_mm"] < 5.0, (seed, info["tip_error_mm"])
    # A batch of observations gives each one's action.
    envs = gym.make_vec("GestureLab/NeedleReach-v0", num_envs=4)
    obs, _ = envs.reset(seed=1)
    batch = policy.act(obs)
    assert batch.shape == (4, 5)
    single = policy.act({k: v[2] for k, v in obs.items()})
    np.testing.assert_array_equal(batch[2], single)


def test_bad_training_arguments_raise_with_the_clis_message(tmp_path):
    with pytest.raises(ValueError, match="unknown algorithm `dqn`"):
        gesture_lab.train("needle-reach", "dqn", 100, out=tmp_path / "x")
    with pytest.raises(ValueError, match="steps = 0"):
        gesture_lab.train("needle-reach", "sac-her", 0, out=tmp_path / "x")
    with pytest.raises(ValueError, match="`config` argument: unknown key `actor_learning_rate`"):
        gesture_lab.train("needle-reach", "sac-her", 100, config={"actor_learning_rate": 0.1}, out=tmp_path / "x")
    with pytest.raises(ValueError, match="unknown task `needle-grab`"):
        gesture_lab.train("needle-grab", "sac-her", 100, out=tmp_path / "x")
    with pytest.raises(ValueError, match="keep"):
        gesture_lab.train("needle-reach", "sac-her", 100, keep="worst", out=tmp_path / "x")
    with pytest.raises(ValueError, match="learns from demonstrations"):
        gesture_lab.train("needle-reach", "bc", 100, out=tmp_path / "x")
    with pytest.raises(OSError, match="no-such-demos.json"):
        gesture_lab.train("needle-reach", "bc", 100, demos=[tmp_path / "no-such-demos.json"], out=tmp_path / "x")
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    with pytest.raises(ValueError, match="is a file"):
        gesture_lab.train("needle-reach", "sac-her", 100_000_000, out=blocker)


def test_damaged_or_foreign_bundles_are_refused_by_name(tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(ROOT / "policies" / "needle-reach", bundle)
    with pytest.raises(ValueError, match="trained for task `needle-reach`, not `pose-reach`"):
        gesture_lab.Policy.load(bundle, task="pose-reach")
    weights = bundle / "actor.bpk"
    weights.write_bytes(weights.read_bytes()[:-100])
    with pytest.raises(ValueError, match="actor.bpk: truncated"):
        gesture_lab.Policy.load(bundle)
    with pytest.raises(ValueError, match="policy.json"):
        gesture_lab.Policy.load(tmp_path / "nothing-here")
    policy = gesture_lab.Policy.load(ROOT / "policies" / "needle-reach")
    with pytest.raises(ValueError, match=r"observation has shape \[1, 13\]"):
        policy.act({"observation": np.zeros(13), "achieved_goal": np.zeros(3), "desired_goal": np.zeros(3)})
    with pytest.raises(ValueError, match="no `desired_goal`"):
        policy.act({"observation": np.zeros(14), "achieved_goal": np.zeros(3)})
    with pytest.raises(ValueError, match="episodes = 0"):
        policy.evaluate(episodes=0)
