"""Tabular datasets: the table read, typed, split, encoded with the train-fitted encoding, served as dicts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from jepa_platform.errors import JepaError
from jepa_platform.plugin import DatasetSplits, DownstreamTask, LabelSpec

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
    target = data.encoding.target if data.encoding is not None else None
    if target is None or target.task_type != "classification":
        return None
    return LabelSpec(tuple(target.classes), multilabel=False)


def load_splits(root: Path, data: TabularDataConfig) -> DatasetSplits:
    """Pretraining sets (train, val); the test rows stay held out. Sets ``data.encoding`` when it is unset."""
    columns, splits, resolved = fitted(root, data)
    data.encoding = resolved.encoding  # the recipe carries the fitted encoding into config.yaml and the checkpoint
    labels = label_spec(resolved)
    table = encode(columns, resolved.encoding)
    return DatasetSplits(
        train=TableDataset(table, splits["train"], labels is not None),
        val=TableDataset(table, splits["val"], labels is not None) if len(splits["val"]) else None,
        labels=labels,
    )


def build_task(root: Path, data: TabularDataConfig, task: TabularTaskConfig) -> DownstreamTask:
    """Classify ``data.target`` on the same train / val / test rows as pretraining."""
    if data.target is None:
        raise JepaError(f"{root}: a downstream task needs a target column: set data.target (--data.target COLUMN)")
    columns, splits, resolved = fitted(root, data)
    labels = label_spec(resolved)
    if labels is None:
        raise JepaError(
            f"{root}: target column '{data.target}' is a regression target; probe and finetune support "
            "classification only (data.task_type: classification treats its values as classes)"
        )
    table = encode(columns, resolved.encoding)
    for split in ("val", "test"):
        if len(splits[split]) == 0:
            raise JepaError(f"{root}: the {split} split is empty; raise data.{split}_fraction")
    sets = {split: TableDataset(table, index, True) for split, index in splits.items()}
    return DownstreamTask(task.name, labels, task.metric, resolved, sets["train"], sets["val"], sets["test"])
