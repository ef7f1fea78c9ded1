"""gesture-lab from Python: Gymnasium envs over the Rust simulator of the dVRK
Patient Side Manipulator.

Importing the package registers one Gymnasium id per task::

    import gymnasium as gym
    import gesture_lab

    env = gym.make("GestureLab/NeedleReach-v0")
    envs = gym.make_vec("GestureLab/NeedleReach-v0", num_envs=16)
"""

from gesture_lab._core import __version__, grasp_modes
from gesture_lab.envs import GestureLabEnv, GestureLabVectorEnv, env_id, register_envs, task_ids

register_envs()

__all__ = ["GestureLabEnv", "GestureLabVectorEnv", "__version__", "env_id", "grasp_modes", "register_envs", "task_ids"]
