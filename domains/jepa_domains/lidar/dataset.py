"""Scans -> in-memory voxel samples ``{voxels, coords, count[, label, group]}``, with a line saying what was kept.

``label`` (when every frame has a ``label_2`` file) is per BEV token: background
or the class of the ``label_2`` boxes covering most of the token's cells
(:func:`token_labels`). Pretraining's online probe reads it per token, and the
BEV object task is the same labels on its own split of the frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from jepa_platform.domain import DatasetSplits, LabelSpec
from torch.utils.data import Dataset

from .config import LidarDataConfig
from .readers import Boxes, Frame, find_frames, read_boxes, read_scan
from .voxels import voxelize


@dataclass
class VoxelFrames:
    """Voxelized frames (``F × M × 8`` features, ``F × M × 3`` coords, ``F`` counts), their boxes (``None`` for
    frames without labels), the frames and how they were read."""

    voxels: np.ndarray
    coords: np.ndarray
    count: np.ndarray
    boxes: list[Boxes | None]
    frames: list[Frame]
    note: str


def intensity_scale(points: np.ndarray) -> float:
    """What divides a scan's intensity into ``[0, 1]``: 1 (KITTI reflectance), 255 (8-bit sensors) or its maximum."""
    top = float(points[:, 3].max(initial=0.0))
    return 1.0 if top <= 1.0 else 255.0 if top <= 255.0 else top


def voxelize_frame(frame: Frame, data: LidarDataConfig):
    """One frame's :class:`~.voxels.Voxels` (intensity brought to ``[0, 1]``) and its intensity scale."""
    points = read_scan(frame.points)
    scale = intensity_scale(points)
    if scale != 1.0:
        points = np.column_stack([points[:, :3], points[:, 3] / scale])
    voxels = voxelize(points, data.point_range, data.voxel_size, data.max_points_per_voxel, data.max_voxels)
    return voxels, scale, len(points)


def load_frames(root: Path, data: LidarDataConfig) -> VoxelFrames:
    """Read and voxelize every frame at ``root`` (see :func:`~.readers.find_frames`)."""
    frames = find_frames(root)
    parts = [voxelize_frame(frame, data) for frame in frames]
    voxels = [part[0] for part in parts]
    count = np.array([v.count for v in voxels])
    in_range = np.array([v.points_in_range for v in voxels])
    total = np.array([part[2] for part in parts])
    scaled = sum(part[1] != 1.0 for part in parts)
    dropped = sum(v.voxels_dropped for v in voxels)
    boxes = [read_boxes(frame) for frame in frames]
    labelled = sum(b is not None for b in boxes)
    note = (
        f"LiDAR: {len(frames)} frames from {root} ({labelled} with labels); points in range per frame "
        f"{in_range.mean():.0f} of {total.mean():.0f} on average (min {in_range.min()}); occupied voxels per frame "
        f"{count.mean():.0f} on average (min {count.min()}, max {count.max()}) on a {data.voxel_grid} grid"
        + (f"; {dropped} voxels beyond max_voxels {data.max_voxels} dropped" if dropped else "")
        + (f"; intensity above 1 rescaled to [0, 1] in {scaled} frames" if scaled else "")
    )
    return VoxelFrames(
        np.stack([v.features for v in voxels]), np.stack([v.coords for v in voxels]), count, boxes, frames, note
    )


SAMPLES = 8
"""Test points per token side, at most (one per BEV cell when tokens are smaller)."""


def token_labels(boxes: Boxes, data: LidarDataConfig) -> np.ndarray:
    """``h·w`` int64 token labels of one frame: 0 background, ``k + 1`` the class ``data.classes[k]``.

    Up to ``SAMPLES²`` points spread evenly over each token, and the centre of each
    box, are tested against the frame's boxes (in the sensor frame); the class
    holding the most of them labels the token, background when none does (so an
    object smaller than the sample spacing still labels the token of its centre).
    """
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


def token_label_spec(data: LidarDataConfig) -> LabelSpec:
    """What :func:`token_labels` means: per token, ``background`` or one of ``data.classes``."""
    return LabelSpec(("background", *data.classes), multilabel=False, per_token=True)


class VoxelDataset(Dataset):
    """Samples ``index`` of frame arrays (``voxels``, ``coords``, ``count`` and, when given, per-token ``label``);
    labelled samples carry their frame number as ``group``."""

    def __init__(self, columns: dict[str, np.ndarray], index: np.ndarray) -> None:
        select = torch.from_numpy(index)
        self.tensors = {key: torch.from_numpy(np.ascontiguousarray(columns[key]))[select]
                        for key in ("voxels", "coords", "count", "label") if key in columns}
        self.tensors["count"] = self.tensors["count"].long()
        if "label" in columns:
            self.tensors["group"] = select.clone()

    def __len__(self) -> int:
        return len(self.tensors["count"])

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {key: value[i] for key, value in self.tensors.items()}


def columns_of(frames: VoxelFrames, labels: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The arrays :class:`VoxelDataset` takes, with ``labels`` (``F × h·w``) when given."""
    columns = {"voxels": frames.voxels, "coords": frames.coords, "count": frames.count}
    return columns if labels is None else {**columns, "label": labels}


def validation_mask(count: int, fraction: float) -> np.ndarray:
    """Which of ``count`` frames (in reading order) validate pretraining: ``fraction`` of them, seeded."""
    held_out = np.zeros(count, dtype=bool)
    held_out[np.random.default_rng(0).permutation(count)[: int(round(fraction * count))]] = True
    return held_out


def load_splits(root: Path, data: LidarDataConfig) -> DatasetSplits:
    """Pretraining sets of every frame at ``root``, ``val_fraction`` held out; per-token labels when all are
    labelled."""
    frames = load_frames(root, data)
    held_out = validation_mask(len(frames.count), data.val_fraction)
    labelled = all(b is not None for b in frames.boxes)
    labels = np.stack([token_labels(b, data) for b in frames.boxes]) if labelled else None
    columns = columns_of(frames, labels)
    return DatasetSplits(
        train=VoxelDataset(columns, np.flatnonzero(~held_out)),
        val=VoxelDataset(columns, np.flatnonzero(held_out)) if held_out.any() else None,
        labels=token_label_spec(data) if labelled else None,
        notes=[frames.note],
    )
