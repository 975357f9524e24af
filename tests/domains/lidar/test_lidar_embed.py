"""Embedding one KITTI scan with a pretrained LiDAR encoder, in one call."""

from __future__ import annotations

from pathlib import Path

from jepa_domains.lidar.demo import write_demo

from tests.embedding import check_embeds_like_training, tiny_run

SMALL_GRID = {"point_range": [0.0, -8.0, -3.0, 16.0, 8.0, 1.0], "voxel_size": [0.5, 0.5, 4.0], "token_cells": 8,
              "max_voxels": 600, "encoder": "pillars", "channels": 8, "val_fraction": 0.25}


def test_load_encoder_of_a_run_embeds_a_velodyne_scan(tmp_path: Path) -> None:
    root = tmp_path / "kitti"
    write_demo(root, 8)
    run = tiny_run("lidar", root, tmp_path / "run", **{f"data.{key}": value for key, value in SMALL_GRID.items()})
    scan = root / "training" / "velodyne" / "000003.bin"
    embedded = check_embeds_like_training(run, scan)
    assert len(embedded) == 1  # one sweep, one sample
