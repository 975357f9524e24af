"""MLflow tracking: an embedded sqlite store in the run folder unless ``MLFLOW_TRACKING_URI`` is set."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import MLFlowLogger


def tracking_uri(out: Path) -> str:
    """``$MLFLOW_TRACKING_URI`` if set, else ``sqlite:///<out>/mlflow.db``."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{out.resolve() / 'mlflow.db'}"


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
    local = uri.startswith("sqlite:")
    return MLFlowLogger(
        experiment_name=experiment,
        run_name=out.name,
        tracking_uri=uri,
        artifact_location=(out.resolve() / "mlartifacts").as_uri() if local else None,
        run_id=run_id,
    )
