"""Chip folders -> in-memory tensors of samples ``{image, amplitude[, label, group]}``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from jepa_platform.domain import DatasetSplits, JepaError, LabelSpec
from torch.utils.data import Dataset

from .config import SARDataConfig
from .preprocess import amplitude_chip, log_normalize
from .readers import is_chip, read_chip


@dataclass
class Chips:
    """Preprocessed chips: ``N × C × S × S`` amplitudes and, for class folders, class indices and names."""

    amplitude: torch.Tensor
    labels: torch.Tensor | None
    classes: tuple[str, ...]


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


def chip_files(folder: Path) -> list[Path]:
    """The chips under ``folder`` (recursively), sorted."""
    return sorted(path for path in folder.rglob("*") if is_chip(path))


def load_chips(folder: Path, data: SARDataConfig, classes: bool) -> Chips:
    """Read every chip under ``folder``; with ``classes``, its sub-folders are the classes."""
    if not folder.is_dir():
        raise JepaError(f"{folder}: no such folder")
    if classes:
        names = tuple(sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")))
        groups = [chip_files(folder / name) for name in names]
        files = [path for group in groups for path in group]
        labels = torch.tensor([k for k, group in enumerate(groups) for _ in group], dtype=torch.long)
    else:
        names, files, labels = (), chip_files(folder), None
    if not files:
        raise JepaError(f"{folder}: no SAR chips (GeoTIFF/raster, PNG/JPEG or MSTAR files) found")
    stacked = np.stack([amplitude_chip(read_chip(path), data, path) for path in files])
    return Chips(torch.from_numpy(stacked), labels, names)


def is_mstar_layout(root: Path, data: SARDataConfig) -> bool:
    return (root / data.train_dir).is_dir()


def load_splits(root: Path, data: SARDataConfig) -> DatasetSplits:
    """Pretraining sets: the training chips (``train_dir`` of an MSTAR-like tree, else every chip under
    ``root``), ``val_fraction`` of them held out for validation; the test chips stay unseen."""
    layout = is_mstar_layout(root, data)
    chips = load_chips(root / data.train_dir if layout else root, data, classes=layout)
    order = np.random.default_rng(0).permutation(len(chips.amplitude))
    val_count = int(round(data.val_fraction * len(order)))
    labels = LabelSpec(chips.classes, multilabel=False) if chips.labels is not None else None
    return DatasetSplits(
        train=ChipDataset(chips, np.sort(order[val_count:]), labels is not None),
        val=ChipDataset(chips, np.sort(order[:val_count]), labels is not None) if val_count else None,
        labels=labels,
    )
