"""Stable-Baselines3's ``VecEnv`` over gesture-lab's native vector env, so
SB3's algorithms (SAC with ``HerReplayBuffer`` included) train on N Rust
envs stepped in parallel with the GIL released.

    from stable_baselines3 import SAC, HerReplayBuffer
    from gesture_lab.sb3 import GestureLabSB3VecEnv

    env = GestureLabSB3VecEnv("needle-reach", num_envs=8, seed=0)
    model = SAC("MultiInputPolicy", env, replay_buffer_class=HerReplayBuffer)
    model.learn(20_000)

SB3 is an optional dependency (``pip install ".[sb3]"``; it needs torch).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.vec_env.base_vec_env import VecEnv

from gesture_lab.envs import GestureLabVectorEnv


def _row(columns: dict[str, Any], i: int) -> dict[str, Any]:
    """Env i's info out of Gymnasium's dict of arrays (keys its mask has)."""
    info: dict[str, Any] = {}
    for key, value in columns.items():
        if key.startswith("_"):
            continue
        mask = columns.get("_" + key)
        if mask is not None and not mask[i]:
            continue
        if isinstance(value, dict):
            info[key] = _row(value, i)
        else:
            item = value[i]
            info[key] = item.item() if isinstance(item, np.generic) else item
    return info


class GestureLabSB3VecEnv(VecEnv):
    """N gesture-lab envs as one SB3 ``VecEnv`` (same-step autoreset: an
    ended episode's last observation is in ``infos[i]["terminal_observation"]``,
    and ``infos[i]["TimeLimit.truncated"]`` says whether it was cut short).

    ``seed`` seeds the first reset (SB3's ``env.seed(s)`` reseeds the next);
    the keyword arguments are those of ``gymnasium.make`` for gesture-lab."""

    def __init__(self, task: str = "needle-reach", num_envs: int = 8, seed: int | None = 0, threads: int = 0, **env_kwargs: Any):
        # SB3's VecEnv.__init__ calls get_attr, so the envs exist first.
        self.venv = GestureLabVectorEnv(num_envs, task, threads=threads, autoreset_mode=AutoresetMode.SAME_STEP, **env_kwargs)
        self.render_mode = None
        super().__init__(num_envs, self.venv.single_observation_space, self.venv.single_action_space)
        self._next_seed = seed
        self._actions: np.ndarray | None = None

    def reset(self):
        seed = self._seeds[0] if any(s is not None for s in self._seeds) else self._next_seed
        obs, _ = self.venv.reset(seed=seed)
        self._reset_seeds()
        self._next_seed = None
        self.reset_infos = [{} for _ in range(self.num_envs)]
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self):
        obs, rewards, terminated, truncated, columns = self.venv.step(self._actions)
        final_obs = columns.pop("final_obs", None)
        final_mask = columns.pop("_final_obs", None)
        final_info = columns.pop("final_info", None)
        columns.pop("_final_info", None)
        infos = []
        for i in range(self.num_envs):
            if final_mask is not None and final_mask[i]:
                info = _row(final_info, i)
                info["terminal_observation"] = final_obs[i]
                info["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
            else:
                info = _row(columns, i)
            infos.append(info)
        dones = terminated | truncated
        return obs, rewards.astype(np.float32), dones, infos

    def close(self) -> None:
        pass

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        value = getattr(self.venv, attr_name)
        return [value for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        raise AttributeError(f"gesture-lab envs share one config: set `{attr_name}` through the env's keyword arguments instead")

    def env_method(self, method_name: str, *method_args: Any, indices: Any = None, **method_kwargs: Any) -> list[Any]:
        # Every env runs the same task, so one call serves all (compute_reward for HER, say).
        method = getattr(self.venv, method_name)
        result = method(*method_args, **method_kwargs)
        return [result for _ in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]

    def get_images(self) -> Sequence[np.ndarray | None]:
        return [None for _ in range(self.num_envs)]

    def seed(self, seed: int | None = None) -> Sequence[None | int]:
        if seed is None:
            seed = int(np.random.randint(0, 2**31 - 1))
        self._seeds = [seed + i for i in range(self.num_envs)]
        return self._seeds


def evaluate_sb3(model: Any, task: str = "needle-reach", episodes: int = 50, seed: int = 0, **env_kwargs: Any) -> dict[str, float]:
    """Success rate and mean final error of an SB3 model's deterministic
    actions on ``episodes`` seeded episodes of ``task`` (one env, seeds
    ``seed, seed+1, ...``)."""
    import gymnasium as gym

    from gesture_lab.envs import env_id

    env = gym.make(env_id(task), **env_kwargs)
    successes, errors = [], []
    for k in range(episodes):
        obs, _ = env.reset(seed=seed + k)
        while True:
            action, _ = model.predict(obs, deterministic=True)
            obs, _, terminated, truncated, info = env.step(action)
            if terminated or truncated:
                break
        successes.append(info["is_success"])
        errors.append(info["tip_error_mm"])
    return {"success_rate": float(np.mean(successes)), "mean_final_error_mm": float(np.mean(errors)), "episodes": episodes}
