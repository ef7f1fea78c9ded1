"""Gymnasium envs over gesture-lab's Rust `Env` and `VecEnv`.

Each env is goal-conditioned as Gymnasium-Robotics' are: observations are a
``spaces.Dict`` of float32 ``observation``, ``achieved_goal`` and
``desired_goal``, and ``compute_reward`` recomputes a step's reward for any
(batch of) goals, as hindsight relabelling needs.

Seeds: ``reset(seed=s)`` starts the episode that ``gesture-lab rollout --seed s``
starts with; each later ``reset()`` starts the rollout's next episode. Without
any seed, the first reset draws one from Gymnasium's ``np_random``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from gesture_lab import _core

_SEED_LIMIT = 2**63


def task_ids() -> list[str]:
    """The task ids gesture-lab knows (``gesture-lab tasks``)."""
    return [name for name, _ in _core.tasks()]


def env_id(task: str) -> str:
    """The Gymnasium id of a task: ``needle-reach`` → ``GestureLab/NeedleReach-v0``."""
    return "GestureLab/" + "".join(part.capitalize() for part in task.split("-")) + "-v0"


def register_envs() -> None:
    """Registers every task with Gymnasium (``gymnasium.make`` and ``make_vec``)."""
    for task in task_ids():
        name = env_id(task)
        if name in gym.registry:
            continue
        gym.register(
            id=name,
            entry_point="gesture_lab.envs:GestureLabEnv",
            vector_entry_point="gesture_lab.envs:GestureLabVectorEnv",
            kwargs={"task": task},
        )


def _overrides_json(config: Mapping[str, Any] | None) -> str | None:
    """The config overrides as JSON for the Rust side, which merges them table by table."""
    if config is None:
        return None
    if not isinstance(config, Mapping):
        raise ValueError(f"config must be a dict of tables (e.g. {{'episode': {{'steps': 100}}}}), not {type(config).__name__}")

    def plain(value: Any) -> Any:
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            return value.tolist()
        raise ValueError(f"config value {value!r} of type {type(value).__name__} is not a number, string, bool, list or dict")

    return json.dumps(config, default=plain, allow_nan=False)


def _perturb_spec(perturb: str | Mapping[str, Any] | None) -> str | None:
    """Perturbations as the CLI's ``--perturb`` takes them: ``"key=value,..."`` or a dict."""
    if perturb is None or isinstance(perturb, str):
        return perturb
    if isinstance(perturb, Mapping):
        return ",".join(f"{key}={value}" for key, value in perturb.items())
    raise ValueError(f"perturb must be 'key=value,...' or a dict, not {type(perturb).__name__}")


def _as_actions(action: Any, shape: tuple[int, ...]) -> np.ndarray:
    """Actions as a C-contiguous float32 array of `shape`; the Rust side checks their values."""
    array = np.asarray(action)
    if array.dtype.kind not in "fiu":
        raise ValueError(f"invalid action: dtype {array.dtype}, expected real numbers (float32)")
    if array.shape != shape:
        raise ValueError(f"invalid action: shape {array.shape}, expected {shape}")
    return np.ascontiguousarray(array, dtype=np.float32)


def _check_seed(seed: Any) -> int:
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**64:
        raise ValueError(f"seed {seed!r} must be an integer in [0, 2**64)")
    return int(seed)


def _goal_spaces(observation_dim: int, goal_dim: int) -> spaces.Dict:
    def box(n: int) -> spaces.Box:
        return spaces.Box(-np.inf, np.inf, shape=(n,), dtype=np.float32)

    return spaces.Dict({"achieved_goal": box(goal_dim), "desired_goal": box(goal_dim), "observation": box(observation_dim)})


def _action_penalties(info: Any, count: int) -> np.ndarray:
    """Each transition's action penalty from its info: a dict, a dict of
    arrays (vector info), or a sequence of dicts (SB3's HER); none → 0."""
    if info is None:
        return np.zeros(count, dtype=np.float32)
    if isinstance(info, Mapping):
        values = np.broadcast_to(np.asarray(info.get("action_penalty", 0.0), dtype=np.float32), (count,))
    else:
        infos = list(np.asarray(info, dtype=object).reshape(-1))
        if len(infos) != count:
            raise ValueError(f"{count} goals but {len(infos)} infos")
        values = np.array([(i or {}).get("action_penalty", 0.0) for i in infos], dtype=np.float32)
    return np.ascontiguousarray(values, dtype=np.float32)


def _compute_reward(core: Any, goal_dim: int, achieved_goal: Any, desired_goal: Any, info: Any) -> Any:
    achieved = np.asarray(achieved_goal, dtype=np.float32)
    desired = np.asarray(desired_goal, dtype=np.float32)
    single = achieved.ndim == 1
    achieved2 = np.ascontiguousarray(achieved.reshape(-1, goal_dim))
    desired2 = np.ascontiguousarray(desired.reshape(-1, goal_dim))
    rewards = core.compute_reward(achieved2, desired2, _action_penalties(info, achieved2.shape[0]))
    if single:
        return rewards[0]
    return rewards.reshape(achieved.shape[:-1])


def _config_kwargs(config: Any, config_file: Any, perturb: Any, grasp: Any) -> dict[str, Any]:
    if grasp is not None and not isinstance(grasp, str):
        raise ValueError(f"grasp must be one of {_core.grasp_modes()}, not {grasp!r}")
    return {
        "config_file": None if config_file is None else str(config_file),
        "overrides": _overrides_json(config),
        "perturb": _perturb_spec(perturb),
        "grasp": grasp,
    }


class GestureLabEnv(gym.Env):
    """One simulated instrument doing one task (the Rust ``Env``).

    Keyword arguments (also those of ``gymnasium.make``):
        task: task id (``gesture_lab.task_ids()``).
        config: overrides merged into the task's config, table by table,
            e.g. ``{"episode": {"steps": 100}, "physics": {"substeps": 8}}``.
        config_file: a task config file (TOML) instead of the built-in one.
        perturb: perturbations, ``"tremor_mm=0.5,latency_steps=1"`` or a dict,
            or ``"randomize"`` (the CLI's ``--perturb``).
        grasp: ``"friction"`` or ``"assisted"``, for tasks with objects.
    """

    metadata = {"render_modes": []}

    def __init__(
        self,
        task: str = "needle-reach",
        *,
        config: Mapping[str, Any] | None = None,
        config_file: Any = None,
        perturb: str | Mapping[str, Any] | None = None,
        grasp: str | None = None,
        render_mode: str | None = None,
    ):
        if render_mode is not None:
            raise ValueError(f"render_mode {render_mode!r}: gesture-lab envs draw in the viewer (`gesture-lab view`), not through Gymnasium")
        self._core = _core.Env(task, **_config_kwargs(config, config_file, perturb, grasp))
        self.task = task
        self.observation_space = _goal_spaces(self._core.observation_dim, self._core.goal_dim)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(self._core.action_dim,), dtype=np.float32)
        self.max_episode_steps = self._core.max_episode_steps
        self.metadata = {"render_modes": [], "render_fps": round(1.0 / self._core.control_period)}
        self._base_seed: int | None = None
        self._episode = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        if seed is not None:
            self._base_seed, self._episode = _check_seed(seed), 0
        elif self._base_seed is None:
            self._base_seed, self._episode = int(self.np_random.integers(_SEED_LIMIT)), 0
        else:
            self._episode += 1
        observation, achieved, desired = self._core.reset(self._base_seed, self._episode)
        return {"achieved_goal": achieved, "desired_goal": desired, "observation": observation}, {}

    def step(self, action: Any):
        observation, achieved, desired, reward, terminated, truncated, info = self._core.step(_as_actions(action, (self._core.action_dim,)))
        obs = {"achieved_goal": achieved, "desired_goal": desired, "observation": observation}
        return obs, reward, terminated, truncated, info

    def compute_reward(self, achieved_goal: Any, desired_goal: Any, info: Any) -> Any:
        """The reward of reaching ``achieved_goal`` when ``desired_goal`` was
        asked, less the step's action penalty (``info["action_penalty"]``):
        equal, bit for bit, to the reward ``step`` returned for the same
        goals. Works on one goal (g,) → scalar and on batches (B, g) → (B,)."""
        return _compute_reward(self._core, self._core.goal_dim, achieved_goal, desired_goal, info)

    def oracle_action(self) -> np.ndarray:
        """The task's scripted expert's action for the current state."""
        return self._core.oracle_action()

    def config_toml(self) -> str:
        """The task config in use, as TOML (``gesture-lab ... --task-config`` takes it)."""
        return self._core.config_toml()


def _autoreset_mode(mode: Any) -> AutoresetMode:
    if isinstance(mode, str):
        by_name = {m.value.lower(): m for m in AutoresetMode} | {m.name.lower(): m for m in AutoresetMode}
        key = re.sub(r"[-_ ]", "", mode.lower())
        matches = [m for name, m in by_name.items() if re.sub(r"[-_ ]", "", name) == key]
        if matches:
            mode = matches[0]
    if mode not in (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP):
        raise ValueError(f"autoreset_mode {mode!r}: gesture-lab's vector env supports NEXT_STEP and SAME_STEP")
    return mode


class GestureLabVectorEnv(VectorEnv):
    """``num_envs`` envs stepped in parallel on Rust threads (the rayon
    ``VecEnv`` the trainers use), with the GIL released while they step.

    Env i runs the episodes of the Rust ``VecEnv`` with the same seed, bit for
    bit, whatever ``threads``. ``autoreset_mode`` is Gymnasium's ``NEXT_STEP``
    (the default) or ``SAME_STEP``; the other keyword arguments are those of
    :class:`GestureLabEnv`. ``threads=0`` uses every core.
    """

    def __init__(
        self,
        num_envs: int = 1,
        task: str = "needle-reach",
        *,
        config: Mapping[str, Any] | None = None,
        config_file: Any = None,
        perturb: str | Mapping[str, Any] | None = None,
        grasp: str | None = None,
        threads: int = 0,
        autoreset_mode: Any = AutoresetMode.NEXT_STEP,
        render_mode: str | None = None,
    ):
        if render_mode is not None:
            raise ValueError(f"render_mode {render_mode!r}: gesture-lab envs draw in the viewer (`gesture-lab view`), not through Gymnasium")
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValueError(f"num_envs = {num_envs!r} must be a positive integer")
        if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 0:
            raise ValueError(f"threads = {threads!r} must be 0 (every core) or a positive integer")
        mode = _autoreset_mode(autoreset_mode)
        self._core = _core.VecEnv(
            int(num_envs),
            task,
            seed=0,
            threads=int(threads),
            autoreset="next-step" if mode == AutoresetMode.NEXT_STEP else "same-step",
            **_config_kwargs(config, config_file, perturb, grasp),
        )
        self.task = task
        self.num_envs = int(num_envs)
        self.metadata = {"render_modes": [], "autoreset_mode": mode}
        self.single_observation_space = _goal_spaces(self._core.observation_dim, self._core.goal_dim)
        self.single_action_space = spaces.Box(-1.0, 1.0, shape=(self._core.action_dim,), dtype=np.float32)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.max_episode_steps = self._core.max_episode_steps
        self._seeded = False

    @property
    def threads(self) -> int:
        return self._core.threads

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Resets every env. With ``seed=s``, env i runs the Rust ``VecEnv``'s
        episodes for seed s; without one, a seed is drawn from ``np_random``."""
        if seed is not None and not isinstance(seed, (int, np.integer)):
            raise ValueError(f"seed {seed!r}: gesture-lab's vector env takes one integer seed (env i's episodes derive from it)")
        super().reset(seed=seed)
        base = _check_seed(seed) if seed is not None else int(self.np_random.integers(_SEED_LIMIT))
        observation, achieved, desired = self._core.reset(base)
        return {"achieved_goal": achieved, "desired_goal": desired, "observation": observation}, {}

    def step(self, actions: Any):
        observation, achieved, desired, rewards, terminated, truncated, infos, final = self._core.step(_as_actions(actions, (self.num_envs, self._core.action_dim)))
        obs = {"achieved_goal": achieved, "desired_goal": desired, "observation": observation}
        if final is not None:
            (final_observation, final_achieved, final_desired), mask, final_info = final
            final_obs = np.full(self.num_envs, None, dtype=object)
            for i in np.flatnonzero(mask):
                final_obs[i] = {"achieved_goal": final_achieved[i], "desired_goal": final_desired[i], "observation": final_observation[i]}
            infos.update({"final_obs": final_obs, "_final_obs": mask, "final_info": final_info, "_final_info": mask})
        return obs, rewards, terminated, truncated, infos

    def compute_reward(self, achieved_goal: Any, desired_goal: Any, info: Any) -> Any:
        """As :meth:`GestureLabEnv.compute_reward`."""
        return _compute_reward(self._core, self._core.goal_dim, achieved_goal, desired_goal, info)
