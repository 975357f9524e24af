"""A user scaffolds a plugin with ``new-domain``, installs it with pip, lists it, pretrains on it and runs its tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.helpers import cli_env, pip_install_elsewhere, run_cli


@pytest.mark.slow
def test_a_scaffolded_plugin_installs_lists_pretrains_and_passes_its_tests(tmp_path):
    made = run_cli("new-domain", "scaffolded", "--out", str(tmp_path), "--geometry", "sequence")
    assert made.returncode == 0, made.stderr
    folder = tmp_path / "jepa-scaffolded"
    assert f"pip install -e {folder}" in made.stdout

    again = run_cli("new-domain", "scaffolded", "--out", str(tmp_path))
    refused = f"error: new-domain: {folder} already exists; remove it or choose another --out\n"
    assert again.returncode == 2 and again.stderr == refused

    python = pip_install_elsewhere(tmp_path / "venv", folder)

    def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([str(python), *args], capture_output=True, text=True, env=cli_env(), cwd=cwd, timeout=300)

    listed = run("-m", "jepa_platform.cli", "domains", "list")
    assert listed.returncode == 0, listed.stderr
    assert "scaffolded  signals of channels x length steps: time-patch tokens" in listed.stdout

    out = tmp_path / "run"
    tiny = ["--model.depth", "1", "--model.predictor_depth", "1", "--trainer.batch_size", "8"]
    pretrained = run("-m", "jepa_platform.cli", "pretrain", "--domain", "scaffolded", "--out", str(out),
                     "--trainer.max_steps", "2", "--data.demo_per_class", "8", *tiny)
    assert pretrained.returncode == 0, pretrained.stderr[-3000:]
    assert "Pretraining finished after 2 steps" in pretrained.stdout and (out / "checkpoints" / "last.ckpt").is_file()

    tested = run("-m", "pytest", "-q", "-p", "no:cacheprovider", "tests", cwd=folder)
    assert tested.returncode == 0, tested.stdout[-3000:]
    assert "4 passed" in tested.stdout
