"""Small HDF5 episode files in the layouts robot-learning tools write, for the action domain's tests."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np


def trajectory(steps: int, seed: int, state_dim: int = 4, action_dim: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """States of a damped oscillator driven by smooth actions (``steps × state_dim``, ``steps × action_dim``)."""
    rng = np.random.default_rng(seed)
    t = np.arange(steps)[:, None]
    actions = np.sin(0.1 * t + rng.uniform(0, 6, action_dim)) * rng.uniform(0.5, 1.5, action_dim)
    phases = rng.uniform(0, 6, state_dim)
    states = np.cos(0.05 * t * np.arange(1, state_dim + 1) + phases) + 0.1 * np.tile(actions, state_dim)[:, :state_dim]
    return states, actions


def frames(steps: int, shape: tuple[int, int, int], seed: int) -> np.ndarray:
    """``steps`` random uint8 camera frames of ``shape`` (height, width, channels)."""
    return np.random.default_rng(seed).integers(0, 256, (steps, *shape), dtype=np.uint8)


def write_robomimic(
    path: Path, demos: int = 6, steps: int = 40, masks: dict[str, list[str]] | None = None,
    image_shape: tuple[int, int, int] = (8, 8, 3),
) -> Path:
    """robomimic: ``data/demo_N/obs/{eef_pos, gripper, agentview_image}``, ``actions``, ``rewards``, ``dones``."""
    with h5py.File(path, "w") as file:
        data = file.create_group("data")
        data.attrs["env_args"] = '{"env_name": "Lift", "type": 1}'
        for i in range(demos):
            states, actions = trajectory(steps + i, seed=i)
            demo = data.create_group(f"demo_{i}")
            demo.attrs["num_samples"] = len(actions)
            demo.create_dataset("obs/eef_pos", data=states[:, :3])
            demo.create_dataset("obs/gripper", data=states[:, 3])  # a 1-D key: one value per step
            demo.create_dataset("obs/agentview_image", data=frames(len(actions), image_shape, seed=100 + i))
            demo.create_dataset("actions", data=actions)
            demo.create_dataset("rewards", data=np.zeros(len(actions)))
            demo.create_dataset("dones", data=np.zeros(len(actions), np.int64))
            demo.create_dataset("states", data=states)
        for key, names in (masks or {}).items():
            file.create_dataset(f"mask/{key}", data=np.array(names, dtype="S"))
    return path


def write_robosuite(path: Path, demos: int = 6, steps: int = 40, state_dim: int = 6) -> Path:
    """robosuite's raw demonstrations: ``data/demo_N/{states, actions}`` and the MuJoCo model; no ``obs``."""
    with h5py.File(path, "w") as file:
        data = file.create_group("data")
        data.attrs["env"] = "Lift"
        data.attrs["repository_version"] = "1.4.1"
        for i in range(demos):
            states, actions = trajectory(steps + 3 * i, seed=10 + i, state_dim=state_dim, action_dim=3)
            demo = data.create_group(f"demo_{i + 1}")
            demo.attrs["model_file"] = "<mujoco model='base'></mujoco>"
            demo.create_dataset("states", data=states)
            demo.create_dataset("actions", data=actions)
    return path


def write_aloha(
    folder: Path, episodes: int = 3, steps: int = 30, cameras: tuple[str, ...] = ("top",),
    image_shape: tuple[int, int, int] = (6, 8, 3),
) -> Path:
    """ALOHA/ACT: one ``episode_N.hdf5`` per episode with ``observations/{qpos, qvel, images/<camera>}`` and
    ``action``."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(episodes):
        states, actions = trajectory(steps, seed=20 + i, state_dim=14, action_dim=14)
        with h5py.File(folder / f"episode_{i}.hdf5", "w", rdcc_nbytes=1024**2) as file:
            file.attrs["sim"] = True
            obs = file.create_group("observations")
            obs.create_dataset("qpos", data=states)
            obs.create_dataset("qvel", data=np.diff(states, axis=0, prepend=states[:1]))
            for j, camera in enumerate(cameras):
                obs.create_dataset(
                    f"images/{camera}", data=frames(steps, image_shape, seed=200 + 10 * i + j), chunks=(1, *image_shape)
                )
            file.create_dataset("action", data=actions)
    return folder
