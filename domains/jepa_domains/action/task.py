"""Behaviour cloning: the action chunk of each step from the observation window that ends there.

Offline, the downstream task regresses the chunk (``chunk × action_dim``
values, in the actions' units) and :func:`chunk_mse` reports its error per
chunk step. On the demo task a policy also runs in closed loop
(:func:`rollout`): every step it predicts a chunk, and the action executed is
ACT's temporal ensemble of every chunk predicted for that step.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from jepa_platform.domain import DownstreamTask, JepaError, LabelSpec
from torch.utils.data import Dataset

from .config import ActionDataConfig, ActionTaskConfig, Normalization
from .dataset import Steps, concatenate, gather, gather_images, observation_vector, resolved

Policy = Callable[[dict[str, torch.Tensor]], torch.Tensor]
"""A batch ``{obs: B × W × F, obs_valid: B × W}`` -> ``B × chunk × action_dim`` actions in their units."""


class PolicyDataset(Dataset):
    """Every ``stride``-th step of each episode with a whole chunk ahead: the window ending there, its chunk."""

    def __init__(self, steps: Steps, data: ActionDataConfig, stride: int) -> None:
        self.steps, self.window, self.chunk = steps, data.window, data.chunk
        ends = [np.arange(0, max(0, n - data.chunk + 1), stride) for n in steps.lengths]
        self.episode = np.repeat(np.arange(len(ends)), [len(e) for e in ends])
        self.end = np.concatenate(ends) if ends else np.zeros(0, np.int64)

    def __len__(self) -> int:
        return len(self.end)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        episode, end = int(self.episode[i]), int(self.end[i])
        obs, valid = gather(self.steps.obs, self.steps, episode, end - self.window + 1, self.window)
        chunk, _ = gather(self.steps.raw_actions, self.steps, episode, end, self.chunk)
        return {
            "obs": torch.from_numpy(obs), "obs_valid": torch.from_numpy(valid),
            "label": torch.from_numpy(chunk.reshape(-1)), "group": torch.tensor(i),
            **gather_images(self.steps, episode, end - self.window + 1, self.window),
        }


def chunk_labels(norm: Normalization, chunk: int) -> LabelSpec:
    """Regression targets named ``t+k/a<j>``: action ``j`` at chunk step ``k``."""
    names = tuple(f"t+{k}/a{j}" for k in range(chunk) for j in range(norm.action_dim))
    return LabelSpec(names, multilabel=False, regression=True)


def build_task(root: Path, data: ActionDataConfig, task: ActionTaskConfig) -> DownstreamTask:
    """Behaviour cloning on the pretraining split's train / validation / test episodes."""
    from lightning.pytorch.utilities import rank_zero_info

    episodes, splits, data = resolved(root, data)
    assert data.normalization is not None
    rank_zero_info(f"action data: {episodes.line}")
    for split in ("val", "test"):
        if len(splits[split]) == 0:
            raise JepaError(f"{root}: no {split} episodes; raise data.{split}_percent")
    sets = {
        split: PolicyDataset(
            concatenate([episodes.episodes[i] for i in index], data.normalization), data,
            task.train_stride if split == "train" else 1,
        )
        for split, index in splits.items()
    }
    name = f"{task.name} ({root.stem})"
    labels = chunk_labels(data.normalization, data.chunk)
    return DownstreamTask(name, labels, task.metric, data, sets["train"], sets["val"], sets["test"])


def chunk_mse(predicted: torch.Tensor, target: torch.Tensor, chunk: int) -> list[float]:
    """Mean squared error of each chunk step (averaged over examples and action dimensions)."""
    errors = (predicted.double() - target.double()).reshape(len(target), chunk, -1).square()
    return errors.mean(dim=(0, 2)).tolist()


def ensemble_weights(count: int, decay: float) -> np.ndarray:
    """ACT's temporal-ensemble weights ``exp(-decay * i)`` of ``count`` chunks, oldest first, summing to 1."""
    weights = np.exp(-decay * np.arange(count))
    return weights / weights.sum()


def rollout(
    policy: Policy, data: ActionDataConfig, seeds: list[int], decay: float = 0.01, success_radius: float = 0.5,
    hold_steps: int = 50,
) -> dict[str, np.ndarray]:
    """Run ``policy`` on the demo task (``Pendulum-v1``) from ``reset(seed)`` of each seed, all in lockstep.

    Each step the policy sees the last ``data.window`` observations (normalized as in training; steps before
    the episode's start are padding) and predicts a chunk; the torque executed is the temporal ensemble of
    every chunk covering that step (ACT, weights ``exp(-decay * i)``, oldest first).

    Returns:
        ``returns`` (the episode returns) and ``success`` (the pendulum within ``success_radius`` rad of upright
        for each of the last ``hold_steps`` steps), one per seed.
    """
    from .demo import DEMO_KEYS, MAX_TORQUE, STEPS, make_env

    norm = data.normalization
    if norm is None:
        raise JepaError("data.normalization is not set: rollouts normalize observations as in training")
    keys = [key.name for key in norm.observations]
    if keys != list(DEMO_KEYS):
        raise JepaError(
            f"closed-loop rollouts run the demo task, whose observation keys are {list(DEMO_KEYS)}, not {keys}"
        )
    envs = [make_env() for _ in seeds]
    observations = np.stack([env.reset(seed=seed)[0] for env, seed in zip(envs, seeds)])
    count, window, chunk = len(seeds), data.window, data.chunk
    history = np.zeros((count, window, norm.obs_dim), np.float32)
    valid = np.zeros((count, window), bool)
    planned = np.zeros((count, STEPS, STEPS + chunk, norm.action_dim))  # chunk predicted at step s, for step s + k
    returns, angles = np.zeros(count), np.zeros((count, STEPS))
    split = np.cumsum([len(key.mean) for key in norm.observations])[:-1]
    for step in range(STEPS):
        parts = dict(zip(keys, np.split(observations, split, axis=1)))
        history = np.roll(history, -1, axis=1)
        history[:, -1] = observation_vector(parts, norm)
        valid = np.roll(valid, -1, axis=1)
        valid[:, -1] = True
        with torch.no_grad():
            predicted = policy({"obs": torch.from_numpy(history), "obs_valid": torch.from_numpy(valid)})
        planned[:, step, step : step + chunk] = predicted.detach().cpu().double().numpy()
        first = max(0, step - chunk + 1)
        weights = ensemble_weights(step - first + 1, decay)
        action = np.einsum("s,nsa->na", weights, planned[:, first : step + 1, step])
        action = np.clip(action, -MAX_TORQUE, MAX_TORQUE).astype(np.float32)
        for i, env in enumerate(envs):
            observations[i], reward, *_ = env.step(action[i])
            returns[i] += reward
            angles[i, step] = np.arctan2(observations[i, 1], observations[i, 0])
    for env in envs:
        env.close()
    return {"returns": returns, "success": np.all(np.abs(angles[:, -hold_steps:]) < success_radius, axis=1)}
