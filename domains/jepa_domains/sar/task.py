"""The k-shot classification task on class folders (MSTAR SOC): seeded shots per class, a validation pick, every test chip."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from jepa_platform.domain import DownstreamTask, JepaError, LabelSpec, NanReport, PreparedShards

from .config import SARDataConfig, SARTaskConfig
from .dataset import ChipDataset, Chips, is_mstar_layout, load_chips


def build_task(root: Path | list[Path], data: SARDataConfig, task: SARTaskConfig) -> DownstreamTask:
    """Classify the classes: ``task.shots`` chips per class (seeded) from ``train_dir`` to train,
    ``task.val_per_class`` other ones to select the model, every chip of ``test_dir`` to test."""
    if not isinstance(root, Path):
        raise JepaError(f"a SAR task reads one MSTAR-like folder, not a list of {len(root)} paths")
    if not is_mstar_layout(root, data) or not (root / data.test_dir).is_dir():
        raise JepaError(f"{root}: a SAR task needs class folders under '{data.train_dir}' and '{data.test_dir}'")
    train = load_chips(root / data.train_dir, data, classes=True)
    test = load_chips(root / data.test_dir, data, classes=True)
    for chips, folder in ((train, data.train_dir), (test, data.test_dir)):
        if line := chips.nan.line(f"SAR chips of {root / folder}", "chips", "chips"):
            warnings.warn(line, stacklevel=2)
    return kshot_task(train, test, data, task, root)


def build_task_from_shards(shards: PreparedShards, data: SARDataConfig, task: SARTaskConfig) -> DownstreamTask:
    """The same task on prepared chips: ``train`` and ``val`` are the ``train_dir`` chips, ``test`` the
    ``test_dir`` ones, each in reading order (their ``chip`` number), so the same seed picks the same shots.

    Raises:
        JepaError: The shards were not prepared from class folders under ``train_dir`` and ``test_dir``.
    """
    samples, meta, split = shards.contents.samples, shards.contents.meta, shards.contents.split
    if "label" not in samples or "test_classes" not in shards.info:
        raise JepaError(f"{shards.location}: a SAR task needs class folders under '{data.train_dir}' and "
                        f"'{data.test_dir}'; these shards were prepared from chips without them")

    def chips(rows: np.ndarray, classes: list[str]) -> Chips:
        rows = rows[np.argsort(meta["chip"][rows])]
        amplitude, labels = (torch.from_numpy(samples[key][rows]) for key in ("amplitude", "label"))
        return Chips(amplitude, labels, tuple(classes), NanReport(data.nan_policy, data.max_nan_fraction))

    train = chips(np.flatnonzero(split != "test"), shards.info["classes"])
    test = chips(np.flatnonzero(split == "test"), shards.info["test_classes"])
    return kshot_task(train, test, data, task, shards.location)


def kshot_task(
    train: Chips, test: Chips, data: SARDataConfig, task: SARTaskConfig, where: Path | str
) -> DownstreamTask:
    """The task on labelled ``train`` and ``test`` chips (in reading order); ``where`` names the data in errors."""
    if train.classes != test.classes:
        raise JepaError(
            f"{where}: classes of {data.train_dir} {list(train.classes)} differ from "
            f"{data.test_dir} {list(test.classes)}"
        )
    assert train.labels is not None
    rng = np.random.default_rng(task.seed)
    keys = rng.random(len(train.labels))  # a random rank within each class picks the shots
    labels = train.labels.numpy()
    order = np.lexsort((keys, labels))
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order)) - np.searchsorted(labels[order], labels[order])
    counts = np.bincount(labels, minlength=len(train.classes))
    shots = task.shots if task.shots is not None else int(counts.min()) - task.val_per_class
    if counts.min() < shots + task.val_per_class or shots < 1:
        raise JepaError(
            f"{where}/{data.train_dir}: a class has {counts.min()} chips; task.shots ({task.shots}) "
            f"+ task.val_per_class ({task.val_per_class}) need more"
        )
    train_index = np.flatnonzero(rank < shots)
    val_index = np.flatnonzero((rank >= shots) & (rank < shots + task.val_per_class))
    spec = LabelSpec(train.classes, multilabel=False)
    name = f"{task.name}-{shots}shot-seed{task.seed}"
    return DownstreamTask(
        name, spec, "accuracy", data,
        ChipDataset(train, train_index, True), ChipDataset(train, val_index, True),
        ChipDataset(test, np.arange(len(test.amplitude)), True),
    )
