"""The PTB-XL layout: ``ptbxl_database.csv`` indexes WFDB records with SCP codes and stratified folds."""

from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd

from jepa_platform.errors import JepaError

DATABASE = "ptbxl_database.csv"
STATEMENTS = "scp_statements.csv"
REQUIRED_COLUMNS = ("ecg_id", "filename_lr", "filename_hr", "scp_codes", "strat_fold")


def is_ptbxl(root: Path) -> bool:
    return root.is_dir() and (root / DATABASE).is_file()


def read_database(root: Path, sampling_rate: int) -> pd.DataFrame:
    """The record index with a ``record`` path column chosen for ``sampling_rate``.

    The 500 Hz files (``filename_hr``) serve rates above 100 Hz when present;
    otherwise the 100 Hz files (``filename_lr``), resampled as needed.
    """
    path = root / DATABASE
    try:
        table = pd.read_csv(path, index_col=None)
    except Exception as exc:
        raise JepaError(f"{path}: cannot read as CSV: {exc}") from exc
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise JepaError(f"{path}: missing columns {missing} of the PTB-XL layout")
    if table.empty:
        raise JepaError(f"{path}: no records listed")
    high = table["filename_hr"].fillna("").astype(str)
    use_high = sampling_rate > 100 and bool((high != "").all()) and (root / (high.iloc[0] + ".hea")).is_file()
    column = "filename_hr" if use_high else "filename_lr"
    table["record"] = [root / name for name in table[column].astype(str)]
    table["scp_codes"] = [_parse_codes(text, path, row) for row, text in zip(table["ecg_id"], table["scp_codes"])]
    return table


def _parse_codes(text: object, path: Path, ecg_id: object) -> dict[str, float]:
    try:
        codes = ast.literal_eval(str(text))
    except (ValueError, SyntaxError, TypeError) as exc:
        raise JepaError(f"{path}: ecg_id {ecg_id}: scp_codes {text!r} is not a dict literal") from exc
    if not isinstance(codes, dict):
        raise JepaError(f"{path}: ecg_id {ecg_id}: scp_codes {text!r} is not a dict literal")
    try:
        return {str(k): float(v) for k, v in codes.items()}
    except (TypeError, ValueError) as exc:
        raise JepaError(f"{path}: ecg_id {ecg_id}: scp_codes {text!r} has a non-numeric likelihood") from exc
