"""Column typing, the train-split fit of the encoding, and vectorized encoding of rows into arrays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from jepa_platform.domain import JepaError

from .config import ColumnType, FeatureEncoding, TableEncoding, TabularDataConfig, TargetEncoding

DATETIME_PARTS = ("year", "month", "day", "weekday", "hour")


@dataclass
class Columns:
    """A table as features (datetimes split into numeric parts) and the target.

    Args:
        features: One column per feature.
        kinds: ``numeric`` or ``categorical`` per feature column.
        target: The target values (``None`` without ``data.target``); rows without a target are dropped.
        source: The file or folder, for error messages.
    """

    features: pd.DataFrame
    kinds: dict[str, str]
    target: pd.Series | None
    source: str


def infer_type(column: pd.Series) -> ColumnType:
    """``numeric`` for numbers, ``datetime`` for timestamps and ISO-8601 text, ``categorical`` for the rest."""
    if pd.api.types.is_bool_dtype(column):
        return "categorical"
    if pd.api.types.is_numeric_dtype(column):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(column):
        return "datetime"
    present = column.dropna()
    stamps = pd.to_datetime(present.astype(str), format="ISO8601", errors="coerce")
    return "datetime" if len(present) and stamps.notna().all() else "categorical"


def as_text(column: pd.Series) -> pd.Series:
    """Category labels as strings, nulls kept."""
    return column.astype("string").astype(object).where(column.notna(), None)


def split_columns(frame: pd.DataFrame, data: TabularDataConfig, source: str) -> Columns:
    """Type the columns (``data.column_types`` overrides inference), split datetimes, separate the target."""
    unknown = sorted(set(data.column_types) - set(frame.columns))
    if unknown:
        raise JepaError(f"{source}: data.column_types names column '{unknown[0]}', which the table lacks")
    target = None
    if data.target is not None:
        if data.target not in frame.columns:
            raise JepaError(
                f"{source}: target column '{data.target}' not found; columns are {', '.join(map(str, frame.columns))}"
            )
        present = frame[data.target].notna().to_numpy()
        if not present.any():
            raise JepaError(f"{source}: target column '{data.target}' is empty in every row")
        frame = frame[present].reset_index(drop=True)
        target = frame.pop(data.target)
    features: dict[str, pd.Series] = {}
    kinds: dict[str, str] = {}
    for name in frame.columns:
        column = frame[name]
        kind = data.column_types.get(name) or infer_type(column)
        if kind == "ignore":
            continue
        if kind == "datetime":
            stamps = pd.to_datetime(column, format="ISO8601", errors="coerce")
            for part in DATETIME_PARTS:
                features[f"{name}.{part}"] = getattr(stamps.dt, part).astype("float64")
                kinds[f"{name}.{part}"] = "numeric"
        elif kind == "numeric":
            values = pd.to_numeric(column, errors="coerce")
            if values.notna().sum() < column.notna().sum():
                raise JepaError(f"{source}: column '{name}' is typed numeric but holds values that are not numbers")
            features[name], kinds[name] = values.astype("float64"), "numeric"
        else:
            features[name], kinds[name] = as_text(column), "categorical"
    if not features:
        raise JepaError(f"{source}: no feature columns left besides the target")
    return Columns(pd.DataFrame(features), kinds, target, source)


def fit_target(target: pd.Series, data: TabularDataConfig, train: np.ndarray, source: str) -> TargetEncoding:
    """The target's task type, and its classes (from all labelled rows) for classification."""
    name = str(data.target)
    task_type = data.task_type
    numeric = pd.api.types.is_numeric_dtype(target) and not pd.api.types.is_bool_dtype(target)
    if task_type == "auto":
        whole = numeric and bool(np.all(np.mod(target.to_numpy(float), 1) == 0))
        few = whole and target.nunique() <= data.max_classes
        task_type = "classification" if not numeric or few else "regression"
    if task_type == "regression":
        if not numeric:
            raise JepaError(f"{source}: target column '{name}' is not numeric; it cannot be a regression target")
        if not np.isfinite(target.to_numpy(float)).all():
            raise JepaError(f"{source}: target column '{name}' holds infinite values")
        return TargetEncoding(name=name, task_type="regression")
    classes = sorted(as_text(target).unique().tolist(), key=_natural)
    if len(classes) < 2:
        raise JepaError(f"{source}: target column '{name}' has a single class ({classes[0]!r}); nothing to predict")
    return TargetEncoding(name=name, task_type="classification", classes=classes)


def _natural(label: str) -> tuple[int, float | str]:
    """Numbers in numeric order before text in alphabetical order."""
    try:
        return (0, float(label))
    except ValueError:
        return (1, label)


def _std(values: np.ndarray) -> float:
    std = float(values.std()) if len(values) else 0.0
    return std if std > 1e-12 else 1.0


def fit_encoding(columns: Columns, data: TabularDataConfig, train: np.ndarray) -> TableEncoding:
    """Means, stds and the ``max_categories - 1`` most frequent categories of the training rows ``train``."""
    numeric, categorical = [], []
    for name, kind in columns.kinds.items():
        values = columns.features[name].iloc[train]
        if kind == "numeric":
            present = values.dropna().to_numpy(float)
            mean = float(present.mean()) if len(present) else 0.0
            numeric.append(FeatureEncoding(name=name, kind="numeric", mean=mean, std=_std(present)))
        else:
            counts = values.value_counts(dropna=True)
            kept = sorted(counts.index[: data.max_categories - 1].tolist(), key=lambda c: (-counts[c], c))
            categorical.append(FeatureEncoding(name=name, kind="categorical", categories=kept))
    target = None if columns.target is None else fit_target(columns.target, data, train, columns.source)
    return TableEncoding(features=numeric + categorical, target=target)


@dataclass
class EncodedTable:
    """Model inputs of every row: standardized numbers, category indices (0: other) and missing flags."""

    numeric: np.ndarray
    categorical: np.ndarray
    missing: np.ndarray
    label: np.ndarray | None


def encode(columns: Columns, encoding: TableEncoding) -> EncodedTable:
    """Encode every row with ``encoding`` (fitted elsewhere); the table must hold its feature columns."""
    absent = [f.name for f in encoding.features if f.name not in columns.features.columns]
    if absent:
        raise JepaError(f"{columns.source}: column '{absent[0]}' of the saved encoding is missing from the table")
    rows = len(columns.features)
    num = encoding.numeric
    values = np.zeros((rows, len(num)))
    for j, feature in enumerate(num):
        values[:, j] = pd.to_numeric(columns.features[feature.name], errors="coerce").to_numpy(np.float64)
    mean = np.array([f.mean for f in num]).reshape(1, -1)
    std = np.array([f.std for f in num]).reshape(1, -1)
    numeric = (values - mean) / std
    missing_num = ~np.isfinite(numeric)
    numeric[missing_num] = 0.0
    cats = encoding.categorical
    codes = np.zeros((rows, len(cats)), dtype=np.int64)
    missing_cat = np.zeros((rows, len(cats)), dtype=bool)
    for j, feature in enumerate(cats):
        column = as_text(columns.features[feature.name])
        missing_cat[:, j] = column.isna().to_numpy()
        codes[:, j] = pd.Categorical(column, categories=feature.categories).codes + 1  # unknown -> 0, "other"
    codes[missing_cat] = 0
    return EncodedTable(
        numeric=numeric.astype(np.float32),
        categorical=codes,
        missing=np.concatenate([missing_num, missing_cat], axis=1),
        label=None if columns.target is None or encoding.target is None else encode_target(columns, encoding.target),
    )


def encode_target(columns: Columns, target: TargetEncoding) -> np.ndarray:
    """Class indices (int64) or values in the target's units (float32)."""
    assert columns.target is not None
    if target.task_type == "regression":
        return columns.target.to_numpy(np.float32)
    codes = pd.Categorical(as_text(columns.target), categories=target.classes).codes
    if (codes < 0).any():
        unseen = as_text(columns.target)[codes < 0].iloc[0]
        raise JepaError(
            f"{columns.source}: target column '{target.name}' holds class {unseen!r} unknown to the encoding"
        )
    return codes.astype(np.int64)


def split_rows(rows: int, data: TabularDataConfig) -> dict[str, np.ndarray]:
    """Row indices of ``train``, ``val`` and ``test`` from one seeded permutation."""
    order = np.random.default_rng(data.split_seed).permutation(rows)
    test = int(round(data.test_fraction * rows))
    val = int(round(data.val_fraction * rows))
    parts = {"test": order[:test], "val": order[test : test + val], "train": order[test + val :]}
    return {name: np.sort(index) for name, index in parts.items()}
