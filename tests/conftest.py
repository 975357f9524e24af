"""Shared fixtures: an isolated data cache and a way to run the real command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CLI = str(Path(sys.executable).parent / "jepa-platform")


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Demo data goes to a per-session folder, never to the user's cache."""
    cache = tmp_path_factory.mktemp("cache")
    os.environ["JEPA_PLATFORM_CACHE"] = str(cache)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    return cache


def run_cli(*args: str, timeout: float = 300, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``jepa-platform ARGS`` in a subprocess as a user would; output captured as text."""
    return subprocess.run(
        [CLI, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd
    )


# Tiny settings that keep an end-to-end ECG run to a few seconds of training on 2 CPU cores.
TINY_ECG = [
    "--model.preset", "vit_tiny", "--model.depth", "2", "--model.predictor_depth", "1",
    "--trainer.batch_size", "8", "--trainer.num_workers", "0",
]
