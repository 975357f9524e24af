"""Commands that do not train start fast: they import no heavy library (torch, Lightning, MLflow, matplotlib)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.helpers import RECIPES, cli_env, run_cli

HEAVY = ("torch", "lightning", "mlflow", "matplotlib", "sklearn")

PROBE = """
import json, sys
from jepa_platform.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "heavy": [m for m in %r if m in sys.modules]}))
""" % (HEAVY,)


def heavy_imports(*args: str) -> list[str]:
    """The heavy libraries ``jepa-platform ARGS`` imported, run in a fresh interpreter."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120, env=cli_env()
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["code"] == 0
    return report["heavy"]


@pytest.mark.parametrize("args", [
    ("domains", "list"),
    ("pretrain", "--domain", "ecg", "--print-config"),
    ("pretrain", "--domain", "eeg", "--print-config", "--model.depth", "2"),
    ("pretrain", "--domain", "sar", "--print-config"),
    ("probe", "--recipe", str(RECIPES / "ecg" / "ptbxl-all.yaml"), "--print-config"),
])
def test_commands_that_do_not_train_import_no_heavy_library(args):
    assert heavy_imports(*args) == []


def test_python_package_import_is_light():
    result = subprocess.run(
        [sys.executable, "-c", f"import sys, jepa_platform; print([m for m in {HEAVY!r} if m in sys.modules])"],
        capture_output=True, text=True, timeout=60, env=cli_env(),
    )
    assert result.stdout.strip() == "[]", result.stderr[-2000:]


def test_version():
    from jepa_platform import __version__

    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"jepa-platform {__version__}"


def test_select_of_finished_run_folders_reads_their_run_json_without_mlflow(tmp_path):
    for name, rankme in (("a", 60.0), ("b", 45.0)):  # SIGReg runs: lower RankMe ranks first
        (tmp_path / name).mkdir()
        final = {"method": "sigreg", "steps": 300, "metrics": {"monitor/rankme": rankme, "probe/val_auc": 0.8}}
        (tmp_path / name / "run.json").write_text(json.dumps({"run_id": "0" * 32, "tracking_uri": "x", "final": final}))
    assert heavy_imports("select", str(tmp_path / "a"), str(tmp_path / "b")) == []
    result = run_cli("select", str(tmp_path / "a"), str(tmp_path / "b"))
    rows = [line for line in result.stdout.splitlines() if line.startswith("| sigreg")]
    assert [row.split("|")[3].strip() for row in rows] == [str(tmp_path / "b"), str(tmp_path / "a")]
