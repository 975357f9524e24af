"""Demo tables: real data sets that ship inside scikit-learn, written as CSV and Parquet to the cache."""

from __future__ import annotations

from pathlib import Path

from .config import DemoTable

TARGET = "target"


def write_demo(folder: Path, name: DemoTable) -> None:
    """Write ``name`` as ``<name>.csv`` and ``<name>.parquet`` into ``folder`` (once; atomic per file)."""
    paths = [folder / f"{name}.csv", folder / f"{name}.parquet"]
    if all(path.is_file() for path in paths):
        return
    from sklearn import datasets

    frame = getattr(datasets, f"load_{name}")(as_frame=True).frame
    folder.mkdir(parents=True, exist_ok=True)
    for path in paths:
        tmp = path.with_name(f".{path.name}.tmp")
        if path.suffix == ".csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_parquet(tmp, index=False)
        tmp.replace(path)
