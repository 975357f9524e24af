"""EEG recordings as ``jepa-platform prepare`` items: read and preprocessed exactly as the training datasets are.

Each recording gives its windows (``signal``, ``present``, and in the TUAB tree
the recording's class as ``label``), with ``source`` (the file, relative to the
data folder), ``window`` (its number in the recording) and ``patient`` as
metadata. The split is the one pretraining uses: the official ``eval``
recordings as ``test`` (never read by pretraining), the others ``train`` or
``val`` by a hash of the patient (``data.val_percent``), or, when that holds out
no patient or every one, the last windows of each recording as ``val`` (the
windows overlapping them are left out, as training leaves them out).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from jepa_platform.domain import LabelSpec, PreparedSamples, PrepareSource, holdout_mask, split_holdout

from .config import EEGDataConfig
from .dataset import EEGWindows, check_maskable, recording_windows
from .readers import CLASSES, NoChannels, Recording, find_recordings


@dataclass(frozen=True)
class EEGItem:
    """One EDF/BDF recording to prepare: its name in the ``source`` column, its split, and whether that split
    is of its windows (the patient holdout left one side empty)."""

    recording: Recording
    name: str
    split: str
    by_windows: bool = False

    def __str__(self) -> str:
        return str(self.recording.path)


def prepare_source(root: Path, data: EEGDataConfig) -> PrepareSource:
    """Every recording under ``root``; labelled (``normal``/``abnormal``) when all of them lie in the TUAB tree."""
    recordings = find_recordings(root)
    base = root if root.is_dir() else root.parent
    held_out = holdout_mask([rec.patient for rec in recordings], data.val_percent)
    trainable = np.array([rec.split != "eval" for rec in recordings])
    by_windows = data.val_percent > 0 and len(set(held_out[trainable])) == 1
    items = [
        EEGItem(rec, str(rec.path.relative_to(base)), "test" if not train else "val" if val else "train", by_windows)
        for rec, val, train in zip(recordings, held_out, trainable)
    ]
    labelled = all(rec.label is not None for rec in recordings)
    return PrepareSource(items, LabelSpec(CLASSES, multilabel=False) if labelled else None, unit="recording")


def prepare_item(item: EEGItem, data: EEGDataConfig) -> PreparedSamples:
    """The windows of one recording, as :func:`~.dataset.load_windows` makes them; none when it holds no channel.

    Raises:
        JepaError: The file is corrupt, holds NaN under ``nan_policy: fail``, or a pretraining window holds
            too few valid tokens to mask.
    """
    rec = item.recording
    try:
        kept, _ = recording_windows(rec.path, data)
    except NoChannels:
        return PreparedSamples({}, {}, np.zeros(0, dtype=str))
    number, count = np.flatnonzero(kept.keep), len(kept.windows)
    split, rows = np.full(count, item.split), np.arange(count)
    if item.by_windows and item.split != "test":  # one recording alone: split_holdout takes its last windows
        holdout = split_holdout([item.name] * count, np.zeros(count), number * data.hop_size, data.window_size,
                                data.val_percent, "patient")
        rows = np.flatnonzero(holdout.train | holdout.val)
        split = np.where(holdout.val, "val", "train")[rows]
    windows, present, number = kept.windows[rows], kept.present[rows], number[rows]
    if item.split != "test":  # pretraining reads it: refuse what the training datasets refuse
        zeros = torch.zeros(len(rows), dtype=torch.long)
        check_maskable(EEGWindows(*map(torch.from_numpy, (windows, present)), zeros, zeros, zeros), [rec], data)
    samples = {"signal": windows, "present": present}
    if rec.label is not None:
        samples["label"] = np.full(len(rows), rec.label, dtype=np.int64)
    meta = {"source": np.full(len(rows), item.name), "window": number, "patient": np.full(len(rows), rec.patient)}
    return PreparedSamples(samples, meta, split)
