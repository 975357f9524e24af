"""The action domain's shards through the real command line: a robomimic file -> ``prepare`` -> ``pretrain``, and
a recipe whose window differs from the shards' refused."""

from __future__ import annotations

import json

import pytest
import torch
import yaml

from tests.domains.action.files import write_robomimic
from tests.e2e.test_action_cli import TINY_ACTION
from tests.helpers import run_cli


@pytest.mark.slow
def test_prepare_then_pretrain_on_the_shards(tmp_path):
    raw, shards, run = write_robomimic(tmp_path / "demo.hdf5", demos=10), tmp_path / "shards", tmp_path / "run"
    prepared = run_cli("prepare", "--domain", "action", "--data", str(raw), "--data.window", "16", "--data.chunk", "4",
                       "--out", str(shards), "--shard-size", "16", "--workers", "1", cwd=tmp_path)
    assert prepared.returncode == 0, prepared.stderr[-3000:]
    assert "Prepared " in prepared.stdout and "test " in prepared.stdout and "from 10 items" in prepared.stdout
    normalization = json.loads((shards / "manifest.json").read_text())["data"]["normalization"]
    assert [key["name"] for key in normalization["observations"]] == ["eef_pos", "gripper"]

    pretrained = run_cli("pretrain", "--domain", "action", "--data", str(shards), "--out", str(run), "--max-steps", "2",
                         *TINY_ACTION, cwd=tmp_path)
    assert pretrained.returncode == 0, pretrained.stderr[-3000:]
    assert "action shards: " in pretrained.stderr
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 2
    assert yaml.safe_load((run / "config.yaml").read_text())["data"]["normalization"] == normalization

    refused = run_cli("pretrain", "--domain", "action", "--data", str(shards), "--out", str(tmp_path / "other"),
                      "--max-steps", "2", *TINY_ACTION, "--data.window", "8", cwd=tmp_path)
    assert refused.returncode == 2
    assert "the shards were prepared with data.window=16, the recipe asks 8" in refused.stderr
