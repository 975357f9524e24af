"""Shared fixtures: an isolated data cache for the whole session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Demo data goes to a per-session folder, never to the user's cache."""
    cache = tmp_path_factory.mktemp("cache")
    os.environ["JEPA_PLATFORM_CACHE"] = str(cache)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    return cache
