"""Chip files and folders -> in-memory tensors of samples ``{image, amplitude[, label, group]}``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from jepa_platform.domain import DatasetSplits, JepaError, LabelSpec, NanReport
from torch.utils.data import Dataset

from .config import SARDataConfig
from .patches import Patch, describe, find_patches, read_patch
from .preprocess import amplitude_chip, log_normalize


@dataclass
class Chips:
    """Preprocessed chips: ``N × C × S × S`` amplitudes, for class folders class indices and names, and the
    chips the NaN policy dropped or filled."""

    amplitude: torch.Tensor
    labels: torch.Tensor | None
    classes: tuple[str, ...]
    nan: NanReport


class ChipDataset(Dataset):
    """Samples ``image`` (log-normalized, the encoder's input), ``amplitude`` (for gradient targets)
    and, when labelled, ``label`` and ``group`` (the chip's index)."""

    def __init__(self, chips: Chips, index: np.ndarray, labelled: bool) -> None:
        amplitude = chips.amplitude[torch.from_numpy(index)]
        self.tensors = {"image": log_normalize(amplitude), "amplitude": amplitude}
        if labelled and chips.labels is not None:
            self.tensors["label"] = chips.labels[torch.from_numpy(index)]
            self.tensors["group"] = torch.from_numpy(index.astype(np.int64))

    def __len__(self) -> int:
        return len(self.tensors["image"])

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {key: value[i] for key, value in self.tensors.items()}


def read_amplitude(patch: Patch, data: SARDataConfig, report: NanReport) -> np.ndarray | None:
    """One patch as a ``bands × size × size`` linear amplitude chip, ``None`` when the NaN policy drops it
    (see :func:`amplitude_chip`)."""
    read = read_patch(patch, data.polarizations)
    return amplitude_chip(read.values, data, read.files, report)


def list_chips(
    folder: Path | Sequence[Path], data: SARDataConfig, classes: bool
) -> tuple[list[Patch], np.ndarray | None, tuple[str, ...]]:
    """The patches at ``folder`` (a chip file or folder, or a list of them) in reading order; with
    ``classes``, the sub-folders of the one folder are the classes: each patch's class index, and their names.

    Raises:
        JepaError: There is no chip.
    """
    roots = [folder] if isinstance(folder, Path) else list(folder)
    if classes:
        names = tuple(sorted(p.name for p in roots[0].iterdir() if p.is_dir() and not p.name.startswith(".")))
        groups = [find_patches([roots[0] / name], data.polarizations) for name in names]
        patches = [patch for group in groups for patch in group]
        labels = np.array([k for k, group in enumerate(groups) for _ in group], dtype=np.int64)
    else:
        names, patches, labels = (), find_patches(roots, data.polarizations), None
    if not patches:
        raise JepaError(f"{describe(roots)}: no SAR chips (GeoTIFF/raster, PNG/JPEG or MSTAR files) found")
    return patches, labels, names


def load_chips(folder: Path | Sequence[Path], data: SARDataConfig, classes: bool) -> Chips:
    """Read every chip at ``folder`` (see :func:`list_chips`), less those the NaN policy drops."""
    patches, labels, names = list_chips(folder, data, classes)
    report = NanReport(data.nan_policy, data.max_nan_fraction)
    chips = [read_amplitude(patch, data, report) for patch in patches]
    kept = np.array([chip is not None for chip in chips])
    if not kept.any():
        where = describe([folder] if isinstance(folder, Path) else list(folder))
        raise JepaError(f"{where}: no SAR chip left: {report.line('NaN policy', 'chips', 'chips')}")
    stacked = np.stack([chip for chip in chips if chip is not None])
    labels = None if labels is None else torch.from_numpy(labels[kept])
    return Chips(torch.from_numpy(stacked), labels, names, report)


def is_mstar_layout(root: Path | Sequence[Path], data: SARDataConfig) -> bool:
    return isinstance(root, Path) and (root / data.train_dir).is_dir()


def pretraining_roots(root: Path | Sequence[Path], data: SARDataConfig) -> tuple[list[Path], bool]:
    """What pretraining reads, and whether its sub-folders are classes: the training folder of an
    MSTAR-like tree, else every path given."""
    if is_mstar_layout(root, data):
        return [root / data.train_dir], True
    return ([root] if isinstance(root, Path) else list(root)), False


def load_splits(root: Path | Sequence[Path], data: SARDataConfig) -> DatasetSplits:
    """Pretraining sets: the training chips (``train_dir`` of an MSTAR-like tree, else every chip at
    ``root``), ``val_fraction`` of them held out for validation; the test chips stay unseen."""
    roots, layout = pretraining_roots(root, data)
    chips = load_chips(roots, data, classes=layout)
    held_out = validation_mask(len(chips.amplitude), data)
    labels = LabelSpec(chips.classes, multilabel=False) if chips.labels is not None else None
    line = chips.nan.line("SAR", "chips", "chips")
    return DatasetSplits(
        train=ChipDataset(chips, np.flatnonzero(~held_out), labels is not None),
        val=ChipDataset(chips, np.flatnonzero(held_out), labels is not None) if held_out.any() else None,
        labels=labels,
        stats=chips.nan.stats(),
        notes=[line] if line else [],
    )


def validation_mask(count: int, data: SARDataConfig) -> np.ndarray:
    """Which of ``count`` training chips (in reading order) validate pretraining: ``val_fraction`` of them, seeded."""
    held_out = np.zeros(count, dtype=bool)
    held_out[np.random.default_rng(0).permutation(count)[: int(round(data.val_fraction * count))]] = True
    return held_out
