"""Scans -> in-memory voxel samples ``{voxels, coords, count[, label]}``, with a line saying what was kept.

``label`` (when every frame has a ``label_2`` file) is the multi-hot presence of
each class of ``data.classes`` among the boxes whose centre lies in the point
range: a scene-level label for the online probe of pretraining.
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


def presence(boxes: Boxes, data: LidarDataConfig) -> np.ndarray:
    """Multi-hot float32 over ``data.classes``: which classes have a box centred in the point range."""
    low, high = np.asarray(data.point_range[:3]), np.asarray(data.point_range[3:])
    inside = ((boxes.centres[:, :2] >= low[:2]) & (boxes.centres[:, :2] < high[:2])).all(axis=1)
    names = {name for name, keep in zip(boxes.names, inside) if keep}
    return np.array([name in names for name in data.classes], dtype=np.float32)


class VoxelDataset(Dataset):
    """Samples of some frames: ``voxels``, ``coords``, ``count`` and, when given, per-frame ``label`` and ``group``."""

    def __init__(self, frames: VoxelFrames, index: np.ndarray, labels: np.ndarray | None = None) -> None:
        select = torch.from_numpy(index)
        self.tensors = {
            "voxels": torch.from_numpy(frames.voxels)[select],
            "coords": torch.from_numpy(frames.coords)[select],
            "count": torch.from_numpy(frames.count.astype(np.int64))[select],
        }
        if labels is not None:
            self.tensors["label"] = torch.from_numpy(labels)[select]
            self.tensors["group"] = select.clone()

    def __len__(self) -> int:
        return len(self.tensors["count"])

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {key: value[i] for key, value in self.tensors.items()}


def validation_mask(count: int, fraction: float) -> np.ndarray:
    """Which of ``count`` frames (in reading order) validate pretraining: ``fraction`` of them, seeded."""
    held_out = np.zeros(count, dtype=bool)
    held_out[np.random.default_rng(0).permutation(count)[: int(round(fraction * count))]] = True
    return held_out


def load_splits(root: Path, data: LidarDataConfig) -> DatasetSplits:
    """Pretraining sets of every frame at ``root``, ``val_fraction`` held out; scene labels when all are labelled."""
    frames = load_frames(root, data)
    held_out = validation_mask(len(frames.count), data.val_fraction)
    labelled = all(b is not None for b in frames.boxes)
    labels = np.stack([presence(b, data) for b in frames.boxes]) if labelled else None
    spec = LabelSpec(tuple(data.classes), multilabel=True) if labelled else None
    return DatasetSplits(
        train=VoxelDataset(frames, np.flatnonzero(~held_out), labels),
        val=VoxelDataset(frames, np.flatnonzero(held_out), labels) if held_out.any() else None,
        labels=spec,
        notes=[frames.note],
    )
