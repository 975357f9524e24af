"""The BEV object task: per token cell, background or the class of the ``label_2`` boxes covering most of it.

The labels are :func:`~.dataset.token_labels`, from the raw frames or from the
``label`` column of prepared shards; labelled frames are split by ``task.seed``
in reading order, so both sources give the same split. Metrics: per-class IoU
and AP of the cell predictions, their means over the object classes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from jepa_platform.domain import DownstreamTask, JepaError, PreparedShards

from .config import LidarDataConfig, LidarTaskConfig
from .dataset import VoxelDataset, columns_of, load_frames, token_label_spec, token_labels


def split_task(
    columns: dict[str, np.ndarray], labelled: np.ndarray, data: LidarDataConfig, task: LidarTaskConfig, source: str
) -> DownstreamTask:
    """The task on frame arrays in reading order, of which ``labelled`` ones have labels: ``task.val_fraction`` and
    ``task.test_fraction`` of those (seeded by ``task.seed``) select and test, the rest train.

    Raises:
        JepaError: Fewer than 3 frames have labels.
    """
    if labelled.sum() < 3:
        raise JepaError(f"{source}: the BEV task needs at least 3 frames with label_2 files, found {labelled.sum()}")
    order = np.flatnonzero(labelled)[np.random.default_rng(task.seed).permutation(int(labelled.sum()))]
    val = max(1, round(task.val_fraction * len(order)))
    test = max(1, round(task.test_fraction * len(order)))
    splits = {"val": order[:val], "test": order[val: val + test], "train": order[val + test:]}
    datasets = {name: VoxelDataset(columns, np.sort(index)) for name, index in splits.items()}
    return DownstreamTask(f"{task.name}-seed{task.seed}", token_label_spec(data), "mean_iou", data,
                          datasets["train"], datasets["val"], datasets["test"])


def build_task(root: Path, data: LidarDataConfig, task: LidarTaskConfig) -> DownstreamTask:
    """The BEV task on the labelled frames at ``root`` (see :func:`split_task`)."""
    frames = load_frames(root, data)
    labelled = np.array([boxes is not None for boxes in frames.boxes])
    labels = np.zeros((len(labelled), int(np.prod(data.token_grid))), dtype=np.int64)
    for index in np.flatnonzero(labelled):
        labels[index] = token_labels(frames.boxes[index], data)
    return split_task(columns_of(frames, labels), labelled, data, task, str(root))


def build_task_from_shards(shards: PreparedShards, data: LidarDataConfig, task: LidarTaskConfig) -> DownstreamTask:
    """The BEV task on prepared scans (in their reading order, from the ``frame`` column): the same labels and split
    as :func:`build_task` on the scans they were prepared from.

    Raises:
        JepaError: The shards hold no per-token labels (some scan had no ``label_2`` file when prepared).
    """
    contents = shards.contents
    if shards.labels != token_label_spec(data) or "label" not in contents.samples:
        raise JepaError(f"{shards.location}: the shards hold no BEV token labels (prepared from scans without "
                        f"label_2 files for every frame, or with other classes); prepare labelled scans")
    order = np.argsort(contents.meta["frame"])
    columns = {key: contents.samples[key][order] for key in ("voxels", "coords", "count", "label")}
    return split_task(columns, np.ones(len(order), dtype=bool), data, task, shards.location)
