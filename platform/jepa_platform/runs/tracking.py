"""MLflow tracking: one sqlite store per folder of runs, unless ``MLFLOW_TRACKING_URI`` is set.

Runs in one folder (``runs/ecg-...``, ``runs/ecg-...-probe-...``) share the store
``runs/mlflow.db`` and its artifacts ``runs/mlartifacts``, one experiment per
domain, so ``mlflow ui`` shows them side by side. Every run is tagged with the
package version, its git commit (in a git checkout) and the domain plugin's
package and version.

MLflow stores the URI a logger uses in ``MLFLOW_TRACKING_URI`` of this process.
A value that one of our own stores put there is not the user's choice, so the
next run in the same process (e.g. a benchmark running several trainings in
other folders) still gets the store of its own folder.
"""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import MLFlowLogger

from ..flock import exclusive

_RUN_FOLDER_URIS: set[str] = set()
STORE_FILE = "mlflow.db"


def tracking_uri(out: Path) -> str:
    """``$MLFLOW_TRACKING_URI`` if the user set it, else ``sqlite:///<folder of out>/mlflow.db``."""
    chosen = os.environ.get("MLFLOW_TRACKING_URI")
    if chosen and chosen not in _RUN_FOLDER_URIS:
        return chosen
    local = f"sqlite:///{out.resolve().parent / STORE_FILE}"
    _RUN_FOLDER_URIS.add(local)
    return local


def experiment_name(domain: str) -> str:
    """The MLflow experiment of a domain's runs: pretraining, probes and fine-tunes alike."""
    return f"jepa-platform/{domain}"


def git_commit(folder: Path) -> str | None:
    """The commit checked out at ``folder`` (``+dirty`` with uncommitted changes), or ``None`` outside git."""
    try:
        head = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=5)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(folder), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def provenance_tags(domain: str) -> dict[str, str]:
    """``jepa.version``, ``jepa.git_commit`` (of the package's source, in a git checkout) and the domain
    plugin's package and version (``jepa.plugin``, ``jepa.plugin_version``)."""
    from ..domain.registry import domain_entry_points
    from ..version import __version__

    tags = {"jepa.version": __version__, "jepa.domain": domain}
    commit = git_commit(Path(__file__).resolve().parent)
    if commit is not None:
        tags["jepa.git_commit"] = commit
    entry = domain_entry_points().get(domain)
    dist = getattr(entry, "dist", None)
    if dist is not None:
        tags["jepa.plugin"] = f"{dist.name} ({entry.value})"
        tags["jepa.plugin_version"] = dist.version
    return tags


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def make_logger(out: Path, experiment: str, run_id: str | None = None, tags: dict[str, str] | None = None) -> MLFlowLogger:
    """An MLflow logger for the run in ``out``; ``run_id`` continues an existing run; ``tags`` tag a new run."""
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")  # read when mlflow is first imported
    logging.getLogger("alembic").setLevel(logging.WARNING)
    uri = tracking_uri(out)
    local = uri in _RUN_FOLDER_URIS  # the store beside the run folder, not one the user named
    artifacts = (out.resolve().parent / "mlartifacts").as_uri() if local else None
    if run_id is None:
        ensure_experiment(uri, experiment, artifacts, out.resolve().parent / ".mlflow.lock" if local else None)
    return MLFlowLogger(
        experiment_name=experiment,
        run_name=out.name,
        tracking_uri=uri,
        artifact_location=artifacts,
        run_id=run_id,
        tags=tags if run_id is None else None,
    )


def ensure_experiment(uri: str, name: str, artifact_location: str | None, lock: Path | None = None) -> None:
    """Create MLflow experiment ``name`` unless it exists.

    Runs started at once into one folder's sqlite store (a sweep into ``runs/``) would race to create its
    tables and the experiment: with ``lock`` (a file beside the store) one process at a time does it. A
    server store may still see two creations at once; the one that loses finds the other's experiment.
    """
    from mlflow.tracking import MlflowClient

    with exclusive(lock):
        client = MlflowClient(tracking_uri=uri)
        if client.get_experiment_by_name(name) is None:
            try:
                client.create_experiment(name, artifact_location=artifact_location)
            except Exception:
                if client.get_experiment_by_name(name) is None:  # not another run's creation
                    raise
