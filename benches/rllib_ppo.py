"""RLlib PPO on gesture-lab's native vector env (issue 11): env steps/s with 1
and 2 env runners, and the final success on NeedleReach.

RLlib's new API stack: each env runner builds gesture-lab's rayon VecEnv
through Gymnasium's ``vector_entry_point`` (next-step autoreset, as RLlib
expects), and the ``FlattenObservations`` connector turns the goal env's Dict
observations into one vector for the default MLP module. The reward is made
dense (minus the distance in metres): PPO has no hindsight relabelling.

    pip install "ray[rllib]" torch          # ray[rllib] pins gymnasium 1.2.2
    python benches/rllib_ppo.py --runners 1 2 --iterations 40 [--out rllib.json]

Needs torch, so it is not part of CI.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import gymnasium as gym
import numpy as np

import gesture_lab

TASK = "needle-reach"
ENV_CONFIG = {"config": {"episode": {"reward": "dense"}}}


def make_env(ctx):
    """RLlib's env creator: the native vector env when it asks for `num_envs`."""
    kwargs = {k: v for k, v in dict(ctx).items() if k != "num_envs"}
    if "num_envs" in ctx:
        return gesture_lab.GestureLabVectorEnv(ctx["num_envs"], TASK, threads=1, **kwargs)
    return gesture_lab.GestureLabEnv(TASK, **kwargs)


def build(runners: int, envs_per_runner: int, batch: int, seed: int):
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.connectors.env_to_module import FlattenObservations
    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig
    from ray.tune.registry import register_env

    register_env("gesture-lab-needle-reach", make_env)
    config = (
        PPOConfig()
        .environment("gesture-lab-needle-reach", env_config=ENV_CONFIG)
        .env_runners(
            num_env_runners=runners,
            num_envs_per_env_runner=envs_per_runner,
            num_cpus_per_env_runner=1,
            gym_env_vectorize_mode="vector_entry_point",
            env_to_module_connector=lambda env, spaces=None, device=None: FlattenObservations(),
        )
        .learners(num_learners=0)
        .training(train_batch_size_per_learner=batch, minibatch_size=256, num_epochs=8, lr=3e-4, gamma=0.98, lambda_=0.95, entropy_coeff=0.0)
        .rl_module(model_config=DefaultModelConfig(fcnet_hiddens=[128, 128], fcnet_activation="tanh"))
        .debugging(seed=seed)
    )
    return config.build_algo()


def evaluate(algo, episodes: int, seed: int) -> dict:
    """Deterministic actions (the Gaussian's mean) of the trained module on
    ``episodes`` seeded NeedleReach episodes with the task's sparse success."""
    import torch

    module = algo.get_module()
    env = gym.make(gesture_lab.env_id(TASK))
    successes, errors = [], []
    for k in range(episodes):
        obs, _ = env.reset(seed=seed + k)
        while True:
            flat = np.concatenate([obs[key] for key in sorted(obs)])[None, :]
            with torch.no_grad():
                out = module.forward_inference({"obs": torch.from_numpy(flat)})
            mean = out["action_dist_inputs"][0, :5].numpy()
            obs, _, terminated, truncated, info = env.step(np.clip(mean, -1, 1))
            if terminated or truncated:
                break
        successes.append(info["is_success"])
        errors.append(info["tip_error_mm"])
    return {"success_rate": float(np.mean(successes)), "mean_final_error_mm": float(np.mean(errors)), "episodes": episodes}


def run(runners: int, iterations: int, envs_per_runner: int, batch: int, seed: int) -> dict:
    algo = build(runners, envs_per_runner, batch, seed)
    start = time.perf_counter()
    sampled = 0
    curve = []
    for i in range(iterations):
        result = algo.train()
        sampled = result["env_runners"]["num_env_steps_sampled_lifetime"]
        curve.append({"iteration": i + 1, "env_steps": sampled, "wall_s": time.perf_counter() - start, "episode_return_mean": result["env_runners"].get("episode_return_mean")})
    wall = time.perf_counter() - start
    report = {"env_runners": runners, "envs_per_runner": envs_per_runner, "iterations": iterations, "env_steps": sampled, "wall_s": wall, "env_steps_per_s": sampled / wall, "curve": curve}
    report["evaluation"] = evaluate(algo, 50, 10_000)
    algo.stop()
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runners", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--iterations", type=int, default=40)
    parser.add_argument("--envs-per-runner", type=int, default=16)
    parser.add_argument("--batch", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out")
    args = parser.parse_args()
    import ray

    ray.init(num_cpus=max(args.runners) + 1, include_dashboard=False)
    reports = [run(n, args.iterations, args.envs_per_runner, args.batch, args.seed) for n in args.runners]
    text = json.dumps({"task": TASK, "runs": reports}, indent=2, default=float)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
