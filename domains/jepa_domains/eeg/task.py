"""TUAB abnormal-vs-normal: official train/eval split, patient-wise validation, recording-level scores."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from jepa_platform.domain import DownstreamTask, JepaError, LabelSpec, NanReport

from .config import EEGDataConfig, EEGTaskConfig
from .dataset import LabelledWindows, load_windows, pretrain_split
from .readers import CLASSES, find_recordings


def build_task(root: Path, data: EEGDataConfig, task: EEGTaskConfig, demo: bool) -> DownstreamTask:
    """Windows of the TUAB tree under ``root``: ``train`` minus validation patients, ``val``, and ``eval`` as test.

    Raises:
        JepaError: ``root`` is not a TUAB tree, or a split lacks one of the two classes.
    """
    recordings = [rec for rec in find_recordings(root) if rec.label is not None]
    if not recordings:
        raise JepaError(f"task '{task.name}' needs the TUAB layout train|eval/normal|abnormal/... under {root}")
    report = NanReport(data.nan_policy, data.max_nan_fraction)
    windows = load_windows(recordings, data, report)
    if line := report.line(f"EEG recordings of task '{task.name}'", "recordings"):
        warnings.warn(line, stacklevel=2)
    split = np.array([pretrain_split(recordings[i], data.val_percent) for i in windows.recording.tolist()])
    datasets = {}
    for name, source in (("train", "train"), ("val", "val"), ("test", "eval")):
        part = windows.subset(split == source)
        if set(part.label.tolist()) != {0, 1}:
            raise JepaError(
                f"task '{task.name}': the {source} split under {root} needs both normal and abnormal recordings "
                f"(data.val_percent {data.val_percent} chooses the validation patients)"
            )
        datasets[name] = LabelledWindows(part)
    return DownstreamTask(
        name="tuab-abnormal" + (" (demo data)" if demo else ""),
        labels=LabelSpec(CLASSES, multilabel=False),
        metric=task.metric,
        data=data,
        **datasets,
    )
