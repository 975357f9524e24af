"""Reading CSV and Parquet tables (a file or a folder of them) into one pandas frame, with clear errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
from jepa_platform.domain import JepaError, one_line

SUFFIXES = (".csv", ".parquet", ".pq")


def table_files(path: Path) -> list[Path]:
    """The table files ``path`` names: itself, or the CSV/Parquet files of a folder, sorted."""
    if path.is_file():
        if path.suffix.lower() not in SUFFIXES:
            raise JepaError(f"{path}: not a table file (expected one of {', '.join(SUFFIXES)})")
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)
        if not files:
            raise JepaError(f"{path}: the folder holds no {', '.join(SUFFIXES)} files")
        return files
    raise JepaError(f"{path} does not exist")


def read_file(path: Path) -> pa.Table:
    """One CSV or Parquet file as an Arrow table; binary (undecodable) columns are errors."""
    import pyarrow.csv as csv
    import pyarrow.parquet as pq

    try:
        if path.suffix.lower() == ".csv":
            table = csv.read_csv(path, convert_options=csv.ConvertOptions(strings_can_be_null=True))
        else:
            table = pq.read_table(path)
    except (pa.ArrowInvalid, pa.ArrowIOError, OSError) as exc:
        raise JepaError(f"{path}: cannot read as {path.suffix.lstrip('.').upper()}: {one_line(exc)}") from None
    try:
        table.schema.names  # Arrow keeps a CSV's header bytes as they are; Python needs them as text
    except UnicodeDecodeError:
        raise JepaError(f"{path}: the column names are not valid UTF-8 text") from None
    for field in table.schema:
        if pa.types.is_binary(field.type) or pa.types.is_large_binary(field.type):
            raise JepaError(f"{path}: column '{field.name}' holds bytes that are not valid UTF-8 text")
    if table.num_rows == 0:
        raise JepaError(f"{path}: the table has no rows")
    return table


def read_table(path: str | Path) -> pd.DataFrame:
    """All rows of the table files at ``path`` (their columns must agree), as a pandas frame."""
    files = table_files(Path(path).expanduser())
    tables = [read_file(file) for file in files]
    names = tables[0].column_names
    for file, table in zip(files[1:], tables[1:]):
        if table.column_names != names:
            raise JepaError(f"{file}: columns {table.column_names} differ from {files[0].name}'s {names}")
    try:
        table = pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise JepaError(f"{path}: the files' column types do not agree: {exc}") from None
    return table.to_pandas(date_as_object=False)
