"""ECG windows in memory: every record read once, preprocessed, cut and normalized."""

from __future__ import annotations

import sys
import warnings
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from jepa_platform.errors import JepaError

from .preprocess import cut_windows, interpolate_nans, normalize_windows, resample
from .wfdb_io import read_record


@dataclass
class WindowSettings:
    leads: tuple[str, ...]
    sampling_rate: int
    window: int  # samples
    min_length: int  # samples
    clip: float


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


def record_windows(record: Path, settings: WindowSettings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One record read and preprocessed: ``n × leads × window`` float32 windows, ``n × leads`` lead presence
    and ``n`` valid lengths; ``n`` is 0 for a record shorter than ``settings.min_length``.

    Raises:
        JepaError: The record is unreadable (naming the file).
    """
    raw = read_record(record, settings.leads)
    signal, lead_present = interpolate_nans(raw.signal, raw.present)
    signal = resample(signal, raw.fs, settings.sampling_rate)
    windows, valid = cut_windows(signal, settings.window, settings.min_length)
    if len(windows):
        windows = normalize_windows(windows, valid, settings.clip)
    return windows.astype(np.float32, copy=False), np.repeat(lead_present[None], len(windows), axis=0), valid


def load_windows(index: pd.DataFrame, settings: WindowSettings, description: str = "reading ECG records") -> ECGWindows:
    """Read every record of ``index`` (a ``record`` path column plus metadata) into windows.

    Raises:
        JepaError: A record is unreadable (naming the file), or no record yields a window.
    """
    signals, present, lengths, meta_rows = [], [], [], []
    skipped, missing = 0, Counter()
    show = len(index) > 200 and sys.stderr.isatty()
    for row in tqdm(index.to_dict("records"), desc=description, unit="rec", disable=not show):
        windows, lead_present, valid = record_windows(Path(row["record"]), settings)
        if len(windows) == 0:
            skipped += 1
            continue
        missing.update(lead for lead, ok in zip(settings.leads, lead_present[0]) if not ok)
        signals.append(windows)
        present.append(lead_present)
        lengths.append(valid)
        meta_rows.extend({**row, "window": w} for w in range(len(windows)))
    if not signals:
        raise JepaError(
            f"none of the {len(index)} records is at least {settings.min_length / settings.sampling_rate:.1f} s long "
            "(data.min_seconds)"
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


def holdout_mask(names: list[str], percent: float) -> np.ndarray:
    """Deterministic ``percent``% validation split by a hash of each record's name."""
    return np.array([zlib.crc32(name.encode()) % 10000 < percent * 100 for name in names], dtype=bool)
