"""Windows of EEG recordings as torch datasets."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from jepa_platform.domain import (
    MIN_VALID_TOKENS,
    BadFiles,
    DatasetSplits,
    JepaError,
    LabelSpec,
    NanReport,
    NanWindows,
    apply_nan_policy,
    check_nan,
    in_holdout,
    split_holdout,
)
from torch.utils.data import Dataset

from .config import EEGDataConfig
from .preprocess import preprocess
from .readers import CLASSES, NoChannels, Recording, find_recordings, read_recording


@dataclass
class EEGWindows(Dataset):
    """``N × channels × samples`` windows, each with its channels' presence, recording number, label and
    number in its recording (counting the windows the NaN policy dropped)."""

    signals: torch.Tensor
    present: torch.Tensor
    recording: torch.Tensor
    label: torch.Tensor
    number: torch.Tensor

    def __len__(self) -> int:
        return len(self.signals)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"signal": self.signals[index], "present": self.present[index]}

    def subset(self, mask: np.ndarray) -> "EEGWindows":
        keep = torch.from_numpy(np.flatnonzero(mask))
        return EEGWindows(
            self.signals[keep], self.present[keep], self.recording[keep], self.label[keep], self.number[keep]
        )


class LabelledWindows(Dataset):
    """The windows of :class:`EEGWindows` with ``label`` and ``group`` (the recording) for downstream tasks."""

    def __init__(self, windows: EEGWindows) -> None:
        self.windows = windows

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        w = self.windows
        return {**w[index], "label": w.label[index], "group": w.recording[index]}


def recording_windows(path: Path, data: EEGDataConfig) -> tuple[NanWindows, np.ndarray]:
    """One recording read and preprocessed, its windows through the NaN policy (``keep`` numbers the kept ones
    among all), and which of ``data.channels`` it holds.

    Raises:
        JepaError: The file is corrupt or truncated, or holds NaN under ``nan_policy: fail``
            (:class:`NoChannels`: it holds none of the channels).
    """
    signal, mask, rate = read_recording(path, data.channels)
    check_nan(signal, data.nan_policy, str(path), [f"channel {c}" for c in data.channels], rate)
    cut = preprocess(signal, mask, rate, data, path)
    return apply_nan_policy(cut, data.nan_policy, data.max_nan_fraction, np.repeat(mask[None], len(cut), axis=0)), mask


def load_windows(
    recordings: list[Recording], data: EEGDataConfig, report: NanReport | None = None, bad: BadFiles | None = None
) -> EEGWindows:
    """Read and preprocess ``recordings``; missing channels are marked absent (warning), files with none skipped,
    windows holding NaN dropped or filled by ``data.nan_policy`` (counted in ``report``), unreadable files
    skipped and counted under ``data.on_bad_file: skip`` (``bad``; default: fail).

    Raises:
        JepaError: A file is corrupt or truncated, holds NaN under ``nan_policy: fail``, or no recording gives a window.
    """
    report = report if report is not None else NanReport(data.nan_policy, data.max_nan_fraction)
    signals, present, recording, labels, numbers = [], [], [], [], []
    skipped = 0
    bad = bad or BadFiles("fail", "EEG recordings")
    for index, rec in enumerate(recordings):
        try:
            read = bad.read(recording_windows, rec.path, data, keep=(NoChannels,))
        except NoChannels:
            skipped += 1
            continue
        if read is None:  # unreadable, skipped under data.on_bad_file: skip
            continue
        kept, mask = read
        if not mask.all():
            missing = [c for c, p in zip(data.channels, mask) if not p]
            warnings.warn(f"{rec.path}: channels {', '.join(missing)} missing, marked invalid", stacklevel=2)
        report.add(str(rec.path), kept)
        signals.append(kept.windows)
        present.append(kept.present)
        recording.append(np.full(len(kept.windows), index))
        labels.append(np.full(len(kept.windows), -1 if rec.label is None else rec.label))
        numbers.append(np.flatnonzero(kept.keep))
    if skipped:
        warnings.warn(
            f"skipped {skipped} of {len(recordings)} recordings holding none of the channels {list(data.channels)}",
            stacklevel=2,
        )
    total = sum(len(s) for s in signals)
    if total == 0:
        dropped = f"; {report.line('EEG recordings', 'recordings')}" if report.counts else ""
        raise JepaError(
            f"no recording under {recordings[0].path.parent if recordings else '?'} gives a "
            f"{data.window_seconds} s window of the channels {list(data.channels)} ({skipped} skipped){dropped}"
        )
    return EEGWindows(
        torch.from_numpy(np.concatenate(signals)),
        torch.from_numpy(np.concatenate(present)),
        torch.from_numpy(np.concatenate(recording)).long(),
        torch.from_numpy(np.concatenate(labels)).long(),
        torch.from_numpy(np.concatenate(numbers)).long(),
    )


def pretrain_split(recording: Recording, val_percent: float) -> str:
    """``train``, ``val`` (patient-wise, from training recordings), or ``eval`` (the official TUAB test set)."""
    if recording.split == "eval":
        return "eval"
    return "val" if in_holdout(recording.patient, val_percent) else "train"


def check_maskable(windows: EEGWindows, recordings: list[Recording], data: EEGDataConfig) -> None:
    """Raise unless every window holds the valid tokens (present channels x frames) masking needs.

    Raises:
        JepaError: Naming the first recording whose windows hold fewer than ``MIN_VALID_TOKENS``.
    """
    frames = data.window_size // data.frame_size
    tokens = windows.present.sum(dim=1) * frames
    few = torch.nonzero(tokens < MIN_VALID_TOKENS).flatten()
    if len(few):
        window = int(few[0])
        path = recordings[int(windows.recording[window])].path
        raise JepaError(
            f"{path}: {int(windows.present[window].sum())} valid channel(s) x {frames} frame(s) per window = "
            f"{int(tokens[window])} valid token(s), fewer than the {MIN_VALID_TOKENS} masking needs (one context and "
            "one target token); raise data.window_seconds or lower data.frame_seconds for more frames per window"
        )


def load_splits(root: Path, data: EEGDataConfig) -> DatasetSplits:
    """Training and patient-wise validation windows (each recording's last windows when no patient can be held
    out, see :func:`split_holdout`), each maskable; the TUAB ``eval`` recordings are held out."""
    recordings = [r for r in find_recordings(root) if r.split != "eval"]
    report = NanReport(data.nan_policy, data.max_nan_fraction)
    bad = BadFiles(data.on_bad_file, "EEG recordings")
    windows = load_windows(recordings, data, report, bad)
    check_maskable(windows, recordings, data)
    patients = [recordings[i].patient for i in windows.recording.tolist()]
    starts = windows.number.numpy() * data.hop_size
    holdout = split_holdout(patients, windows.recording.numpy(), starts, data.window_size, data.val_percent, "patient")
    train, val = windows.subset(holdout.train), windows.subset(holdout.val)
    line = report.line("EEG recordings", "recordings")
    notes = [note for note in (line, bad.line(), holdout.note) if note]
    stats = {**report.stats(), **bad.stats()}
    if all(r.label is not None for r in recordings):  # TUAB tree: the linear probe reads the labels
        labelled_val = LabelledWindows(val) if len(val) else None
        labels = LabelSpec(CLASSES, multilabel=False)
        return DatasetSplits(LabelledWindows(train), labelled_val, labels, stats, notes)
    return DatasetSplits(train, val if len(val) else None, stats=stats, notes=notes)


def file_windows(path: Path, data: EEGDataConfig) -> dict[str, np.ndarray]:
    """Every window of one recording (EDF/BDF) kept by the NaN policy, preprocessed as in training: what a
    batch holds, with a leading axis of windows.

    Raises:
        JepaError: The file is unreadable, holds none of ``data.channels``, or no whole window.
    """
    kept, _ = recording_windows(Path(path), data)
    if len(kept.windows) == 0:
        raise JepaError(f"{path}: gives no window (shorter than data.window_seconds, or dropped by data.nan_policy)")
    return {"signal": kept.windows, "present": kept.present}
