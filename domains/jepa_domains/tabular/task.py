"""The downstream task of a table: its target on the pretraining split's train / val / test rows, and raw columns for trees."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from jepa_platform.domain import BaselineData, DownstreamTask, JepaError

from .config import TabularDataConfig, TabularTaskConfig
from .dataset import TableDataset, fitted, label_spec
from .preprocess import Columns, encode


def task_table(root: Path, data: TabularDataConfig) -> tuple[Columns, dict[str, np.ndarray], TabularDataConfig]:
    """The table, its rows of each split (none empty) and ``data`` with its encoding, for a downstream task."""
    if data.target is None:
        raise JepaError(f"{root}: a downstream task needs a target column: set data.target (--data.target COLUMN)")
    columns, splits, resolved = fitted(root, data)
    for split in ("val", "test"):
        if len(splits[split]) == 0:
            raise JepaError(f"{root}: the {split} split is empty; raise data.{split}_fraction")
    return columns, splits, resolved


def build_task(root: Path, data: TabularDataConfig, task: TabularTaskConfig) -> DownstreamTask:
    """Predict ``data.target`` (classes or values) on the same train / val / test rows as pretraining."""
    columns, splits, resolved = task_table(root, data)
    labels = label_spec(resolved)
    if labels is None:
        raise JepaError(f"{root}: data.encoding was fitted without a target; it cannot encode '{data.target}'")
    metric = task.metric or ("rmse" if labels.regression else "accuracy")
    table = encode(columns, resolved.encoding)
    sets = {split: TableDataset(table, index, True) for split, index in splits.items()}
    name = f"{task.name} ({root.stem})"  # the table names the results
    return DownstreamTask(name, labels, metric, resolved, sets["train"], sets["val"], sets["test"])


def baseline_data(root: Path, data: TabularDataConfig) -> BaselineData:
    """The task's rows as raw numbers and category indices (NaN where missing), split as in :func:`build_task`."""
    columns, splits, resolved = task_table(root, data)
    encoding = resolved.encoding
    table = encode(columns, encoding)
    numeric = columns.features[[f.name for f in encoding.numeric]].to_numpy(np.float64)
    codes = table.categorical.astype(np.float64)
    codes[table.missing[:, len(encoding.numeric):]] = np.nan
    features = np.concatenate([numeric, codes], axis=1)
    categorical = np.arange(features.shape[1]) >= numeric.shape[1]
    if table.label is None:
        raise JepaError(f"{root}: data.encoding was fitted without a target; it cannot encode '{data.target}'")
    return BaselineData(
        features={split: features[index] for split, index in splits.items()},
        labels={split: table.label[index] for split, index in splits.items()},
        categorical=categorical,
    )
