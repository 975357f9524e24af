"""LiDAR frames as ``jepa-platform prepare`` items: read and voxelized exactly as the training datasets are.

Each scan gives one sample of fixed-size arrays: ``voxels`` (``max_voxels × 8``),
``coords`` (``max_voxels × 3``) and ``count``, plus the per-token ``label`` when every
frame has a ``label_2`` file; with ``source`` (the scan, relative to the data
folder) and ``frame`` (its reading position) as metadata. The split is the one
pretraining uses: ``data.val_fraction`` of the frames, seeded, as ``val``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from jepa_platform.domain import PreparedSamples, PrepareSource

from .config import LidarDataConfig
from .dataset import token_label_spec, token_labels, validation_mask, voxelize_frame
from .readers import Frame, find_frames, read_boxes


@dataclass(frozen=True)
class LidarItem:
    """One scan to prepare: its frame, name in the ``source`` column, split, reading position and whether to label."""

    frame: Frame
    name: str
    split: str
    index: int
    labelled: bool

    def __str__(self) -> str:
        return str(self.frame.points)


def prepare_source(root: Path, data: LidarDataConfig) -> PrepareSource:
    """Every scan at ``root``, split as pretraining splits them; labelled when every frame has a label file."""
    frames = find_frames(root)
    labelled = all(frame.label is not None for frame in frames)
    held_out = validation_mask(len(frames), data.val_fraction)
    items = [
        LidarItem(frame, str(frame.points.relative_to(root)) if root.is_dir() else frame.points.name,
                  "val" if out else "train", index, labelled)
        for index, (frame, out) in enumerate(zip(frames, held_out))
    ]
    return PrepareSource(items, token_label_spec(data) if labelled else None, unit="scan")


def prepare_item(item: LidarItem, data: LidarDataConfig) -> PreparedSamples:
    """The voxels of one scan, as :class:`~.dataset.VoxelDataset` serves them."""
    voxels, _, _ = voxelize_frame(item.frame, data)
    samples = {"voxels": voxels.features[None], "coords": voxels.coords[None],
               "count": np.array([voxels.count], dtype=np.int64)}
    if item.labelled:
        samples["label"] = token_labels(read_boxes(item.frame), data)[None]
    meta = {"source": np.array([item.name]), "frame": np.array([item.index], dtype=np.int64)}
    return PreparedSamples(samples, meta, np.array([item.split]))
