"""Native training and policy bundles from Python: the Rust trainer and the
bundle loader behind `gesture-lab train` and `gesture-lab eval`."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from gesture_lab import _core
from gesture_lab.envs import _overrides_json, _perturb_spec


def _json(what: str, value: Mapping[str, Any] | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValueError(f"{what} must be a dict, not {type(value).__name__}")
    return _overrides_json(value)


def train(
    task: str = "needle-reach",
    algo: str = "sac-her",
    steps: int = 50_000,
    seed: int = 0,
    *,
    config: Mapping[str, Any] | None = None,
    out: str | os.PathLike | None = None,
    demos: Iterable[str | os.PathLike] = (),
    envs: int | None = None,
    threads: int = 0,
    task_config: Mapping[str, Any] | None = None,
    task_config_file: str | os.PathLike | None = None,
    perturb: str | Mapping[str, Any] | None = None,
    grasp: str | None = None,
    action_history: int | None = None,
    checkpoint_every: int = 10_000,
    resume: bool = False,
    keep: str = "last",
    quiet: bool = True,
) -> dict[str, Any]:
    """Trains ``algo`` (``"sac-her"``, ``"ppo"`` or ``"bc"``) on ``task`` as
    ``gesture-lab train`` does, with the GIL released, and writes the policy
    bundle to ``out`` (default ``policies/TASK-ALGO-seedS``).

    ``config`` holds hyper-parameters (any field of the algorithm's config,
    as the CLI's ``--config`` file); ``task_config``, ``task_config_file``,
    ``perturb`` and ``grasp`` shape the task as the env keywords do. The same
    arguments give the same weights as the CLI. Returns the run's figures:
    ``env_steps``, ``updates``, ``wall_s``, ``evaluation`` (the last one),
    ``kept`` (the one whose weights the bundle holds), ``curve`` and ``out``.
    """
    return _core.train(
        task,
        algo,
        steps,
        seed,
        None if out is None else os.fspath(out),
        config=_json("config", config),
        demos=[os.fspath(d) for d in demos],
        envs=envs,
        threads=threads,
        task_config_file=None if task_config_file is None else os.fspath(task_config_file),
        task_overrides=_json("task_config", task_config),
        perturb=_perturb_spec(perturb),
        grasp=grasp,
        action_history=action_history,
        checkpoint_every=checkpoint_every,
        resume=resume,
        keep=keep,
        quiet=quiet,
    )


class Policy:
    """A trained policy bundle, checked as ``gesture-lab eval`` checks it."""

    def __init__(self, core: Any):
        self._core = core

    @classmethod
    def load(cls, path: str | os.PathLike, task: str | None = None) -> Policy:
        """Loads the bundle in directory ``path``; a damaged or foreign bundle
        raises ``ValueError`` naming the file. With ``task``, a bundle trained
        for another task is refused too."""
        return cls(_core.Policy(os.fspath(path), task))

    @property
    def task(self) -> str:
        return self._core.task

    @property
    def algorithm(self) -> str:
        return self._core.algorithm

    @property
    def manifest(self) -> dict[str, Any]:
        return json.loads(self._core.manifest_json())

    def act(self, observation: Mapping[str, Any]) -> np.ndarray:
        """Deterministic actions for one observation dict (→ (A,)) or a batch
        of them (arrays (B, ·) → (B, A)), as the envs return them (A: 5 for
        the PSM's tasks, 4 for the camera's)."""
        parts = []
        for key in ("observation", "achieved_goal", "desired_goal"):
            if key not in observation:
                raise ValueError(f"the observation has no `{key}`")
            parts.append(np.asarray(observation[key], dtype=np.float32))
        single = parts[0].ndim == 1
        parts = [np.ascontiguousarray(p.reshape(1, -1) if single else p) for p in parts]
        actions = self._core.act(*parts)
        return actions[0] if single else actions

    def evaluate(self, episodes: int = 100, seed: int = 0, threads: int = 0, perturb: str | Mapping[str, Any] | None = None, grasp: str | None = None) -> dict[str, Any]:
        """``gesture-lab eval``: the same episodes and figures as ``eval --json``."""
        return self._core.evaluate(episodes, seed, threads, _perturb_spec(perturb), grasp)

    def __repr__(self) -> str:
        return repr(self._core)
