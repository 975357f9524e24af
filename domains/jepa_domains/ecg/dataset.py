"""ECG windows: from a data path (the PTB-XL layout or any folder of WFDB records) to train/validation sets.

Every record is read once, preprocessed, cut into windows and normalized, in memory.
"""

from __future__ import annotations

import sys
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from jepa_platform.domain import (
    BadFiles,
    DatasetSplits,
    JepaError,
    LabelSpec,
    NanPolicy,
    NanReport,
    apply_nan_policy,
    check_nan,
    split_holdout,
)
from torch.utils.data import Dataset
from tqdm import tqdm

from .config import ECGDataConfig
from .preprocess import cut_windows, normalize_windows, resample
from .readers import find_records, is_ptbxl, read_database, read_record


@dataclass
class WindowSettings:
    leads: tuple[str, ...]
    sampling_rate: int
    window: int  # samples
    min_length: int  # samples
    clip: float
    nan_policy: NanPolicy
    max_nan_fraction: float

    def nan_report(self) -> NanReport:
        return NanReport(self.nan_policy, self.max_nan_fraction)


class ECGWindows(Dataset):
    """Fixed-length, normalized ``leads × window`` ECG windows.

    Args:
        signals: ``N × leads × window`` float32.
        present: ``N × leads`` bool; absent leads are zero.
        lengths: ``N`` valid samples per window (the rest is padding).
        meta: One row per window (``record`` and whatever the index held: folds, codes...).
        labels: Optional ``N × C`` multi-hot labels, served as ``label``.
    """

    def __init__(
        self,
        signals: torch.Tensor,
        present: torch.Tensor,
        lengths: torch.Tensor,
        meta: pd.DataFrame,
        labels: torch.Tensor | None = None,
    ) -> None:
        self.signals, self.present, self.lengths, self.meta, self.labels = signals, present, lengths, meta, labels

    def __len__(self) -> int:
        return self.signals.shape[0]

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        sample = {"signal": self.signals[index], "lead_present": self.present[index], "length": self.lengths[index]}
        if self.labels is not None:
            sample["label"] = self.labels[index]
        return sample

    def subset(self, mask: np.ndarray) -> "ECGWindows":
        rows = torch.from_numpy(np.flatnonzero(mask))
        return ECGWindows(
            self.signals[rows],
            self.present[rows],
            self.lengths[rows],
            self.meta.iloc[rows.numpy()].reset_index(drop=True),
            None if self.labels is None else self.labels[rows],
        )


def record_windows(
    record: Path, settings: WindowSettings, report: NanReport | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One record read and preprocessed: ``n × leads × window`` float32 windows, ``n × leads`` lead presence,
    ``n`` valid lengths and ``n`` window numbers (the place of each in the record, counting the windows the
    NaN policy dropped, which ``report`` counts); ``n`` is 0 for a record shorter than ``settings.min_length``.

    Raises:
        JepaError: The record is unreadable, or holds NaN under ``nan_policy: fail`` (naming the file).
    """
    raw = read_record(record, settings.leads)
    header = str(record.with_suffix(".hea"))
    check_nan(raw.signal, settings.nan_policy, header, [f"lead {lead}" for lead in settings.leads], raw.fs)
    signal = resample(raw.signal, raw.fs, settings.sampling_rate)
    windows, valid = cut_windows(signal, settings.window, settings.min_length)
    present = np.repeat(raw.present[None], len(windows), axis=0)
    kept = apply_nan_policy(windows, settings.nan_policy, settings.max_nan_fraction, present, valid)
    if report is not None:
        report.add(header, kept)
    windows = normalize_windows(kept.windows, kept.lengths, settings.clip) if kept.keep.any() else kept.windows
    return windows.astype(np.float32, copy=False), kept.present, kept.lengths, np.flatnonzero(kept.keep)


def load_windows(
    index: pd.DataFrame,
    settings: WindowSettings,
    description: str = "reading ECG records",
    report: NanReport | None = None,
    bad: BadFiles | None = None,
) -> ECGWindows:
    """Read every record of ``index`` (a ``record`` path column plus metadata) into windows; ``report``
    counts the windows the NaN policy dropped or filled; ``bad`` applies ``data.on_bad_file`` (default: fail).

    Raises:
        JepaError: A record is unreadable (naming the file), or no record yields a window.
    """
    report = report if report is not None else settings.nan_report()
    signals, present, lengths, meta_rows = [], [], [], []
    skipped, missing = 0, Counter()
    show = len(index) > 200 and sys.stderr.isatty()
    for row in tqdm(index.to_dict("records"), desc=description, unit="rec", disable=not show):
        record = Path(row["record"])
        read = (bad or BadFiles("fail", "ECG records")).read(record_windows, record, settings, report)
        if read is None:  # unreadable, skipped under data.on_bad_file: skip
            continue
        windows, lead_present, valid, numbers = read
        if len(windows) == 0:
            skipped += str(record.with_suffix(".hea")) not in report.counts  # else NaN took every window
            continue
        missing.update(lead for lead, ok in zip(settings.leads, lead_present.any(axis=0)) if not ok)
        signals.append(windows)
        present.append(lead_present)
        lengths.append(valid)
        meta_rows.extend({**row, "window": int(number)} for number in numbers)
    if not signals:
        seconds = settings.min_length / settings.sampling_rate
        raise JepaError(
            f"no ECG window left: {report.line('ECG records', 'records')}"
            if report.counts
            else f"none of the {len(index)} records is at least {seconds:.1f} s long (data.min_seconds)"
        )
    if skipped:
        warnings.warn(f"skipped {skipped} of {len(index)} ECG records shorter than data.min_seconds", stacklevel=2)
    if missing:
        listed = ", ".join(f"{lead} ({count} records)" for lead, count in missing.most_common())
        warnings.warn(f"absent ECG leads are zero-filled and marked absent: {listed}", stacklevel=2)
    return ECGWindows(
        torch.from_numpy(np.concatenate(signals)),
        torch.from_numpy(np.concatenate(present)),
        torch.from_numpy(np.concatenate(lengths)),
        pd.DataFrame(meta_rows),
    )


def window_settings(data: ECGDataConfig) -> WindowSettings:
    return WindowSettings(
        leads=tuple(data.leads),
        sampling_rate=data.sampling_rate,
        window=data.window_size,
        min_length=round(data.min_seconds * data.sampling_rate),
        clip=data.clip,
        nan_policy=data.nan_policy,
        max_nan_fraction=data.max_nan_fraction,
    )


def load_splits(root: Path, data: ECGDataConfig) -> DatasetSplits:
    """PTB-XL: ``train_folds`` / ``val_folds`` of ``strat_fold``; a record folder: a hashed ``val_percent``
    holdout of the records, or of each record's last windows when that holds out none (see :func:`split_holdout`)."""
    settings = window_settings(data)
    report = settings.nan_report()
    bad = BadFiles(data.on_bad_file, "ECG records")
    labels, notes = None, []
    if is_ptbxl(root):
        index = read_database(root, data.sampling_rate)
        index = index[index["strat_fold"].isin(data.train_folds + data.val_folds)]
        windows = load_windows(index, settings, report=report, bad=bad)
        is_val = windows.meta["strat_fold"].isin(data.val_folds).to_numpy()
        is_train = ~is_val
        labels = attach_statement_labels(windows, is_train)
    else:
        records = find_records(root)
        names = [str(r.relative_to(root)) if root.is_dir() else r.name for r in records]
        index = pd.DataFrame({"record": records, "name": names})
        windows = load_windows(index, settings, report=report, bad=bad)
        meta = windows.meta
        holdout = split_holdout(
            meta["name"], meta["name"].to_numpy(), meta["window"].to_numpy() * settings.window, settings.window,
            data.val_percent, "record",
        )
        is_train, is_val, notes = holdout.train, holdout.val, [holdout.note] if holdout.note else []
    val = windows.subset(is_val) if is_val.any() and is_train.any() else None
    train = windows.subset(is_train) if val is not None else windows
    lines = [line for line in (report.line("ECG records", "records"), bad.line()) if line]
    return DatasetSplits(
        train=train, val=val, labels=labels, stats={**report.stats(), **bad.stats()}, notes=[*lines, *notes]
    )


def attach_statement_labels(windows: ECGWindows, train: np.ndarray) -> LabelSpec:
    """Multi-hot labels over every SCP statement seen in the training windows (for the linear probe of pretraining)."""
    codes = list(windows.meta["scp_codes"])
    names = sorted({code for row, kept in zip(codes, train) if kept for code in row})
    position = {name: i for i, name in enumerate(names)}
    multi_hot = np.zeros((len(codes), len(names)), dtype=np.float32)
    for row, statements in enumerate(codes):
        multi_hot[row, [position[c] for c in statements if c in position]] = 1.0
    windows.labels = torch.from_numpy(multi_hot)
    return LabelSpec(tuple(names), multilabel=True)


def file_windows(path: Path, data: ECGDataConfig) -> dict[str, np.ndarray]:
    """Every window of one record (its ``.hea`` header, or the record's path without extension), preprocessed
    as in training: what a batch holds, with a leading axis of windows.

    Raises:
        JepaError: The record is unreadable, or shorter than one window.
    """
    record = Path(path)
    if record.suffix == "" and record.with_suffix(".hea").is_file():
        record = record.with_suffix(".hea")
    signals, present, lengths, _ = record_windows(find_records(record)[0], window_settings(data))
    if len(lengths) == 0:
        raise JepaError(f"{path}: the record is shorter than data.min_seconds ({data.min_seconds:g} s)")
    return {"signal": signals, "lead_present": present, "length": lengths}
