"""PTB-XL label sets, aggregated from ``scp_statements.csv`` as the PTB-XL benchmarking code does.

- ``all``: every statement of a record;
- ``diagnostic``: the statements flagged ``diagnostic``;
- ``subdiagnostic`` / ``superdiagnostic``: the ``diagnostic_subclass`` / ``diagnostic_class`` of those;
- ``form`` / ``rhythm``: the statements flagged ``form`` / ``rhythm``.

A statement counts whatever its likelihood (PTB-XL gives most form and rhythm
statements likelihood 0). Classes in at most ``min_samples`` records, counted
over all folds, are dropped (except for ``diagnostic``, as in the reference
code); then records without a label in the set are dropped for that task.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from jepa_platform.domain import JepaError

from .config import LabelSet
from .readers import STATEMENTS

STATEMENT_COLUMNS = ("diagnostic", "form", "rhythm", "diagnostic_class", "diagnostic_subclass")
_FLAG = {"diagnostic": "diagnostic", "subdiagnostic": "diagnostic", "superdiagnostic": "diagnostic",
         "form": "form", "rhythm": "rhythm"}
_CLASS_COLUMN = {"subdiagnostic": "diagnostic_subclass", "superdiagnostic": "diagnostic_class"}


def read_statements(root: Path) -> pd.DataFrame:
    """``scp_statements.csv``, indexed by statement code."""
    path = root / STATEMENTS
    if not path.is_file():
        raise JepaError(f"{path} does not exist; the PTB-XL label sets are aggregated from it")
    try:
        table = pd.read_csv(path, index_col=0)
    except Exception as exc:
        raise JepaError(f"{path}: cannot read as CSV: {exc}") from exc
    missing = [column for column in STATEMENT_COLUMNS if column not in table.columns]
    if missing:
        raise JepaError(f"{path}: missing columns {missing} of PTB-XL's statement table")
    return table


def aggregate(codes: Sequence[Collection[str]], statements: pd.DataFrame | None, label_set: LabelSet) -> list[set[str]]:
    """The labels of each record (its ``scp_codes``: their likelihoods do not count) in ``label_set``;
    ``statements`` is unused for ``all``."""
    if label_set == "all":
        return [set(record) for record in codes]
    assert statements is not None
    chosen = statements[statements[_FLAG[label_set]] == 1.0]
    column = _CLASS_COLUMN.get(label_set)
    mapping = {str(code): code if column is None else chosen.at[code, column] for code in chosen.index}
    mapping = {code: str(label) for code, label in mapping.items() if not pd.isna(label)}
    return [{mapping[code] for code in record if code in mapping} for record in codes]


@dataclass
class LabelTable:
    """Multi-hot labels of every record.

    Args:
        classes: Sorted class names.
        multi_hot: ``records × classes`` float32.
    """

    classes: tuple[str, ...]
    multi_hot: np.ndarray

    @property
    def labelled(self) -> np.ndarray:
        """Records with at least one label."""
        return self.multi_hot.sum(axis=1) > 0


def label_table(labels: list[set[str]], min_samples: int) -> LabelTable:
    """Keep the classes of more than ``min_samples`` records and encode every record over them."""
    counts = Counter(label for record in labels for label in record)
    classes = tuple(sorted(label for label, count in counts.items() if count > min_samples))
    position = {label: i for i, label in enumerate(classes)}
    multi_hot = np.zeros((len(labels), len(classes)), dtype=np.float32)
    for row, record in enumerate(labels):
        multi_hot[row, [position[label] for label in record if label in position]] = 1.0
    return LabelTable(classes, multi_hot)


def ptbxl_labels(codes: Sequence[Collection[str]], root: Path, label_set: LabelSet, min_samples: int) -> LabelTable:
    """The label table of ``label_set`` for records with ``codes``, statements read from ``root``."""
    return set_labels(codes, None if label_set == "all" else read_statements(root), label_set, min_samples)


def set_labels(
    codes: Sequence[Collection[str]], statements: pd.DataFrame | None, label_set: LabelSet, min_samples: int
) -> LabelTable:
    """The label table of ``label_set`` for records with ``codes``, given the statement table (``None`` for ``all``)."""
    labels = aggregate(codes, statements, label_set)
    return label_table(labels, 0 if label_set == "diagnostic" else min_samples)
