"""The Gymnasium envs: registration, checkers, rewards, seeds against the CLI,
the native vector env, and bad input."""

import hashlib
import json
import struct

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode

import gesture_lab
from conftest import run_cli

TASKS = gesture_lab.task_ids()


def flat(obs):
    return np.concatenate([obs["observation"], obs["achieved_goal"], obs["desired_goal"]])


def test_every_task_is_registered_with_its_gymnasium_id():
    assert {"needle-reach", "gesture-trace", "pose-reach", "needle-pick", "gauze-retrieve", "peg-transfer"} <= set(TASKS)
    for task in TASKS:
        assert gesture_lab.env_id(task) in gym.registry
    assert gesture_lab.env_id("needle-reach") == "GestureLab/NeedleReach-v0"
    assert gesture_lab.env_id("gauze-retrieve") == "GestureLab/GauzeRetrieve-v0"


@pytest.mark.parametrize("task", TASKS)
def test_gymnasium_env_checker_passes(task):
    env = gym.make(gesture_lab.env_id(task))
    check_env(env.unwrapped, skip_render_check=True)
    obs, _ = env.reset(seed=1)
    assert set(obs) == {"observation", "achieved_goal", "desired_goal"}
    assert all(v.dtype == np.float32 for v in obs.values())
    assert env.observation_space.contains(obs)


def test_grasp_tasks_take_their_grasp_mode_as_a_keyword():
    for grasp in ("friction", "assisted"):
        env = gym.make("GestureLab/NeedlePick-v0", grasp=grasp)
        env.reset(seed=4)
        _, _, _, _, info = env.step(np.zeros(5, dtype=np.float32))
        assert info["grasp"]["mode"] == grasp


def test_two_psm_tasks_take_ten_numbers_psm1_first():
    env = gym.make(gesture_lab.env_id("needle-regrasp"), grasp="assisted")
    assert env.action_space.shape == (10,)
    obs, _ = env.reset(seed=2)
    assert obs["achieved_goal"].shape == (4,) and obs["achieved_goal"][3] == 1.0  # PSM1 starts holding the needle
    action = np.zeros(10, dtype=np.float32)
    action[4] = 1.0  # PSM1 opens: the needle is no longer held by it
    for _ in range(5):
        obs, _, _, _, info = env.step(action)
    assert obs["achieved_goal"][3] == 0.0 and info["grasp"]["mode"] == "assisted"
    with pytest.raises(ValueError, match="10"):
        env.step(np.zeros(5, dtype=np.float32))
    assert gesture_lab.env_id("bi-peg-transfer") == "GestureLab/BiPegTransfer-v0"


def test_camera_tasks_take_the_ecm_s_four_numbers():
    env = gym.make(gesture_lab.env_id("ecm-static-track"))
    assert env.action_space.shape == (4,)
    env.reset(seed=0)
    obs, _, _, _, info = env.step(np.zeros(4, dtype=np.float32))
    assert obs["achieved_goal"].shape == (3,) and info["orientation_error_deg"] is not None
    with pytest.raises(ValueError, match="4"):
        env.step(np.zeros(5, dtype=np.float32))
    envs = gym.make_vec(gesture_lab.env_id("ecm-reach"), num_envs=2)
    assert envs.single_action_space.shape == (4,) and envs.action_space.shape == (2, 4)
    envs.reset(seed=1)
    envs.step(np.zeros((2, 4), dtype=np.float32))


def test_info_carries_every_step_info_field_and_is_success():
    env = gym.make("GestureLab/NeedlePick-v0")
    env.reset(seed=2)
    _, _, _, _, info = env.step(env.action_space.sample())
    for field in ("success", "tip_error_mm", "physics_fault", "ik_failed", "action_clipped", "orientation_error_deg", "tracking", "grasp", "instrument_collisions", "action_penalty"):
        assert field in info, field
    assert info["is_success"] is info["success"]
    assert set(info["grasp"]) >= {"mode", "grasped", "welded", "grip_force_n", "object_position", "object_rotation"}


def test_the_oracle_reaches_the_goal_through_the_python_env():
    env = gym.make("GestureLab/NeedleReach-v0")
    env.reset(seed=7)
    for _ in range(env.unwrapped.max_episode_steps):
        _, _, terminated, truncated, info = env.step(env.unwrapped.oracle_action())
        if terminated or truncated:
            break
    assert info["is_success"] and info["tip_error_mm"] < 5.0


def test_compute_reward_gives_each_step_reward_again_single_and_batched():
    # gesture-trace has an action-rate penalty: the reward is not the goal reward alone.
    env = gym.make("GestureLab/GestureTrace-v0").unwrapped
    env.reset(seed=3)
    achieved, desired, infos, rewards = [], [], [], []
    for _ in range(30):
        obs, reward, _, _, info = env.step(env.action_space.sample())
        assert reward == env.compute_reward(obs["achieved_goal"], obs["desired_goal"], info)
        achieved.append(obs["achieved_goal"])
        desired.append(obs["desired_goal"])
        infos.append(info)
        rewards.append(reward)
    assert any(i["action_penalty"] > 0 for i in infos)
    batch = env.compute_reward(np.stack(achieved), np.stack(desired), np.array(infos, dtype=object))
    assert batch.shape == (30,) and batch.dtype == np.float32
    np.testing.assert_array_equal(batch, np.array(rewards, dtype=np.float32))
    # As HER relabels: goals swapped for achieved ones score at least as well.
    relabelled = env.compute_reward(np.stack(achieved), np.stack(achieved), infos)
    assert np.all(relabelled >= batch)


def test_sparse_reward_relabelling_on_a_reach_task():
    env = gym.make("GestureLab/NeedleReach-v0").unwrapped
    obs, _ = env.reset(seed=0)
    a = np.stack([obs["achieved_goal"], obs["achieved_goal"]])
    d = np.stack([obs["desired_goal"], obs["achieved_goal"]])
    np.testing.assert_array_equal(env.compute_reward(a, d, [{}, {}]), np.array([-1.0, 0.0], dtype=np.float32))


def rollout_sha256(env, seed, steps):
    """The CLI's `rollout --policy oracle` hash, computed from the Python env."""
    h = hashlib.sha256()
    obs, _ = env.reset(seed=seed)
    h.update(flat(obs).astype("<f4").tobytes())
    returns = []
    ret = 0.0
    for _ in range(steps):
        obs, reward, terminated, truncated, info = env.step(env.unwrapped.oracle_action())
        h.update(flat(obs).astype("<f4").tobytes())
        h.update(struct.pack("<f", reward))
        h.update(bytes([terminated, truncated, info["success"]]))
        ret += float(np.float32(reward))
        if terminated or truncated:
            returns.append(ret)
            ret = 0.0
            obs, _ = env.reset()
            h.update(flat(obs).astype("<f4").tobytes())
    return h.hexdigest(), returns


@pytest.mark.parametrize("task", TASKS)
def test_a_seed_gives_the_clis_episodes_bit_for_bit(cli, task):
    env = gym.make(gesture_lab.env_id(task))
    # Long enough to cross an episode boundary (ecm-active-track's episodes are 500 steps).
    steps, seed = max(260, 2 * env.unwrapped.max_episode_steps + 10), 17
    report = json.loads(run_cli(cli, "rollout", "--task", task, "--policy", "oracle", "--steps", str(steps), "--seed", str(seed), "--json"))
    digest, returns = rollout_sha256(env, seed, steps)
    assert len(returns) >= 2, "the run crosses an episode boundary"
    assert digest == report["trajectory_sha256"]
    assert returns == pytest.approx(report["episode_returns"])


def test_reset_with_a_seed_repeats_and_without_one_moves_on():
    env = gym.make("GestureLab/NeedleReach-v0")
    first = flat(env.reset(seed=123)[0])
    assert np.array_equal(first, flat(env.reset(seed=123)[0]))
    assert not np.array_equal(first, flat(env.reset()[0]))
    # Unseeded envs draw their seed from np_random: two fresh ones differ.
    a = flat(gym.make("GestureLab/NeedleReach-v0").reset()[0])
    b = flat(gym.make("GestureLab/NeedleReach-v0").reset()[0])
    assert not np.array_equal(a, b)


def test_config_overrides_and_perturbations_are_keywords():
    env = gym.make("GestureLab/NeedleReach-v0", config={"episode": {"steps": 9}})
    env.reset(seed=0)
    for step in range(1, 10):
        _, _, terminated, truncated, _ = env.step(np.zeros(5, dtype=np.float32))
        assert truncated == (step == 9) and not terminated
    assert "steps = 9" in env.unwrapped.config_toml()
    quiet = gym.make("GestureLab/NeedleReach-v0")
    noisy = gym.make("GestureLab/NeedleReach-v0", perturb={"obs_noise_mm": 2.0})
    a, b = quiet.reset(seed=5)[0], noisy.reset(seed=5)[0]
    assert np.array_equal(a["desired_goal"], b["desired_goal"]), "perturbations leave the episode's goal alone"
    assert not np.array_equal(a["observation"], b["observation"])


def vector_run(num_envs, threads, mode, steps=40, seed=9):
    envs = gym.make_vec("GestureLab/NeedleReach-v0", num_envs=num_envs, threads=threads, autoreset_mode=mode, config={"episode": {"steps": 12}})
    assert envs.metadata["autoreset_mode"] == mode
    rng = np.random.default_rng(0)
    obs, _ = envs.reset(seed=seed)
    out = [flat_batch(obs)]
    for _ in range(steps):
        actions = rng.uniform(-1, 1, size=(num_envs, 5)).astype(np.float32)
        obs, rewards, terminated, truncated, infos = envs.step(actions)
        out += [flat_batch(obs), rewards, terminated, truncated]
    return out


def flat_batch(obs):
    return np.concatenate([obs["observation"], obs["achieved_goal"], obs["desired_goal"]], axis=1)


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_vector_env_is_identical_on_one_and_two_threads(mode):
    one, two = vector_run(5, 1, mode), vector_run(5, 2, mode)
    for a, b in zip(one, two):
        assert np.array_equal(a, b)


def test_vector_env_zero_runs_the_single_envs_episodes():
    """Env 0 of a vector env seeded s runs the episodes of a single env seeded s
    (and so of `rollout --seed s`), across autoresets, in both modes."""
    actions = np.random.default_rng(1).uniform(-1, 1, size=(30, 5)).astype(np.float32)
    config = {"episode": {"steps": 12}}
    single = gym.make("GestureLab/NeedleReach-v0", config=config)
    expected = [flat(single.reset(seed=4)[0])]
    for a in actions:
        obs, _, terminated, truncated, _ = single.step(a)
        expected.append(flat(obs))
        if terminated or truncated:
            expected.append(flat(single.reset()[0]))
    for mode in (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP):
        envs = gym.make_vec("GestureLab/NeedleReach-v0", num_envs=3, autoreset_mode=mode, config=config)
        got = env_zero_as_a_single_env(envs, mode, seed=4, actions=actions)
        assert len(got) == len(expected)
        for g, e in zip(got, expected):
            assert np.array_equal(g, e)


def env_zero_as_a_single_env(envs, mode, seed, actions):
    """Env 0's observations as a single env would give them: each step's, and
    at an episode's end its last one, then the next episode's first."""
    got = [flat_batch(envs.reset(seed=seed)[0])[0]]
    pending_reset = False
    for a in actions:
        batch = np.zeros((envs.num_envs, 5), dtype=np.float32)
        if pending_reset:
            # Next-step autoreset: this call only resets env 0.
            obs, rewards, terminated, truncated, infos = envs.step(batch)
            # (every env reset in this call: their infos are empty)
            assert infos == {} and rewards[0] == 0.0 and not (terminated[0] or truncated[0])
            got.append(flat_batch(obs)[0])
            pending_reset = False
        batch[0] = a
        obs, rewards, terminated, truncated, infos = envs.step(batch)
        if (terminated[0] or truncated[0]) and mode == AutoresetMode.SAME_STEP:
            # Env 0's last step's info is under final_info only (all envs ended here).
            assert infos["_final_obs"][0] and infos["_final_info"][0] and "success" not in infos
            assert infos["final_info"]["_success"][0]
            got.append(flat(infos["final_obs"][0]))
        elif terminated[0] or truncated[0]:
            pending_reset = True
        got.append(flat_batch(obs)[0])
    return got


def test_vector_infos_are_arrays_with_masks():
    envs = gym.make_vec("GestureLab/NeedlePick-v0", num_envs=4)
    envs.reset(seed=0)
    _, _, _, _, infos = envs.step(np.zeros((4, 5), dtype=np.float32))
    assert infos["tip_error_mm"].shape == (4,) and infos["_tip_error_mm"].all()
    assert infos["grasp"]["object_position"].shape == (4, 3)
    assert infos["grasp"]["grasped"].dtype == bool
    assert list(infos["grasp"]["mode"]) == ["friction"] * 4
    assert "tracking" not in infos, "absent options are left out"


def test_vector_env_compute_reward_matches_the_rewards():
    envs = gym.make_vec("GestureLab/GestureTrace-v0", num_envs=3)
    envs.reset(seed=2)
    for _ in range(5):
        obs, rewards, _, _, infos = envs.step(envs.action_space.sample())
        again = envs.unwrapped.compute_reward(obs["achieved_goal"], obs["desired_goal"], infos)
        np.testing.assert_array_equal(again, rewards)


# ---------------------------------------------------------------- bad input


def raises_with(exc, needle):
    return pytest.raises(exc, match=needle)


def test_bad_actions_raise_and_change_nothing():
    env = gym.make("GestureLab/NeedleReach-v0").unwrapped
    with raises_with(ValueError, "before reset"):
        env.step(np.zeros(5, dtype=np.float32))
    env.reset(seed=0)
    with raises_with(ValueError, r"shape \(4,\)"):
        env.step(np.zeros(4, dtype=np.float32))
    with raises_with(ValueError, "dtype <U1"):
        env.step(np.array(["a"] * 5))
    with raises_with(ValueError, r"action\[0\] = NaN"):
        env.step(np.array([np.nan, 0, 0, 0, 0], dtype=np.float32))
    with raises_with(ValueError, r"action\[1\] = inf"):
        env.step(np.array([0, 1e300, 0, 0, 0]))
    # Nothing moved: the next good step is the episode's first.
    _, _, _, _, info = env.step(np.zeros(5))
    assert not info["action_clipped"]
    assert env._core.reset(0, 0)[0].shape == (14,)


def test_vector_env_bad_actions_raise():
    envs = gym.make_vec("GestureLab/NeedleReach-v0", num_envs=3)
    envs.reset(seed=0)
    with raises_with(ValueError, r"shape \(2, 5\)"):
        envs.step(np.zeros((2, 5)))
    bad = np.zeros((3, 5), dtype=np.float32)
    bad[2, 1] = np.nan
    with raises_with(ValueError, "env 2"):
        envs.step(bad)


def test_unknown_tasks_and_bad_keywords_raise_with_the_clis_message():
    with pytest.raises(gym.error.Error):
        gym.make("GestureLab/NeedleGrab-v0")
    with raises_with(ValueError, "unknown task `needle-grab` \\(known tasks: needle-reach"):
        gesture_lab.GestureLabEnv("needle-grab")
    with raises_with(ValueError, "stepz"):
        gym.make("GestureLab/NeedleReach-v0", config={"episode": {"stepz": 3}})
    with raises_with(ValueError, "episode.steps = 0"):
        gym.make("GestureLab/NeedleReach-v0", config={"episode": {"steps": 0}})
    with raises_with(ValueError, "unknown grasp mode `glue`"):
        gym.make("GestureLab/NeedlePick-v0", grasp="glue")
    with raises_with(ValueError, "tremor_mm"):
        gym.make("GestureLab/NeedleReach-v0", perturb="tremor_mm=lots")
    with raises_with(OSError, "no-such.toml"):
        gym.make("GestureLab/NeedleReach-v0", config_file="no-such.toml")
    with raises_with(ValueError, "config value"):
        gym.make("GestureLab/NeedleReach-v0", config={"episode": {"steps": object()}})
    with raises_with(ValueError, "render_mode"):
        gym.make("GestureLab/NeedleReach-v0", render_mode="human")
    with pytest.raises(TypeError):
        gym.make("GestureLab/NeedleReach-v0", colour="red")
    with raises_with(ValueError, "num_envs"):
        gym.make_vec("GestureLab/NeedleReach-v0", num_envs=0)
    with raises_with(ValueError, "autoreset_mode"):
        gym.make_vec("GestureLab/NeedleReach-v0", num_envs=2, autoreset_mode=AutoresetMode.DISABLED)
    with pytest.raises(gym.error.Error, match="-1"):
        gym.make("GestureLab/NeedleReach-v0").unwrapped.reset(seed=-1)
    with raises_with(ValueError, "must be an integer in"):
        gym.make("GestureLab/NeedleReach-v0").unwrapped.reset(seed=2**64)


def test_a_rust_panic_is_a_runtime_error_and_python_goes_on():
    from gesture_lab import _core

    with pytest.raises(RuntimeError, match="internal error .*a deliberate panic"):
        _core._panic_for_tests()
    env = gym.make("GestureLab/NeedleReach-v0")
    env.reset(seed=0)
    env.step(np.zeros(5, dtype=np.float32))
