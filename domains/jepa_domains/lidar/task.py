"""The BEV object task: per token cell, background or the class of the ``label_2`` boxes covering most of it.

Each token covers ``token_cells × token_cells`` BEV cells; up to ``SAMPLES²`` points
spread evenly over it, and the centre of each box, are tested against the frame's
boxes (in the sensor frame, from ``label_2`` through ``calib``); the class holding
the most of them labels the token, background when none does (so an object smaller
than the sample spacing still labels the token of its centre). Metrics: per-class IoU and AP
of the cell predictions, their means over the object classes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from jepa_platform.domain import DownstreamTask, JepaError, LabelSpec

from .config import LidarDataConfig, LidarTaskConfig
from .dataset import VoxelDataset, load_frames
from .readers import Boxes

SAMPLES = 8
"""Test points per token side, at most (one per BEV cell when tokens are smaller)."""


def token_labels(boxes: Boxes, data: LidarDataConfig) -> np.ndarray:
    """``h·w`` int64 token labels of one frame: 0 background, ``k + 1`` the class ``data.classes[k]``."""
    h, w = data.token_grid
    x0, y0 = data.point_range[:2]
    side = data.token_cells * np.asarray(data.voxel_size[:2])
    samples = min(SAMPLES, data.token_cells)
    offsets = (np.arange(samples) + 0.5) / samples
    xs = x0 + (np.arange(w)[:, None] + offsets).ravel() * side[0]
    ys = y0 + (np.arange(h)[:, None] + offsets).ravel() * side[1]
    py, px = (grid.ravel() for grid in np.meshgrid(ys, xs, indexing="ij"))  # row-major over (y, x)
    token = ((py - y0) // side[1] * w + (px - x0) // side[0]).astype(np.int64)
    known = np.array([name in data.classes for name in boxes.names], dtype=bool)
    counts = np.zeros((h * w, len(data.classes) + 1))
    if known.any():
        centres, sizes, headings = boxes.centres[known], boxes.sizes[known], boxes.headings[known]
        classes = np.array([data.classes.index(n) + 1 for n, k in zip(boxes.names, known) if k])
        dx, dy = px[:, None] - centres[:, 0], py[:, None] - centres[:, 1]  # P × K
        cos, sin = np.cos(headings), np.sin(headings)
        along, across = cos * dx + sin * dy, -sin * dx + cos * dy
        inside = (np.abs(along) <= sizes[:, 0] / 2) & (np.abs(across) <= sizes[:, 1] / 2)
        hit_point, hit_box = np.nonzero(inside)
        np.add.at(counts, (token[hit_point], classes[hit_box]), 1)
        column, row = np.floor((centres[:, 0] - x0) / side[0]), np.floor((centres[:, 1] - y0) / side[1])
        seen = (column >= 0) & (column < w) & (row >= 0) & (row < h)
        np.add.at(counts, ((row * w + column)[seen].astype(np.int64), classes[seen]), 1)
    counts[:, 0] = 0.5  # a token with no object sample stays background
    return counts.argmax(axis=1).astype(np.int64)


def build_task(root: Path, data: LidarDataConfig, task: LidarTaskConfig) -> DownstreamTask:
    """The BEV task on the labelled frames at ``root``: ``task.val_fraction`` and ``task.test_fraction`` of them
    (seeded by ``task.seed``) select and test, the rest train.

    Raises:
        JepaError: No frame has a ``label_2`` file, or there are too few frames for three splits.
    """
    frames = load_frames(root, data)
    labelled = np.array([boxes is not None for boxes in frames.boxes])
    if labelled.sum() < 3:
        raise JepaError(f"{root}: the BEV task needs at least 3 frames with label_2 files, found {labelled.sum()}")
    labels = np.zeros((len(labelled), int(np.prod(data.token_grid))), dtype=np.int64)
    for index in np.flatnonzero(labelled):
        labels[index] = token_labels(frames.boxes[index], data)
    order = np.flatnonzero(labelled)[np.random.default_rng(task.seed).permutation(int(labelled.sum()))]
    val = max(1, round(task.val_fraction * len(order)))
    test = max(1, round(task.test_fraction * len(order)))
    splits = {"val": order[:val], "test": order[val: val + test], "train": order[val + test:]}
    spec = LabelSpec(("background", *data.classes), multilabel=False, per_token=True)
    datasets = {name: VoxelDataset(frames, np.sort(index), labels) for name, index in splits.items()}
    return DownstreamTask(f"{task.name}-seed{task.seed}", spec, "mean_iou", data,
                          datasets["train"], datasets["val"], datasets["test"])
