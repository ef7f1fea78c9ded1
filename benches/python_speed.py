"""gesture-lab from Python, measured side by side in one run (issue 11):

1. ``single``: one env's ``env.step`` from Python against Gymnasium-MuJoCo
   Pusher-v5's, the same seeds and random actions, interleaved rounds;
2. ``vector``: ``make_vec`` with 64 envs on 2 threads against the Rust
   ``gesture-lab bench env`` figure for the same VecEnv;
3. ``sb3``: SB3 SAC+HER on NeedleReach through ``GestureLabSB3VecEnv``: env
   steps/s and success after 20k env steps (needs stable-baselines3);
4. ``check``: SB3's own ``check_env`` on every task (CI runs Gymnasium's; SB3
   needs torch, which CI leaves out).

    python benches/python_speed.py --cli target/release/gesture-lab [--parts single vector sb3] [--out speed.json]

Figures are printed as JSON. Not a test: speeds go in benchmarks.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

import gymnasium as gym
import numpy as np

import gesture_lab


def steps_per_s(env: gym.Env, seconds: float, seed: int) -> float:
    """Random-action env steps per second of ``env`` over about ``seconds``."""
    env.reset(seed=seed)
    env.action_space.seed(seed)
    actions = [env.action_space.sample() for _ in range(1024)]
    steps, start = 0, time.perf_counter()
    while True:
        for a in actions:
            _, _, terminated, truncated, _ = env.step(a)
            if terminated or truncated:
                env.reset()
        steps += len(actions)
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return steps / elapsed


def single(rounds: int, seconds: float, task: str) -> dict:
    ours = gym.make(gesture_lab.env_id(task))
    pusher = gym.make("Pusher-v5")
    rows = []
    for r in range(rounds):
        a = steps_per_s(ours, seconds, seed=r)
        b = steps_per_s(pusher, seconds, seed=r)
        rows.append({"gesture_lab": a, "pusher_v5": b, "ratio": a / b})
    return {
        "task": task,
        "rounds": rows,
        "median_ratio": statistics.median(r["ratio"] for r in rows),
        "gesture_lab_steps_per_s": statistics.median(r["gesture_lab"] for r in rows),
        "pusher_v5_steps_per_s": statistics.median(r["pusher_v5"] for r in rows),
    }


def vector_steps_per_s(num_envs: int, threads: int, seconds: float, task: str) -> float:
    envs = gym.make_vec(gesture_lab.env_id(task), num_envs=num_envs, threads=threads)
    envs.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = [rng.uniform(-1, 1, size=(num_envs, 5)).astype(np.float32) for _ in range(64)]
    steps, start = 0, time.perf_counter()
    while True:
        for a in actions:
            envs.step(a)
        steps += num_envs * len(actions)
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return steps / elapsed


def vector(rounds: int, seconds: float, task: str, cli: str) -> dict:
    rows = []
    for _ in range(rounds):
        rust = json.loads(subprocess.run([cli, "bench", "env", "--task", task, "--envs", "64", "--threads", "2", "--seconds", str(seconds), "--policy", "random", "--json"], check=True, capture_output=True, text=True).stdout)
        py = vector_steps_per_s(64, 2, seconds, task)
        rows.append({"python": py, "rust": rust["env_steps_per_s_threads"], "ratio": py / rust["env_steps_per_s_threads"]})
    return {"task": task, "envs": 64, "threads": 2, "rounds": rows, "median_ratio": statistics.median(r["ratio"] for r in rows)}


def sb3(steps: int, num_envs: int, task: str) -> dict:
    from stable_baselines3 import SAC, HerReplayBuffer

    from gesture_lab.sb3 import GestureLabSB3VecEnv, evaluate_sb3

    env = GestureLabSB3VecEnv(task, num_envs=num_envs, seed=0, threads=2)
    model = SAC(
        "MultiInputPolicy",
        env,
        replay_buffer_class=HerReplayBuffer,
        replay_buffer_kwargs={"n_sampled_goal": 4, "goal_selection_strategy": "future"},
        learning_starts=1000,
        batch_size=256,
        gamma=0.95,
        train_freq=1,
        gradient_steps=max(1, num_envs // 2),
        seed=0,
        verbose=0,
        device="cpu",
    )
    start = time.perf_counter()
    model.learn(steps)
    wall = time.perf_counter() - start
    evaluation = evaluate_sb3(model, task, episodes=50, seed=10_000)
    return {"task": task, "env_steps": steps, "envs": num_envs, "wall_s": wall, "env_steps_per_s": steps / wall, **evaluation}


def sb3_check() -> dict:
    import warnings

    from stable_baselines3.common.env_checker import check_env

    passed = {}
    for task in gesture_lab.task_ids():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            check_env(gym.make(gesture_lab.env_id(task)).unwrapped, warn=False)
        passed[task] = True
    return passed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", nargs="+", default=["check", "single", "vector", "sb3"], choices=["check", "single", "vector", "sb3"])
    parser.add_argument("--task", default="needle-reach")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--cli", default="target/release/gesture-lab", help="the release gesture-lab binary (for `vector`)")
    parser.add_argument("--sb3-steps", type=int, default=20_000)
    parser.add_argument("--sb3-envs", type=int, default=8)
    parser.add_argument("--out")
    args = parser.parse_args()
    report = {"gesture_lab": gesture_lab.__version__, "gymnasium": gym.__version__}
    if "check" in args.parts:
        report["sb3_check_env"] = sb3_check()
    if "single" in args.parts:
        report["single"] = single(args.rounds, args.seconds, args.task)
    if "vector" in args.parts:
        report["vector"] = vector(args.rounds, args.seconds, args.task, args.cli)
    if "sb3" in args.parts:
        report["sb3"] = sb3(args.sb3_steps, args.sb3_envs, args.task)
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
