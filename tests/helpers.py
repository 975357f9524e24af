"""What tests share besides fixtures: the real command line in a subprocess, tiny model settings, paths."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
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


def pip_install_elsewhere(venv: Path, package: Path) -> Path:
    """``pip install -e package`` into a new venv at ``venv`` that also sees this environment's packages (a .pth
    adds its site folders), so an installed plugin never reaches this environment; returns the venv's python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    here = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    (Path(site) / "parent-environment.pth").write_text("".join(f"import site; site.addsitedir({p!r})\n" for p in here))
    pip = [sys.executable, "-m", "pip", "--python", str(python), "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "--no-deps", "--no-build-isolation", "-e", str(package)], check=True)
    return python


def sound_checkpoint(out: Path) -> Path:
    """The checkpoint ``--resume`` reads in run folder ``out`` after a kill: ``last.ckpt`` once it and its hash are
    written, else ``previous.ckpt`` (a kill while a checkpoint is replaced leaves only that one)."""
    last = out / "checkpoints" / "last.ckpt"
    return last if last.is_file() and last.with_name("last.ckpt.sha256").is_file() else last.with_name("previous.ckpt")
