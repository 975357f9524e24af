"""Episodes split by episode, normalized with training statistics, and served as windows of steps.

A pretraining sample is ``window`` consecutive steps of one episode: ``obs``
(``W × F``, normalized), ``obs_valid`` (``W``; ``False`` past the end of a
short episode), and the actions from its first step on, ``W + chunk - 1`` of
them (normalized), with ``action_valid``, so that the action chunk of any step
of the window can be read from it; with ``data.image_keys``, ``image/<key>``
(``W × H × W × C`` uint8 frames, zero past the end) for each camera.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from jepa_platform.domain import DatasetSplits, JepaError, LabelSpec
from torch.utils.data import Dataset

from .config import ActionDataConfig, ImageSpec, KeyStats, Normalization
from .readers import Episode, EpisodeSet, read_episodes


def read(root: Path, data: ActionDataConfig) -> EpisodeSet:
    """The episodes at ``root`` as ``data`` selects them."""
    return read_episodes(root, data.obs_keys, data.filter_key, data.label_keys, data.image_keys)


def split_episodes(names: list[str], data: ActionDataConfig) -> dict[str, np.ndarray]:
    """Episode indices of ``train``, ``val`` and ``test``: ranked by a CRC32 of the name, the first
    ``test_percent``% test, the next ``val_percent``% validation (whole episodes, the same on every machine)."""
    order = np.argsort([zlib.crc32(name.encode()) for name in names], kind="stable")
    test = int(round(len(names) * data.test_percent / 100))
    val = int(round(len(names) * data.val_percent / 100))
    if len(names) - test - val < 1:
        raise JepaError(f"{len(names)} episodes leave none for training after data.test_percent and data.val_percent")
    parts = {"test": order[:test], "val": order[test : test + val], "train": order[test + val :]}
    return {name: np.sort(index) for name, index in parts.items()}


def _stats(name: str, values: np.ndarray) -> KeyStats:
    std = values.std(axis=0)
    return KeyStats(name=name, mean=values.mean(axis=0).tolist(), std=np.where(std > 1e-6, std, 1.0).tolist())


def fit_normalization(episodes: EpisodeSet, train: np.ndarray) -> Normalization:
    """Per-key means and standard deviations over every step of the training episodes ``train``."""
    chosen = [episodes.episodes[i] for i in train]
    observations = [_stats(key, np.concatenate([e.observations[key] for e in chosen])) for key in episodes.keys]
    first = episodes.episodes[0].images
    return Normalization(
        layout=episodes.layout, observations=observations,
        actions=_stats("actions", np.concatenate([e.actions for e in chosen])),
        images=[ImageSpec(name=key, shape=first[key].shape[1:]) for key in first],
    )


def resolved(root: Path, data: ActionDataConfig) -> tuple[EpisodeSet, dict[str, np.ndarray], ActionDataConfig]:
    """The episodes, their split, and ``data`` with the normalization (fitted on the training episodes when unset)."""
    episodes = read(root, data)
    splits = split_episodes([e.name for e in episodes.episodes], data)
    if data.normalization is None:
        data = data.model_copy(update={"normalization": fit_normalization(episodes, splits["train"])})
    assert data.normalization is not None
    check_keys(root, episodes, data.normalization)
    return episodes, splits, data


def check_keys(root: Path, episodes: EpisodeSet, norm: Normalization) -> None:
    """The episodes' observation and image keys (and image shapes) must be those ``norm`` was fitted on."""
    saved = [key.name for key in norm.observations]
    if saved != episodes.keys:
        raise JepaError(f"{root}: observation keys {episodes.keys} differ from the saved normalization's {saved}")
    found = {key: tuple(frames.shape[1:]) for key, frames in episodes.episodes[0].images.items()}
    expected = {spec.name: tuple(spec.shape) for spec in norm.images}
    if found != expected:
        raise JepaError(f"{root}: image keys and shapes {found} differ from the saved normalization's {expected}")


@dataclass
class Steps:
    """Episodes concatenated: normalized observations ``S × F``, actions ``S × A`` (normalized and raw), offsets."""

    obs: np.ndarray
    actions: np.ndarray
    raw_actions: np.ndarray
    starts: np.ndarray
    lengths: np.ndarray
    labels: np.ndarray
    images: dict[str, np.ndarray]
    """Camera frames per image key, ``S × H × W × C`` uint8."""


def normalize(values: np.ndarray, stats: KeyStats) -> np.ndarray:
    return (values - np.asarray(stats.mean)) / np.asarray(stats.std)


def observation_vector(observations: dict[str, np.ndarray], norm: Normalization) -> np.ndarray:
    """Observations per key (``T × F_k``) as one normalized ``T × F`` float32 array, keys in the saved order."""
    parts = []
    for stats in norm.observations:
        values = observations[stats.name]
        if values.shape[-1] != len(stats.mean):
            raise JepaError(
                f"observation key '{stats.name}' has width {values.shape[-1]}, the normalization {len(stats.mean)}"
            )
        parts.append(normalize(values, stats))
    return np.concatenate(parts, axis=-1).astype(np.float32)


def concatenate(episodes: list[Episode], norm: Normalization) -> Steps:
    """``episodes`` as :class:`Steps`, normalized with ``norm``."""
    if episodes and episodes[0].actions.shape[1] != norm.action_dim:
        raise JepaError(f"actions have width {episodes[0].actions.shape[1]}, the normalization {norm.action_dim}")
    lengths = np.array([len(e.actions) for e in episodes], dtype=np.int64)
    raw = np.concatenate([e.actions for e in episodes]) if episodes else np.zeros((0, norm.action_dim))
    obs = [observation_vector(e.observations, norm) for e in episodes]
    return Steps(
        obs=np.concatenate(obs) if obs else np.zeros((0, norm.obs_dim), np.float32),
        actions=normalize(raw, norm.actions).astype(np.float32),
        raw_actions=raw.astype(np.float32),
        starts=np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64),
        lengths=lengths,
        labels=np.array([e.label for e in episodes], dtype=np.int64),
        images={
            spec.name: np.concatenate([e.images[spec.name] for e in episodes])
            if episodes else np.zeros((0, *spec.shape), np.uint8)
            for spec in norm.images
        },
    )


def gather(values: np.ndarray, steps: Steps, episode: int, first: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``first .. first + count - 1`` of an episode (zero and ``False`` outside it) and their validity."""
    relative = first + np.arange(count)
    valid = (relative >= 0) & (relative < steps.lengths[episode])
    rows = values[steps.starts[episode] + np.clip(relative, 0, steps.lengths[episode] - 1)]
    return np.where(valid[:, None], rows, 0).astype(np.float32), valid


def gather_images(steps: Steps, episode: int, first: int, count: int) -> dict[str, torch.Tensor]:
    """``image/<key>``: frames ``first .. first + count - 1`` of an episode per camera (uint8, zero outside it)."""
    relative = first + np.arange(count)
    valid = (relative >= 0) & (relative < steps.lengths[episode])
    rows = steps.starts[episode] + np.clip(relative, 0, steps.lengths[episode] - 1)
    return {
        f"image/{key}": torch.from_numpy(frames[rows] * valid[:, None, None, None].astype(np.uint8))
        for key, frames in steps.images.items()
    }


class WindowDataset(Dataset):
    """Pretraining windows of ``data.window`` steps starting every ``data.stride`` steps of each episode."""

    def __init__(self, steps: Steps, data: ActionDataConfig, labelled: bool) -> None:
        self.steps, self.window, self.chunk, self.labelled = steps, data.window, data.chunk, labelled
        firsts = [np.unique(np.r_[np.arange(0, max(1, n - data.window + 1), data.stride), max(0, n - data.window)])
                  for n in steps.lengths]
        self.episode = np.repeat(np.arange(len(firsts)), [len(f) for f in firsts])
        self.first = np.concatenate(firsts) if firsts else np.zeros(0, np.int64)

    def __len__(self) -> int:
        return len(self.first)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        episode, first = int(self.episode[i]), int(self.first[i])
        obs, obs_valid = gather(self.steps.obs, self.steps, episode, first, self.window)
        actions, action_valid = gather(self.steps.actions, self.steps, episode, first, self.window + self.chunk - 1)
        sample = {
            "obs": torch.from_numpy(obs), "obs_valid": torch.from_numpy(obs_valid),
            "actions": torch.from_numpy(actions), "action_valid": torch.from_numpy(action_valid),
            **gather_images(self.steps, episode, first, self.window),
        }
        if self.labelled:
            sample["label"] = torch.tensor(self.steps.labels[episode])
        return sample


def file_windows(path: Path, data: ActionDataConfig) -> dict[str, np.ndarray]:
    """Every window of every episode in the file at ``path`` (whatever its split or filter key), normalized with
    the saved statistics, as arrays with a leading axis of windows; for embedding one file."""
    if data.normalization is None:
        raise JepaError("data.normalization is not set: embed with an encoder whose recipe was resolved")
    episodes = read_episodes(path, data.obs_keys, image_keys=data.image_keys)
    check_keys(path, episodes, data.normalization)
    windows = WindowDataset(concatenate(episodes.episodes, data.normalization), data, labelled=False)
    if not len(windows):
        raise JepaError(f"{path}: gives no window of data.window={data.window} steps")
    items = [windows[i] for i in range(len(windows))]  # one file's windows, not a training loop
    return {key: torch.stack([item[key] for item in items]).numpy() for key in items[0]}


def label_spec(data: ActionDataConfig) -> LabelSpec | None:
    """The classes ``data.label_keys`` name (each demo's filter key), or ``None``."""
    return LabelSpec(tuple(data.label_keys), multilabel=False) if data.label_keys else None


def load_splits(root: Path, data: ActionDataConfig) -> DatasetSplits:
    """Pretraining windows of the training and validation episodes; the test episodes stay held out."""
    episodes, splits, data = resolved(root, data)
    assert data.normalization is not None
    labels = label_spec(data)
    sets = {
        split: WindowDataset(concatenate([episodes.episodes[i] for i in index], data.normalization), data, bool(labels))
        for split, index in splits.items() if split != "test"
    }
    counts = {split: len(index) for split, index in splits.items()}
    return DatasetSplits(
        train=sets["train"],
        val=sets["val"] if len(sets["val"]) else None,
        labels=labels,
        stats={"episodes_train": counts["train"], "episodes_val": counts["val"], "episodes_test": counts["test"]},
        notes=[episodes.line, f"episodes: {counts['train']} train, {counts['val']} validation, {counts['test']} test "
               "(held out for downstream evaluation), split by episode"],
    )
