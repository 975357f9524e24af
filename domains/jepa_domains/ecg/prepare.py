"""ECG records as ``jepa-platform prepare`` items: read and preprocessed exactly as the training datasets are.

Each record gives its windows (``signal``, ``lead_present``, ``length``, and
for PTB-XL a multi-hot ``label`` over the SCP statements of the training
folds), with ``source`` (the record), ``window`` and ``fold`` as metadata. The
split follows the recipe: PTB-XL's ``strat_fold`` in ``train_folds`` /
``val_folds`` (other folds are stored as ``test``), a hashed ``val_percent``
holdout for a folder of records.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from jepa_platform.domain import LabelSpec, PreparedSamples, PrepareSource, holdout_mask

from .config import ECGDataConfig
from .dataset import record_windows, window_settings
from .readers import find_records, is_ptbxl, read_database


@dataclass(frozen=True)
class ECGItem:
    """One WFDB record to prepare.

    Args:
        record: The record's path without extension.
        name: Its name in the shards' ``source`` column (relative to the data folder).
        split: ``train``, ``val`` or ``test``.
        fold: PTB-XL's ``strat_fold``; 0 outside PTB-XL.
        labels: Indices of its statements among the label names.
        num_labels: How many label names there are (0: no labels).
    """

    record: str
    name: str
    split: str
    fold: int = 0
    labels: tuple[int, ...] = ()
    num_labels: int = 0

    def __str__(self) -> str:
        return f"{self.record}.hea"


def prepare_source(root: Path, data: ECGDataConfig) -> PrepareSource:
    """Every record under ``root``: the PTB-XL index (all folds) or a recursive search for ``.hea`` headers."""
    if not is_ptbxl(root):
        records = find_records(root)
        names = [str(r.relative_to(root)) if root.is_dir() else r.name for r in records]
        held_out = holdout_mask(names, data.val_percent)
        items = [ECGItem(str(r), n, "val" if v else "train") for r, n, v in zip(records, names, held_out)]
        return PrepareSource(items, unit="record")
    index = read_database(root, data.sampling_rate)
    folds = index["strat_fold"].astype(int).tolist()
    splits = ["train" if f in data.train_folds else "val" if f in data.val_folds else "test" for f in folds]
    codes = index["scp_codes"].tolist()
    names = sorted({code for statements, split in zip(codes, splits) if split == "train" for code in statements})
    position = {name: i for i, name in enumerate(names)}
    items = [
        ECGItem(
            record=str(record),
            name=str(Path(record).relative_to(root)),
            split=split,
            fold=fold,
            labels=tuple(sorted(position[c] for c in statements if c in position)),
            num_labels=len(names),
        )
        for record, split, fold, statements in zip(index["record"], splits, folds, codes)
    ]
    return PrepareSource(items, LabelSpec(tuple(names), multilabel=True), unit="record")


def prepare_item(item: ECGItem, data: ECGDataConfig) -> PreparedSamples:
    """The windows of one record, as :func:`~.dataset.load_windows` makes them."""
    signals, present, lengths, numbers = record_windows(Path(item.record), window_settings(data))
    count = len(lengths)
    samples = {"signal": signals, "lead_present": present, "length": lengths}
    if item.num_labels:
        label = np.zeros((count, item.num_labels), dtype=np.float32)
        label[:, list(item.labels)] = 1.0
        samples["label"] = label
    meta = {
        "source": np.full(count, item.name),
        "window": numbers.astype(np.int64),
        "fold": np.full(count, item.fold, dtype=np.int64),
    }
    return PreparedSamples(samples, meta, np.full(count, item.split))
