"""The SAR domain through the real command line: demo chips, gradient-target pretraining, k-shot fine-tune."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from jepa_domains.sar import SARDataConfig, SARTaskConfig, plugin
from jepa_platform.domain.contract import cache_dir

from tests.helpers import RECIPES as RECIPE_ROOT
from tests.helpers import run_cli

RECIPE = RECIPE_ROOT / "sar" / "mstar-soc.yaml"

TINY_SAR = [
    "--model.preset", "vit_tiny", "--model.embed_dim", "32", "--model.depth", "1", "--model.num_heads", "2",
    "--model.predictor_dim", "16", "--model.predictor_depth", "1", "--model.predictor_heads", "2",
    "--data.size", "32", "--data.patch", "8", "--data.radii", "[1, 3]", "--data.demo_per_class", "6",
    "--masking.min_context", "2", "--trainer.batch_size", "8",
]


def test_demo_layout_and_kshot_selection() -> None:
    data = SARDataConfig(bands=1, unit="amplitude", size=32, patch=8, radii=(1, 3), demo_per_class=6)
    root = plugin.ensure_data(data, cache_dir())
    assert sorted(p.name for p in (root / "17_DEG").iterdir()) == [f"synthetic_{k:02d}" for k in range(10)]
    assert len(list((root / "15_DEG").rglob("*.png"))) == 60
    configs = [SARTaskConfig(shots=2, seed=seed, val_per_class=2) for seed in (0, 0, 1)]
    tasks = [plugin.downstream_task(root, data, task) for task in configs]
    labels = tasks[0].train.tensors["label"]
    assert torch.bincount(labels).tolist() == [2] * 10 and len(tasks[0].val) == 20 and len(tasks[0].test) == 60
    groups = [set(t.train.tensors["group"].tolist()) for t in tasks]
    assert groups[0] == groups[1] != groups[2]  # the seed picks the shots, reproducibly
    assert not groups[0] & set(tasks[0].val.tensors["group"].tolist())
    image = tasks[0].test.tensors["image"]
    assert image.shape == (60, 1, 32, 32) and torch.allclose(image.mean(dim=(1, 2, 3)), torch.zeros(60), atol=1e-4)
    assert np.isfinite(tasks[0].test.tensors["amplitude"].numpy()).all()


def test_pretrain_with_gradient_targets_then_kshot_finetune(tmp_path: Path) -> None:
    run = tmp_path / "run"
    pretrain = run_cli("pretrain", "--domain", "sar", "--max-steps", "3", "--out", str(run), *TINY_SAR, cwd=tmp_path)
    assert pretrain.returncode == 0, pretrain.stderr[-2000:]
    state = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)["state_dict"]
    assert not any(key.startswith("teacher.") for key in state)  # domain targets alone: no EMA teacher
    assert state["predictor.proj_domain.weight"].shape == (1 * 2 * 2 * 2, 16)  # bands × radii × cells²
    finetune = run_cli(
        "finetune", "--recipe", str(RECIPE), "--checkpoint", str(run / "checkpoints" / "last.ckpt"),
        "--out", str(tmp_path / "ft"), "--task.shots", "2", "--task.val_per_class", "2",
        "--finetune.max_epochs", "1", "--finetune.warmup_epochs", "0", cwd=tmp_path,
    )
    assert finetune.returncode == 0, finetune.stderr[-2000:]
    assert "test accuracy" in finetune.stdout
    results = json.loads((tmp_path / "ft" / "results.json").read_text())
    assert 0.0 <= results["value"] <= 1.0 and results["examples"]["test"] == 60


def test_unknown_target_and_missing_folder_are_clear_errors(tmp_path: Path) -> None:
    bad = run_cli("pretrain", "--domain", "sar", "--objective.target", "pixels", "--print-config", cwd=tmp_path)
    assert bad.returncode == 2 and "objective.target" in bad.stderr
    missing = run_cli(
        "pretrain", "--domain", "sar", "--data", str(tmp_path / "nowhere"), "--max-steps", "1", cwd=tmp_path
    )
    assert missing.returncode == 2 and "nowhere" in missing.stderr
