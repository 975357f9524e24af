"""Episodes as ``jepa-platform prepare`` items: windowed and normalized exactly as the training datasets are.

Each episode gives its windows as :class:`~.dataset.WindowDataset` serves them, as fixed-size arrays: ``obs``
(``window × F``), ``obs_valid`` (``window``), ``actions`` (``window + chunk - 1 × A``), ``action_valid``, and
with ``data.label_keys`` the episode's ``label``; with ``episode`` (``file:demo``) and ``first`` (the window's
first step) as metadata. Episodes are split as pretraining splits them (the test episodes are kept, as
``test``), and normalized with the statistics the resolved ``data.normalization`` holds (fitted on the training
episodes), which the manifest's ``data`` section carries to ``pretrain --data SHARDS``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from jepa_platform.domain import JepaError, PreparedSamples, PrepareSource

from .config import ActionDataConfig
from .dataset import WindowDataset, concatenate, label_spec, resolved
from .readers import Episode


def _digest(episode: Episode) -> str:
    """A SHA-256 of the episode's steps and class, so the manifest's items hash changes with the data."""
    digest = hashlib.sha256(f"{episode.label}".encode())
    for values in (*episode.observations.values(), episode.actions):
        digest.update(np.ascontiguousarray(values).tobytes())
    return digest.hexdigest()


@dataclass(repr=False)
class ActionItem:
    """One episode to prepare, its split and the digest of its contents."""

    episode: Episode
    split: str
    digest: str

    def __str__(self) -> str:
        return self.episode.name

    def __repr__(self) -> str:
        return f"ActionItem({self.episode.name!r}, {self.split!r}, {self.digest})"


def prepare_source(root: Path, data: ActionDataConfig) -> PrepareSource:
    """Every episode at ``root`` as ``data`` selects them, split by episode as pretraining splits them."""
    episodes, splits, data = resolved(root, data)
    split_of = {int(i): name for name, index in splits.items() for i in index}
    items = [ActionItem(e, split_of[i], _digest(e)) for i, e in enumerate(episodes.episodes)]
    return PrepareSource(items, label_spec(data), unit="episode")


def prepare_item(item: ActionItem, data: ActionDataConfig) -> PreparedSamples:
    """The windows of one episode, as :class:`~.dataset.WindowDataset` serves them."""
    if data.normalization is None:
        raise JepaError("data.normalization is not set: resolve the recipe (it is fitted on the training episodes)")
    windows = WindowDataset(concatenate([item.episode], data.normalization), data, labelled=bool(data.label_keys))
    items = [windows[i] for i in range(len(windows))]  # one episode's windows, once, offline
    samples = {key: torch.stack([sample[key] for sample in items]).numpy() for key in items[0]}
    meta = {"episode": np.full(len(items), item.episode.name), "first": windows.first.astype(np.int64)}
    return PreparedSamples(samples, meta, np.full(len(items), item.split))
