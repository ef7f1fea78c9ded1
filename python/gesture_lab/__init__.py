"""gesture-lab from Python: Gymnasium envs over the Rust simulator of the dVRK
Patient Side Manipulator.

Importing the package registers one Gymnasium id per task::

    import gymnasium as gym
    import gesture_lab

    env = gym.make("GestureLab/NeedleReach-v0")
    envs = gym.make_vec("GestureLab/NeedleReach-v0", num_envs=16)

    report = gesture_lab.train(task="needle-reach", algo="sac-her", steps=20_000, out="runs/nr")
    policy = gesture_lab.Policy.load("runs/nr")
"""

from gesture_lab._core import __version__, grasp_modes
from gesture_lab.envs import GestureLabEnv, GestureLabVectorEnv, env_id, register_envs, task_ids
from gesture_lab.training import Policy, train

register_envs()

__all__ = ["GestureLabEnv", "GestureLabVectorEnv", "Policy", "__version__", "env_id", "grasp_modes", "register_envs", "task_ids", "train"]
