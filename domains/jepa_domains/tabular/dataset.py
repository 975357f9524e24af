"""Tabular datasets: the table read, typed, split, encoded with the train-fitted encoding, served as dicts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from jepa_platform.errors import JepaError
from jepa_platform.plugin import BaselineData, DatasetSplits, DownstreamTask, LabelSpec

from .config import TabularDataConfig, TabularTaskConfig
from .encoding import Columns, EncodedTable, encode, fit_encoding, split_columns, split_rows
from .table import read_table


class TableDataset(Dataset):
    """Rows ``index`` of an encoded table as samples ``{numeric, categorical, missing[, label, group]}``."""

    def __init__(self, table: EncodedTable, index: np.ndarray, labelled: bool) -> None:
        self.tensors = {
            "numeric": torch.from_numpy(table.numeric[index]),
            "categorical": torch.from_numpy(table.categorical[index]),
            "missing": torch.from_numpy(table.missing[index]),
        }
        if labelled and table.label is not None:
            self.tensors["label"] = torch.from_numpy(table.label[index])
            self.tensors["group"] = torch.from_numpy(index.astype(np.int64))

    def __len__(self) -> int:
        return len(self.tensors["numeric"])

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {key: value[i] for key, value in self.tensors.items()}


def load_columns(root: Path, data: TabularDataConfig) -> Columns:
    return split_columns(read_table(root), data, str(root))


def fitted(root: Path, data: TabularDataConfig) -> tuple[Columns, dict[str, np.ndarray], TabularDataConfig]:
    """The table's columns, its split, and ``data`` with the encoding (fitted on the training rows when unset)."""
    columns = load_columns(root, data)
    splits = split_rows(len(columns.features), data)
    if len(splits["train"]) == 0:
        raise JepaError(f"{root}: no training rows left after the validation and test fractions")
    if data.encoding is None:
        data = data.model_copy(update={"encoding": fit_encoding(columns, data, splits["train"])})
    return columns, splits, data


def label_spec(data: TabularDataConfig) -> LabelSpec | None:
    """Classes or the regression target of ``data.encoding``; ``None`` without a target."""
    target = data.encoding.target if data.encoding is not None else None
    if target is None:
        return None
    if target.task_type == "regression":
        return LabelSpec((target.name,), multilabel=False, regression=True)
    return LabelSpec(tuple(target.classes), multilabel=False)


def load_splits(root: Path, data: TabularDataConfig) -> DatasetSplits:
    """Pretraining sets (train, val); the test rows stay held out. Sets ``data.encoding`` when it is unset."""
    columns, splits, resolved = fitted(root, data)
    data.encoding = resolved.encoding  # the recipe carries the fitted encoding into config.yaml and the checkpoint
    labels = label_spec(resolved)
    if labels is not None and labels.regression:
        labels = None  # the online probe of pretraining classifies
    table = encode(columns, resolved.encoding)
    return DatasetSplits(
        train=TableDataset(table, splits["train"], labels is not None),
        val=TableDataset(table, splits["val"], labels is not None) if len(splits["val"]) else None,
        labels=labels,
    )


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
