"""The BEV object task: token labels from label_2 boxes, its splits, and the dense IoU / AP metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from jepa_domains.lidar.config import LidarDataConfig, LidarTaskConfig
from jepa_domains.lidar.dataset import token_labels
from jepa_domains.lidar.demo import write_demo
from jepa_domains.lidar.readers import Boxes
from jepa_domains.lidar.task import build_task
from jepa_platform.domain import LabelSpec
from jepa_platform.downstream.metrics import evaluate

DATA = LidarDataConfig(point_range=(0.0, -8.0, -3.0, 16.0, 8.0, 1.0), voxel_size=(0.5, 0.5, 4.0), token_cells=8,
                       max_voxels=600, demo_frames=8, val_fraction=0.0)


def test_token_labels_mark_the_cells_a_box_covers_with_its_class() -> None:
    # A car 4 m × 2 m centred in token (row 1, column 0) and a pedestrian in token (row 0, column 3).
    boxes = Boxes(("Car", "Pedestrian", "Van"), np.array([[2.0, 2.0, -1.0], [14.0, -6.0, -1.0], [6.0, -6.0, -1]]),
                  np.array([[4.0, 2.0, 1.5], [0.6, 0.6, 1.8], [5.0, 2.0, 2.0]]), np.array([0.0, 0.3, 0.0]))
    labels = token_labels(boxes, DATA).reshape(DATA.token_grid)
    assert DATA.token_grid == (4, 4)
    expected = np.zeros((4, 4), dtype=np.int64)
    expected[2, 0] = 1  # y from -8: the car's centre y = 2 m lies in row 2; Van is not a task class
    expected[0, 3] = 2
    np.testing.assert_array_equal(labels, expected)


def test_demo_task_splits_frames_and_labels_every_token(tmp_path: Path) -> None:
    write_demo(tmp_path / "demo", 8)
    task = build_task(tmp_path / "demo", DATA, LidarTaskConfig(seed=1))
    assert task.labels.per_token and task.labels.names == ("background", "Car", "Pedestrian", "Cyclist")
    groups = [set(split.tensors["group"].tolist()) for split in (task.train, task.val, task.test)]
    assert sorted(set().union(*groups)) == list(range(8)) and sum(map(len, groups)) == 8
    labels = task.train.tensors["label"]
    assert labels.shape == (len(task.train), 16) and (labels > 0).any() and (labels == 0).any()


def test_dense_metrics_score_iou_and_ap_per_class() -> None:
    spec = LabelSpec(("background", "Car"), multilabel=False, per_token=True)
    targets = torch.tensor([[0, 1, 1, -1]])
    logits = torch.tensor([[[2.0, 0.0], [0.0, 2.0], [1.0, 0.0], [0.0, 5.0]]]).flatten(1)  # token 3 is not scored
    result = evaluate(logits, targets, spec)
    assert result.metrics["iou/Car"] == 0.5 and result.metrics["iou/background"] == 0.5
    assert result.metrics["mean_iou"] == 0.5 and result.metrics["ap/Car"] == 1.0  # Car scores rank the cars first
    assert result.per_class_metric == "ap" and result.positives == {"background": 1, "Car": 2}
