"""SAR chips as ``jepa-platform prepare`` items: read and preprocessed exactly as the training datasets are.

Each patch (one file, or one file per polarization) gives one sample: ``amplitude``
(``bands × size × size`` linear amplitude), ``image`` (its log-normalization, the
encoder's input) and, for class folders, ``label``; with ``source`` (the first file)
and ``chip`` (its position in reading order) as metadata. The split is the one
pretraining uses: ``data.val_fraction`` of the training chips, seeded, as ``val``
(drawn over every chip: when the NaN policy drops chips, training draws over the
kept ones, and the two can differ).
An MSTAR-like tree also gives its ``test_dir`` chips as ``test`` (never read by
pretraining), so the k-shot task runs on the shards; the class names of both folders
go into the manifest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from jepa_platform.domain import LabelSpec, NanReport, PreparedSamples, PrepareSource

from .config import SARDataConfig
from .dataset import list_chips, pretraining_roots, read_amplitude, validation_mask
from .patches import Patch
from .preprocess import log_normalize


@dataclass(frozen=True)
class SARItem:
    """One patch to prepare: its name in the ``source`` column, split, class (-1: none) and reading position."""

    patch: Patch
    name: str
    split: str
    label: int
    chip: int

    def __str__(self) -> str:
        return str(self.patch.files[0])


def prepare_source(root: Path | Sequence[Path], data: SARDataConfig) -> PrepareSource:
    """The training chips of ``root`` (``train_dir`` of an MSTAR-like tree, else every chip) split as pretraining
    splits them, then the tree's ``test_dir`` chips as ``test``."""
    roots, layout = pretraining_roots(root, data)
    base = root if isinstance(root, Path) and root.is_dir() else None
    patches, labels, classes = list_chips(roots, data, classes=layout)
    splits = np.where(validation_mask(len(patches), data), "val", "train")
    parts = [(patches, np.full(len(patches), -1) if labels is None else labels, splits)]
    info = {}
    if layout and (root / data.test_dir).is_dir():
        test, test_labels, test_classes = list_chips(root / data.test_dir, data, classes=True)
        parts.append((test, test_labels, np.full(len(test), "test")))
        info = {"classes": list(classes), "test_classes": list(test_classes)}
    items = [
        SARItem(patch, name_of(patch, base), str(split), int(label), chip)
        for patches, labels, splits in parts
        for chip, (patch, label, split) in enumerate(zip(patches, labels, splits))
    ]
    spec = LabelSpec(classes, multilabel=False) if layout else None
    return PrepareSource(items, spec, unit="chip", info=info)


def name_of(patch: Patch, base: Path | None) -> str:
    """The patch's first file, relative to the data folder ``base`` when there is one."""
    return str(patch.files[0].relative_to(base) if base is not None else patch.files[0])


def prepare_item(item: SARItem, data: SARDataConfig) -> PreparedSamples:
    """The chip of one patch, as :class:`~.dataset.ChipDataset` serves it; none when the NaN policy drops it."""
    chip = read_amplitude(item.patch, data, NanReport(data.nan_policy, data.max_nan_fraction))
    if chip is None:  # dropped by the NaN policy
        return PreparedSamples({}, {}, np.zeros(0, dtype=str))
    amplitude = chip[None]
    samples = {"image": log_normalize(torch.from_numpy(amplitude)).numpy(), "amplitude": amplitude}
    if item.label >= 0:
        samples["label"] = np.array([item.label], dtype=np.int64)
    meta = {"source": np.array([item.name]), "chip": np.array([item.chip], dtype=np.int64)}
    return PreparedSamples(samples, meta, np.array([item.split]))
