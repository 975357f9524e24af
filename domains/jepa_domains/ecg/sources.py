"""From a data path to train/validation windows: the PTB-XL layout or any folder of WFDB records."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

import numpy as np
import torch

from jepa_platform.plugin import DatasetSplits, LabelSpec

from .dataset import ECGWindows, WindowSettings, holdout_mask, load_windows
from .ptbxl import is_ptbxl, read_database
from .wfdb_io import find_records

if TYPE_CHECKING:
    from . import ECGDataConfig


def window_settings(data: "ECGDataConfig") -> WindowSettings:
    return WindowSettings(
        leads=tuple(data.leads),
        sampling_rate=data.sampling_rate,
        window=data.window_size,
        min_length=round(data.min_seconds * data.sampling_rate),
        clip=data.clip,
    )


def load_splits(root: Path, data: "ECGDataConfig") -> DatasetSplits:
    """PTB-XL: ``train_folds`` / ``val_folds`` of ``strat_fold``; a record folder: a hashed ``val_percent`` holdout."""
    settings = window_settings(data)
    labels = None
    if is_ptbxl(root):
        index = read_database(root, data.sampling_rate)
        index = index[index["strat_fold"].isin(data.train_folds + data.val_folds)]
        windows = load_windows(index, settings)
        is_val = windows.meta["strat_fold"].isin(data.val_folds).to_numpy()
        labels = attach_statement_labels(windows, ~is_val)
    else:
        records = find_records(root)
        names = [str(r.relative_to(root)) if root.is_dir() else r.name for r in records]
        index = pd.DataFrame({"record": records, "name": names})
        windows = load_windows(index, settings)
        is_val = holdout_mask(list(windows.meta["name"]), data.val_percent)
    val = windows.subset(is_val) if is_val.any() and not is_val.all() else None
    train = windows.subset(~is_val) if val is not None else windows
    return DatasetSplits(train=train, val=val, labels=labels)


def attach_statement_labels(windows: ECGWindows, train: np.ndarray) -> LabelSpec:
    """Multi-hot labels over every SCP statement seen in the training windows (for the online probe)."""
    codes = list(windows.meta["scp_codes"])
    names = sorted({code for row, kept in zip(codes, train) if kept for code in row})
    position = {name: i for i, name in enumerate(names)}
    multi_hot = np.zeros((len(codes), len(names)), dtype=np.float32)
    for row, statements in enumerate(codes):
        multi_hot[row, [position[c] for c in statements if c in position]] = 1.0
    windows.labels = torch.from_numpy(multi_hot)
    return LabelSpec(tuple(names), multilabel=True)


