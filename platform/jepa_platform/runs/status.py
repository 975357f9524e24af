"""The MLflow status of a run folder's run: a run whose process died is FAILED, a stopped one KILLED."""

from __future__ import annotations

import json
from pathlib import Path

from lightning.pytorch.utilities.rank_zero import rank_zero_warn

from .folder import RUN_FILE


def recorded_run(out: Path) -> tuple[str, str] | None:
    """``(tracking_uri, run_id)`` from ``out/run.json``, or ``None`` when there is none."""
    try:
        record = json.loads((out / RUN_FILE).read_text())
        return record["tracking_uri"], record["run_id"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def set_status(uri: str, run_id: str, status: str, tags: dict[str, str] | None = None) -> None:
    """End MLflow run ``run_id`` with ``status`` (FINISHED, FAILED, KILLED) and set ``tags``."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    for key, value in (tags or {}).items():
        client.set_tag(run_id, key, value)
    client.set_terminated(run_id, status)


def fail_dead_run(out: Path) -> None:
    """Mark the run recorded in ``out`` FAILED when MLflow still shows it RUNNING.

    Called while holding the folder's lock: no live process owns that run, so
    it died (killed, or the machine went down) without ending it.
    """
    recorded = recorded_run(out)
    if recorded is None:
        return
    uri, run_id = recorded
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    try:
        status = MlflowClient(tracking_uri=uri).get_run(run_id).info.status
    except MlflowException:
        return
    if status == "RUNNING":
        rank_zero_warn(f"{out}: MLflow run {run_id} ended without finishing (its process died); marked FAILED")
        set_status(uri, run_id, "FAILED", {"failure": "the process died before the run ended"})
