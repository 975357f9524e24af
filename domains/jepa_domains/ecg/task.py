"""PTB-XL downstream tasks: labelled records in folds, random training crops, sliding evaluation windows.

Records are read and normalized exactly as for pretraining (the encoder's
``data`` section, e.g. 10 s windows z-scored per lead); crops are cut from
those windows, so the encoder sees inputs of the statistics it was trained on.
The encoder's token grid is that of one crop (``window_seconds = crop_seconds``).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from jepa_platform.domain import DownstreamTask, JepaError, LabelSpec, PreparedShards
from pydantic import ValidationError
from torch.utils.data import Dataset

from .config import ECGDataConfig, ECGTaskConfig
from .dataset import ECGWindows, load_windows, window_settings
from .labels import LabelTable, ptbxl_labels, set_labels
from .readers import DATABASE, STATEMENTS, is_ptbxl, read_database


def window_starts(length: int, crop: int, stride: int) -> list[int]:
    """Starts of the crops every ``stride`` samples that fit in ``length`` (one at 0 when none fits), as ECG-JEPA."""
    return list(range(0, max(length - crop, 0) + 1, stride))


class ECGCrops(Dataset):
    """Labelled crops of ECG windows: a random crop per access, or every sliding window.

    Args:
        windows: Normalized windows, one or more per record.
        labels: ``len(windows) × C`` multi-hot labels.
        groups: ``len(windows)`` record numbers; the crops of a record share one.
        crop: Samples per crop.
        stride: Samples between evaluation windows; ``None``: one random crop per window and access.
    """

    def __init__(self, windows: ECGWindows, labels: torch.Tensor, groups: torch.Tensor, crop: int, stride: int | None):
        self.windows, self.labels, self.groups, self.crop = windows, labels, groups, crop
        lengths = windows.lengths.tolist()
        if stride is None:
            self.views = [(row, None) for row in range(len(windows))]
        else:
            self.views = [
                (row, start) for row, length in enumerate(lengths) for start in window_starts(length, crop, stride)
            ]

    def __len__(self) -> int:
        return len(self.views)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        row, start = self.views[index]
        length = int(self.windows.lengths[row])
        if start is None:
            start = int(torch.randint(0, max(length - self.crop, 0) + 1, ()))
        return {
            "signal": self.windows.signals[row, :, start : start + self.crop],
            "lead_present": self.windows.present[row],
            "length": torch.tensor(min(self.crop, length - start)),
            "label": self.labels[row],
            "group": self.groups[row],
        }


def crop_data(data: ECGDataConfig, task: ECGTaskConfig) -> ECGDataConfig:
    """The encoder's ``data`` section with windows of one crop (the token grid of the downstream encoder)."""
    if task.crop_seconds > data.window_seconds:
        raise JepaError(
            f"task.crop_seconds {task.crop_seconds} is longer than the encoder's windows "
            f"(data.window_seconds {data.window_seconds})"
        )
    fields = {
        **data.model_dump(),
        "window_seconds": task.crop_seconds,
        "min_seconds": min(data.min_seconds, task.crop_seconds),
    }
    try:
        return type(data).model_validate(fields)
    except ValidationError as exc:
        problem = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise JepaError(f"task.crop_seconds {task.crop_seconds}: {problem}") from None


def build_task(root: Path, data: ECGDataConfig, task: ECGTaskConfig, demo: bool) -> DownstreamTask:
    """The PTB-XL label set ``task.name`` on the records under ``root``, split by ``strat_fold``.

    Raises:
        JepaError: ``root`` is not in the PTB-XL layout, a split holds no labelled
            record, or an evaluation split has no class with both positives and negatives.
    """
    if not is_ptbxl(root):
        raise JepaError(f"task '{task.name}' needs PTB-XL labels, but {root} has no {DATABASE}")
    index = read_database(root, data.sampling_rate)
    table = ptbxl_labels(list(index["scp_codes"]), root, task.name, task.min_samples)
    settings = window_settings(data)

    def load(records: pd.DataFrame) -> ECGWindows:
        report = settings.nan_report()
        windows = load_windows(records, settings, description=f"reading ECG records ({task.name})", report=report)
        if line := report.line(f"ECG records of task '{task.name}'", "records"):
            warnings.warn(line, stacklevel=2)
        return windows

    return folds_task(index, table, load, data, task, demo, str(root / DATABASE))


def build_task_from_shards(shards: PreparedShards, data: ECGDataConfig, task: ECGTaskConfig) -> DownstreamTask:
    """The PTB-XL label set ``task.name`` on prepared windows (with the records' ``scp_codes`` and folds).

    Raises:
        JepaError: The shards were prepared from records without PTB-XL's index or statement table,
            or :func:`folds_task` refuses the splits.
    """
    samples, meta = shards.contents.samples, shards.contents.meta
    if "scp_codes" not in meta:
        raise JepaError(f"task '{task.name}' needs PTB-XL labels, but the shards at {shards.location} carry no "
                        f"scp_codes: prepared from records without {DATABASE} (or by an older jepa-platform)")
    statements = None
    if task.name != "all":
        if "statements" not in shards.info:
            raise JepaError(f"task '{task.name}' aggregates statements by {STATEMENTS}, which the shards at "
                            f"{shards.location} lack (prepare them again from the PTB-XL folder holding it)")
        statements = pd.DataFrame.from_dict(shards.info["statements"], orient="index")
    names, first, record = np.unique(meta["source"], return_index=True, return_inverse=True)
    index = pd.DataFrame({
        "record": names,
        "scp_codes": [json.loads(codes) for codes in meta["scp_codes"][first]],
        "strat_fold": meta["fold"][first],
    })
    table = set_labels(list(index["scp_codes"]), statements, task.name, task.min_samples)
    order = np.lexsort((meta["window"], record))  # records in index order, windows in time order: as read raw

    def load(records: pd.DataFrame) -> ECGWindows:
        rows = order[np.isin(record[order], records.index)]
        windows = records.loc[record[rows]].reset_index(drop=True).assign(window=meta["window"][rows])
        arrays = (torch.from_numpy(samples[key][rows]) for key in ("signal", "lead_present", "length"))
        return ECGWindows(*arrays, windows)

    return folds_task(index, table, load, data, task, shards.demo, shards.location)


def folds_task(
    index: pd.DataFrame,
    table: LabelTable,
    load: Callable[[pd.DataFrame], ECGWindows],
    data: ECGDataConfig,
    task: ECGTaskConfig,
    demo: bool,
    where: str,
) -> DownstreamTask:
    """The task on the records of ``index`` (``scp_codes``, ``strat_fold``; labels in ``table``, row by row).

    ``load`` gives the windows of some records of ``index`` (their ``strat_fold`` and ``label_row`` in the
    windows' ``meta``). ``where`` names the data in errors.
    """
    view = crop_data(data, task)
    crop = view.window_size
    stride = max(1, round(task.eval_stride_seconds * data.sampling_rate))
    index = index.assign(label_row=np.arange(len(index)))[table.labelled]
    splits = {"train": task.train_folds, "val": task.val_folds, "test": task.test_folds}
    for split, folds in splits.items():
        if not index["strat_fold"].isin(folds).any():
            raise JepaError(
                f"{where}: the {split} folds {list(folds)} (task.{split}_folds) hold no record "
                f"with a label of the '{task.name}' set"
            )
    windows = load(index[index["strat_fold"].isin([fold for folds in splits.values() for fold in folds])])
    rows = windows.meta["label_row"].to_numpy()
    labels = torch.from_numpy(table.multi_hot[rows])
    groups = torch.from_numpy(pd.factorize(rows)[0])
    datasets = {}
    for split, folds in splits.items():
        mask = windows.meta["strat_fold"].isin(folds).to_numpy()
        if not mask.any():
            raise JepaError(f"task '{task.name}': no record of the {split} folds {list(folds)} is long enough to use")
        positives = labels[mask].sum(dim=0)
        if split != "train" and not ((positives > 0) & (positives < mask.sum())).any():
            raise JepaError(
                f"task '{task.name}': no class has both positive and negative records in the {split} folds "
                f"{list(folds)}, so macro AUC is undefined there"
            )
        part = windows.subset(mask)
        datasets[split] = ECGCrops(part, labels[mask], groups[mask], crop, None if split == "train" else stride)
    return DownstreamTask(
        name=f"ptbxl-{task.name}" + (" (demo data)" if demo else ""),
        labels=LabelSpec(table.classes, multilabel=True),
        metric="macro_auc",
        data=view,
        **datasets,
    )
