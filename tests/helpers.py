"""What tests share besides fixtures: the real command line in a subprocess, tiny model settings, paths."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CLI = str(Path(sys.executable).parent / "jepa-platform")
ROOT = Path(__file__).parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
RECIPES = ROOT / "recipes"


def run_cli(*args: str, timeout: float = 300, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``jepa-platform ARGS`` in a subprocess as a user would; output captured as text.

    The subprocess gets this process's environment without ``MLFLOW_TRACKING_URI``, which MLflow
    sets in a process that logged a run: each command line run keeps its own store, as a user's does.
    """
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd, env=cli_env())


def cli_env() -> dict[str, str]:
    """This process's environment without ``MLFLOW_TRACKING_URI`` (see :func:`run_cli`)."""
    return {key: value for key, value in os.environ.items() if key != "MLFLOW_TRACKING_URI"}


# Tiny settings that keep an end-to-end ECG run to a few seconds of training on 2 CPU cores.
TINY_ECG = [
    "--model.preset", "vit_tiny", "--model.depth", "2", "--model.predictor_depth", "1",
    "--trainer.batch_size", "8", "--trainer.num_workers", "0",
]
