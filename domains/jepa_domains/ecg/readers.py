"""Reading WFDB records (header + signal files) and the PTB-XL index, with clear errors for bad files.

``wfdb`` parses the files; this module checks what it does not (a header
listing fewer signals than it declares, a signal file shorter than the header
says) and maps signals to the standard leads. The PTB-XL layout's
``ptbxl_database.csv`` indexes WFDB records with SCP codes and stratified folds.
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import wfdb
from jepa_platform.domain import JepaError, one_line

from .leads import standard_lead

# Bytes per sample of each WFDB storage format (FLAC formats 5xx are compressed: size unknown).
_BYTES_PER_SAMPLE = {"8": 1, "16": 2, "24": 3, "32": 4, "61": 2, "80": 1, "160": 2, "212": 1.5, "310": 4 / 3, "311": 4 / 3}


@dataclass
class RawRecord:
    """A record's signals mapped onto ``leads``.

    Args:
        signal: ``len(leads) × T`` float32 in mV; missing leads are zero.
        present: ``len(leads)`` bool, ``True`` for leads found in the record.
        fs: Sampling rate in Hz.
    """

    signal: np.ndarray
    present: np.ndarray
    fs: float


def find_records(root: Path) -> list[Path]:
    """Record paths (without extension) of every ``.hea`` header under ``root``, sorted."""
    if root.is_file():
        if root.suffix != ".hea":
            raise JepaError(f"{root} is not a WFDB header (.hea) file")
        return [root.with_suffix("")]
    if not root.is_dir():
        raise JepaError(f"data path {root} does not exist")
    records = sorted(p.with_suffix("") for p in root.rglob("*.hea"))
    if not records:
        raise JepaError(f"{root} holds no WFDB records (no .hea header files found, searched recursively)")
    return records


def check_header(record: Path) -> wfdb.Record:
    """Parse and sanity-check a header; errors name the file and the problem."""
    header = record.with_suffix(".hea")
    try:
        lines = [ln for ln in header.read_text(errors="replace").splitlines() if ln.strip() and not ln.startswith("#")]
    except OSError as exc:
        raise JepaError(f"{header}: cannot read: {exc}") from exc
    if not lines:
        raise JepaError(f"{header}: empty header")
    fields = lines[0].split()
    if len(fields) < 2 or not fields[1].isdigit():
        raise JepaError(f"{header}: first line '{lines[0]}' is not a WFDB record line")
    if "/" in fields[0]:
        raise JepaError(f"{header}: multi-segment records are not supported")
    declared, listed = int(fields[1]), len(lines) - 1
    if listed < declared:
        raise JepaError(f"{header}: header declares {declared} signals but lists only {listed}")
    try:
        meta = wfdb.rdheader(str(record))
    except Exception as exc:
        raise JepaError(f"{header}: malformed header: {one_line(exc)}") from exc
    if not meta.sig_len:
        raise JepaError(f"{header}: header gives no signal length (0 samples)")
    check_signal_files(record, meta)
    return meta


def check_signal_files(record: Path, meta: wfdb.Record) -> None:
    """Each signal file exists and holds at least the bytes the header promises."""
    files: dict[str, list[int]] = {}
    for index, name in enumerate(meta.file_name):
        files.setdefault(name, []).append(index)
    for name, signals in files.items():
        path = record.parent / name
        if not path.is_file():
            raise JepaError(f"{record.with_suffix('.hea')}: signal file {path} is missing")
        fmt = str(meta.fmt[signals[0]])
        if fmt not in _BYTES_PER_SAMPLE:
            continue
        offset = (meta.byte_offset[signals[0]] or 0) if meta.byte_offset else 0
        frames = sum(meta.samps_per_frame[i] for i in signals) if meta.samps_per_frame else len(signals)
        expected = offset + math.ceil(meta.sig_len * frames * _BYTES_PER_SAMPLE[fmt])
        actual = path.stat().st_size
        if actual < expected:
            raise JepaError(
                f"{path}: signal file is truncated: {actual} bytes, but the header declares "
                f"{meta.sig_len} samples x {frames} signals in format {fmt} ({expected} bytes)"
            )


def read_record(record: Path, leads: tuple[str, ...]) -> RawRecord:
    """Read a checked record and map its signals onto ``leads`` by name.

    Unknown signal names are ignored; a record with none of ``leads`` is an error.
    """
    meta = check_header(record)
    positions = {}
    for index, name in enumerate(meta.sig_name):
        lead = standard_lead(name) if name else None  # a signal line may omit its description
        if lead in leads and lead not in positions:
            positions[lead] = index
    if not positions:
        raise JepaError(
            f"{record.with_suffix('.hea')}: none of its signals {meta.sig_name} is one of the leads {list(leads)}"
        )
    try:
        data = wfdb.rdrecord(str(record), channels=list(positions.values()), physical=True)
    except Exception as exc:
        raise JepaError(f"{record.with_suffix('.hea')}: cannot read signals: {one_line(exc)}") from exc
    signal = np.zeros((len(leads), data.sig_len), dtype=np.float32)
    present = np.zeros(len(leads), dtype=bool)
    for column, lead in enumerate(positions):
        row = leads.index(lead)
        signal[row] = data.p_signal[:, column]
        present[row] = True
    return RawRecord(signal=signal, present=present, fs=float(meta.fs))


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
