"""Tabular datasets: the table read, typed, split, encoded with the train-fitted encoding, served as dicts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from jepa_platform.domain import DatasetSplits, JepaError, LabelSpec
from torch.utils.data import Dataset

from .config import TabularDataConfig
from .preprocess import Columns, EncodedTable, encode, fit_encoding, split_columns, split_rows
from .readers import read_table


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
    """Pretraining sets (train, val); the test rows stay held out."""
    columns, splits, resolved = fitted(root, data)
    labels = label_spec(resolved)
    if labels is not None and labels.regression:
        labels = None  # the linear probe of pretraining classifies
    table = encode(columns, resolved.encoding)
    return DatasetSplits(
        train=TableDataset(table, splits["train"], labels is not None),
        val=TableDataset(table, splits["val"], labels is not None) if len(splits["val"]) else None,
        labels=labels,
    )


def file_rows(path: Path, data: TabularDataConfig) -> dict[str, np.ndarray]:
    """Every row of a table file encoded with ``data.encoding`` (fitted on the training rows): what a batch
    holds, with a leading axis of rows. The target column, when the file has it, is left out.

    Raises:
        JepaError: The file is unreadable, lacks a feature column of the encoding, or the encoding is unset.
    """
    if data.encoding is None:
        raise JepaError("data.encoding is not set: embed rows with an encoder whose recipe fitted it")
    frame = read_table(Path(path))
    if data.target is not None and data.target in frame.columns:
        frame = frame.drop(columns=[data.target])
    if frame.empty:
        raise JepaError(f"{path}: the table holds no row")
    table = encode(split_columns(frame, data.model_copy(update={"target": None}), str(path)), data.encoding)
    return {"numeric": table.numeric, "categorical": table.categorical, "missing": table.missing}
