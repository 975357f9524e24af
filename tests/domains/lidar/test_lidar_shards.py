"""LiDAR frames as prepare items: fixed-size voxel arrays with a count, split as pretraining splits them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from jepa_domains.lidar import plugin
from jepa_domains.lidar.dataset import load_splits
from jepa_domains.lidar.demo import write_demo

from tests.domains.lidar.test_lidar_task import DATA


def test_prepared_samples_equal_the_training_samples(tmp_path: Path) -> None:
    write_demo(tmp_path / "demo", 8)
    data = DATA.model_copy(update={"val_fraction": 0.25})
    source = plugin.prepare_source(tmp_path / "demo", data)
    assert source.unit == "scan" and source.labels.names == data.classes and len(source.items) == 8
    assert [item.split for item in source.items].count("val") == 2
    prepared = [plugin.prepare_item(item, data) for item in source.items]
    assert prepared[0].samples["voxels"].shape == (1, data.max_voxels, 8)
    assert prepared[0].meta["source"][0] == "training/velodyne/000000.bin"
    splits = load_splits(tmp_path / "demo", data)
    train = [p for p, item in zip(prepared, source.items) if item.split == "train"]
    for sample, shard in zip((splits.train[i] for i in range(len(splits.train))), train):
        assert int(sample["count"]) == int(shard.samples["count"][0]) > 0
        np.testing.assert_array_equal(sample["voxels"].numpy(), shard.samples["voxels"][0])
        np.testing.assert_array_equal(sample["label"].numpy(), shard.samples["label"][0])
