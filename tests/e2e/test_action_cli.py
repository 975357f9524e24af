"""The action domain through the real command line: the demo, a robosuite raw file, behaviour cloning, bad input."""

from __future__ import annotations

import json

import h5py
import pytest
import torch
import yaml

from tests.domains.action.files import write_aloha, write_robosuite
from tests.helpers import RECIPES, run_cli

TINY_ACTION = [
    "--model.embed_dim", "32", "--model.depth", "1", "--model.num_heads", "2", "--model.predictor_dim", "32",
    "--model.predictor_depth", "1", "--model.predictor_heads", "2", "--trainer.batch_size", "8",
    "--trainer.num_workers", "0", "--data.window", "16", "--data.chunk", "4",
]


@pytest.mark.slow
def test_demo_pretraining_then_behaviour_cloning_probe(tmp_path):
    out = tmp_path / "run"
    result = run_cli(
        "pretrain", "--domain", "action", "--out", str(out), "--max-steps", "6", "--data.demo_episodes", "10",
        "--trainer.val_every_n_steps", "6", *TINY_ACTION,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "robomimic layout inferred; 10 episodes in 1 file, 2000 steps; observation keys angle (2), velocity (1)" in (
        result.stdout + result.stderr
    )
    checkpoint = torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["global_step"] == 6
    assert any(key.startswith("auxiliary.head.") for key in checkpoint["state_dict"])  # the action-chunk head
    saved = yaml.safe_load((out / "config.yaml").read_text())["data"]["normalization"]
    assert saved["layout"] == "robomimic" and [k["name"] for k in saved["observations"]] == ["angle", "velocity"]

    probe = run_cli(
        "probe", "--recipe", str(RECIPES / "action" / "bc.yaml"),
        "--checkpoint", str(out / "checkpoints" / "last.ckpt"), "--out", str(tmp_path / "probe"),
        "--probe.max_epochs", "1", "--task.train_stride", "50",
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    results = json.loads((tmp_path / "probe" / "results.json").read_text())
    assert results["metric"] == "rmse" and results["value"] > 0 and results["init"] == "pretrained"
    assert results["examples"]["test"] == 197  # one test episode of 200 steps with a whole 4-step chunk ahead


@pytest.mark.slow
def test_pretraining_on_a_robosuite_raw_file_without_obs(tmp_path):
    path = write_robosuite(tmp_path / "demo.hdf5", demos=8, steps=60, state_dim=9)
    out = tmp_path / "run"
    result = run_cli("pretrain", "--domain", "action", "--data", str(path), "--out", str(out), "--max-steps", "4",
                     *TINY_ACTION)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"{path}: robosuite layout inferred; 8 episodes in 1 file" in result.stdout + result.stderr
    saved = yaml.safe_load((out / "config.yaml").read_text())["data"]["normalization"]
    assert saved["layout"] == "robosuite" and saved["observations"][0]["name"] == "states"
    assert len(saved["observations"][0]["mean"]) == 9 and len(saved["actions"]["mean"]) == 3


@pytest.mark.slow
def test_pretraining_on_aloha_episodes_with_two_cameras_then_behaviour_cloning(tmp_path):
    folder = write_aloha(tmp_path / "aloha", episodes=10, steps=24, cameras=("top", "wrist"), image_shape=(16, 16, 3))
    out = tmp_path / "run"
    result = run_cli(
        "pretrain", "--domain", "action", "--data", str(folder), "--out", str(out), "--max-steps", "2", *TINY_ACTION,
        "--data.image_keys", "[images/top, images/wrist]", "--data.image_size", "16", "--data.patch_size", "8",
        "--data.window", "8", "--data.chunk", "2", "--data.action_conditioned", "true",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "images images/top (16 × 16 × 3); images images/wrist (16 × 16 × 3)" in result.stdout + result.stderr
    checkpoint = torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["global_step"] == 2
    wrist = next(v for k, v in checkpoint["state_dict"].items() if k.endswith("tokenizer.patches.1.weight"))
    assert tuple(wrist.shape) == (32, 3, 8, 8)  # the wrist camera's patch embedding
    saved = yaml.safe_load((out / "config.yaml").read_text())["data"]["normalization"]["images"]
    assert saved == [{"name": "images/top", "shape": [16, 16, 3]}, {"name": "images/wrist", "shape": [16, 16, 3]}]

    probe = run_cli(
        "probe", "--recipe", str(RECIPES / "action" / "bc.yaml"),
        "--checkpoint", str(out / "checkpoints" / "last.ckpt"), "--out", str(tmp_path / "probe"),
        "--probe.max_epochs", "1",
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    results = json.loads((tmp_path / "probe" / "results.json").read_text())
    assert results["metric"] == "rmse" and results["value"] > 0
    assert results["examples"]["test"] == 23  # one test episode of 24 steps with a whole 2-step chunk ahead


def test_a_demo_without_actions_is_one_error_line(tmp_path):
    path = write_robosuite(tmp_path / "demo.hdf5", demos=3)
    with h5py.File(path, "a") as file:
        del file["data/demo_2/actions"]
    result = run_cli("pretrain", "--domain", "action", "--data", str(path), "--out", str(tmp_path / "run"))
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {path}: data/demo_2 has no 'actions' dataset"
    assert not (tmp_path / "run").exists()  # nothing written
