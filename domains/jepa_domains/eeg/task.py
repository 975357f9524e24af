"""TUAB abnormal-vs-normal: official train/eval split, patient-wise validation, recording-level scores."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from jepa_platform.domain import DownstreamTask, JepaError, LabelSpec, NanReport, PreparedShards, holdout_mask

from .config import EEGDataConfig, EEGTaskConfig
from .dataset import EEGWindows, LabelledWindows, load_windows, pretrain_split
from .readers import CLASSES, find_recordings

SPLITS = (("train", "train"), ("val", "val"), ("test", "eval"))
"""Each split of the task and the TUAB split it comes from (``val``: validation patients of ``train``)."""


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
    return split_task(windows, np.where(split == "eval", "test", split), data, task, demo, str(root))


def build_task_from_shards(shards: PreparedShards, data: EEGDataConfig, task: EEGTaskConfig) -> DownstreamTask:
    """The same task on prepared windows: their ``label``, TUAB's ``eval`` as the ``test`` split, the validation
    patients of the others by the same hash, one group per ``source`` recording.

    Raises:
        JepaError: The shards hold no labels (not prepared from the TUAB tree), or a split lacks a class.
    """
    samples, meta = shards.contents.samples, shards.contents.meta
    if "label" not in samples:
        raise JepaError(f"task '{task.name}' needs the TUAB layout train|eval/normal|abnormal/...; the shards at "
                        f"{shards.location} were prepared from recordings outside it (no labels)")
    _, recording = np.unique(meta["source"], return_inverse=True)
    order = np.lexsort((meta["window"], recording))  # recordings in path order, windows in time order: as read raw
    windows = EEGWindows(
        *(torch.from_numpy(samples[key][order]) for key in ("signal", "present")),
        torch.from_numpy(recording[order]),
        torch.from_numpy(samples["label"][order]),
        torch.from_numpy(meta["window"][order]),
    )
    patients, patient = np.unique(meta["patient"][order], return_inverse=True)
    validation = holdout_mask(patients, data.val_percent)[patient]  # the patients pretrain_split holds out
    split = np.where(shards.contents.split[order] == "test", "test", np.where(validation, "val", "train"))
    return split_task(windows, split, data, task, shards.demo, shards.location)


def split_task(
    windows: EEGWindows, split: np.ndarray, data: EEGDataConfig, task: EEGTaskConfig, demo: bool, where: str
) -> DownstreamTask:
    """The task on labelled ``windows`` whose ``split`` is ``train``, ``val`` or ``test``; ``where`` names the data.

    Raises:
        JepaError: A split lacks one of the two classes.
    """
    datasets = {}
    for name, official in SPLITS:
        part = windows.subset(split == name)
        if set(part.label.tolist()) != {0, 1}:
            raise JepaError(
                f"task '{task.name}': the {official} split under {where} needs both normal and abnormal recordings "
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
