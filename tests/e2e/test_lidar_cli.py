"""The LiDAR domain through the real command line: the KITTI demo sweeps, and unlabelled PCD scans of another sensor."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.helpers import RECIPES, run_cli

TINY_LIDAR = [
    "--model.preset", "vit_tiny", "--model.embed_dim", "32", "--model.depth", "1", "--model.num_heads", "2",
    "--model.predictor_dim", "16", "--model.predictor_depth", "1", "--model.predictor_heads", "2",
    "--data.demo_frames", "8", "--data.val_fraction", "0.25", "--data.channels", "8", "--masking.min_context", "2",
    "--trainer.batch_size", "4", "--data.encoder", "pillars",
]


@pytest.mark.slow
def test_pretrain_on_the_demo_sweeps_with_the_per_token_probe(tmp_path: Path) -> None:
    run = tmp_path / "run"
    result = run_cli("pretrain", "--domain", "lidar", "--max-steps", "3", "--out", str(run), *TINY_LIDAR, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "LiDAR: 8 frames" in result.stdout + result.stderr and "occupied voxels per frame" in result.stderr
    assert "per-token linear probe mAP" in result.stdout
    state = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)["state_dict"]
    assert state["encoder.tokenizer.empty"].shape == (32,)  # the demo is SIGReg: one encoder, no teacher
    assert not any(key.startswith("teacher.") for key in state)
    probe = run_cli("probe", "--recipe", str(RECIPES / "lidar" / "bev.yaml"), "--checkpoint",
                    str(run / "checkpoints" / "last.ckpt"), "--out", str(tmp_path / "probe"), "--probe.max_epochs", "1",
                    "--trainer.batch_size", "4", cwd=tmp_path)
    assert probe.returncode == 0, probe.stderr[-2000:]
    results = json.loads((tmp_path / "probe" / "results.json").read_text())
    assert results["metric"] == "mean_iou" and results["examples"]["test"] == 2
    assert {"iou/Car", "ap/Car", "mean_ap"} <= set(results["test"]) and 0 <= results["value"] <= 1


@pytest.mark.slow
def test_pretrain_on_unlabelled_pcd_scans_of_a_sparse_sensor(tmp_path: Path) -> None:
    import open3d as o3d  # the lidar extra installs it: a missing open3d fails, never skips
    rng = np.random.default_rng(0)
    scans = tmp_path / "scans" / "site"
    scans.mkdir(parents=True)
    for k in range(8):  # sparse 16-beam-like scans, sensor 0.5 m above ground, 8-bit intensity
        xyz = rng.uniform([0, -24, -0.5], [48, 24, 3.0], (600, 3)).astype(np.float32)
        cloud = o3d.t.geometry.PointCloud(o3d.core.Tensor(xyz))
        cloud.point.intensity = o3d.core.Tensor(rng.integers(0, 256, (600, 1)).astype(np.float32))
        o3d.t.io.write_point_cloud(str(scans / f"{k:03d}.pcd"), cloud)
    settings = ["--data.point_range", "[0, -24, -1, 48, 24, 3]", "--data.voxel_size", "[0.5, 0.5, 4.0]",
                "--data.token_cells", "8", "--data.max_voxels", "1000"]
    result = run_cli("pretrain", "--domain", "lidar", "--data", str(tmp_path / "scans"), "--max-steps", "2",
                     "--out", str(tmp_path / "run"), *TINY_LIDAR, *settings, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "(0 with labels)" in result.stderr and "intensity above 1 rescaled to [0, 1] in 8 frames" in result.stderr
    assert (tmp_path / "run" / "checkpoints" / "last.ckpt").is_file()


@pytest.mark.slow
def test_a_bad_scan_stops_the_cli_with_one_line_naming_it(tmp_path: Path) -> None:
    (tmp_path / "scans").mkdir()
    (tmp_path / "scans" / "broken.bin").write_bytes(b"\0" * 20)
    result = run_cli("pretrain", "--domain", "lidar", "--data", str(tmp_path / "scans"), "--max-steps", "1",
                     "--out", str(tmp_path / "run"), *TINY_LIDAR, cwd=tmp_path)
    assert result.returncode != 0
    assert f"{tmp_path / 'scans' / 'broken.bin'}: 20 bytes is not a multiple of 16" in result.stderr
