"""ECG records as ``jepa-platform prepare`` items: read and preprocessed exactly as the training datasets are.

Each record gives its windows (``signal``, ``lead_present``, ``length``, and
for PTB-XL a multi-hot ``label`` over the SCP statements of the training
folds), with ``source`` (the record), ``window`` and ``fold`` as metadata, and
for PTB-XL the record's ``scp_codes`` (a JSON list) from which downstream tasks
aggregate their label sets (the statement table goes into the manifest). The
split follows the recipe: PTB-XL's ``strat_fold`` in ``train_folds`` /
``val_folds`` (other folds are stored as ``test``), a hashed ``val_percent``
holdout for a folder of records, or each record's last windows when that holds
out no record or every one (as the training datasets split a small folder).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from jepa_platform.domain import LabelSpec, PreparedSamples, PrepareSource, holdout_mask, split_holdout

from .config import ECGDataConfig
from .dataset import record_windows, window_settings
from .labels import STATEMENT_COLUMNS, read_statements
from .readers import STATEMENTS, find_records, is_ptbxl, read_database


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
        codes: Its SCP statements (PTB-XL's ``scp_codes``), when it has an index entry.
        by_windows: The split is of its windows: the hashed holdout of the records left one side empty.
    """

    record: str
    name: str
    split: str
    fold: int = 0
    labels: tuple[int, ...] = ()
    num_labels: int = 0
    codes: tuple[str, ...] | None = None
    by_windows: bool = False

    def __str__(self) -> str:
        return f"{self.record}.hea"


def prepare_source(root: Path, data: ECGDataConfig) -> PrepareSource:
    """Every record under ``root``: the PTB-XL index (all folds) or a recursive search for ``.hea`` headers."""
    if not is_ptbxl(root):
        records = find_records(root)
        names = [str(r.relative_to(root)) if root.is_dir() else r.name for r in records]
        held_out = holdout_mask(names, data.val_percent)
        by_windows = data.val_percent > 0 and len(set(held_out)) == 1
        items = [
            ECGItem(str(r), n, "val" if v else "train", by_windows=by_windows)
            for r, n, v in zip(records, names, held_out)
        ]
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
            codes=tuple(statements),
        )
        for record, split, fold, statements in zip(index["record"], splits, folds, codes)
    ]
    info = {"statements": statement_table(root)} if (root / STATEMENTS).is_file() else {}
    return PrepareSource(items, LabelSpec(tuple(names), multilabel=True), unit="record", info=info)


def statement_table(root: Path) -> dict[str, dict[str, Any]]:
    """The columns of ``scp_statements.csv`` the label sets read, per statement code, as JSON values (NaN: null)."""
    table = read_statements(root)[list(STATEMENT_COLUMNS)].astype(object)
    return table.where(table.notna(), None).to_dict(orient="index")


def prepare_item(item: ECGItem, data: ECGDataConfig) -> PreparedSamples:
    """The windows of one record, as :func:`~.dataset.load_windows` makes them, split as :func:`~.dataset.load_splits`
    splits them."""
    settings = window_settings(data)
    signals, present, lengths, numbers = record_windows(Path(item.record), settings)
    split, rows = np.full(len(lengths), item.split), np.arange(len(lengths))
    if item.by_windows:  # one record alone: split_holdout takes its last windows
        holdout = split_holdout([item.name] * len(rows), np.zeros(len(rows)), numbers * settings.window,
                                settings.window, data.val_percent, "record")
        rows = np.flatnonzero(holdout.train | holdout.val)
        split = np.where(holdout.val, "val", "train")[rows]
    count = len(rows)
    samples = {"signal": signals[rows], "lead_present": present[rows], "length": lengths[rows]}
    if item.num_labels:
        label = np.zeros((count, item.num_labels), dtype=np.float32)
        label[:, list(item.labels)] = 1.0
        samples["label"] = label
    meta = {
        "source": np.full(count, item.name),
        "window": numbers[rows].astype(np.int64),
        "fold": np.full(count, item.fold, dtype=np.int64),
    }
    if item.codes is not None:
        meta["scp_codes"] = np.full(count, json.dumps(item.codes))
    return PreparedSamples(samples, meta, split)
