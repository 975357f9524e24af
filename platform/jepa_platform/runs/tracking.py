"""MLflow tracking: an embedded sqlite store in the run folder unless ``MLFLOW_TRACKING_URI`` is set.

MLflow stores the URI a logger uses in ``MLFLOW_TRACKING_URI`` of this process.
A value that one of our own run-folder stores put there is not the user's
choice, so the next run in the same process (e.g. a benchmark running several
trainings) still gets its own store.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import MLFlowLogger

_RUN_FOLDER_URIS: set[str] = set()


def tracking_uri(out: Path) -> str:
    """``$MLFLOW_TRACKING_URI`` if the user set it, else ``sqlite:///<out>/mlflow.db``."""
    chosen = os.environ.get("MLFLOW_TRACKING_URI")
    if chosen and chosen not in _RUN_FOLDER_URIS:
        return chosen
    local = f"sqlite:///{out.resolve() / 'mlflow.db'}"
    _RUN_FOLDER_URIS.add(local)
    return local


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def make_logger(out: Path, experiment: str, run_id: str | None = None) -> MLFlowLogger:
    """An MLflow logger for the run in ``out``; ``run_id`` continues an existing run."""
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")  # read when mlflow is first imported
    logging.getLogger("alembic").setLevel(logging.WARNING)
    uri = tracking_uri(out)
    local = uri in _RUN_FOLDER_URIS
    return MLFlowLogger(
        experiment_name=experiment,
        run_name=out.name,
        tracking_uri=uri,
        artifact_location=(out.resolve() / "mlartifacts").as_uri() if local else None,
        run_id=run_id,
    )
