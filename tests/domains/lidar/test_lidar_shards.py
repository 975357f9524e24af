"""LiDAR frames as prepare items: fixed-size voxel arrays with a count and per-token labels, split as pretraining
splits them; the BEV task from the shards is the task from the scans."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from jepa_domains.lidar import LidarTaskConfig, plugin
from jepa_domains.lidar.dataset import load_splits, token_label_spec
from jepa_domains.lidar.demo import write_demo
from jepa_platform.data.shards import ShardSet
from jepa_platform.domain import JepaError

from tests.domains.lidar.test_lidar_task import DATA
from tests.real_files import prepared_shards


def test_prepared_samples_equal_the_training_samples(tmp_path: Path) -> None:
    write_demo(tmp_path / "demo", 8)
    data = DATA.model_copy(update={"val_fraction": 0.25})
    source = plugin.prepare_source(tmp_path / "demo", data)
    assert source.unit == "scan" and source.labels == token_label_spec(data) and len(source.items) == 8
    assert [item.split for item in source.items].count("val") == 2
    prepared = [plugin.prepare_item(item, data) for item in source.items]
    assert prepared[0].samples["voxels"].shape == (1, data.max_voxels, 8)
    assert prepared[0].samples["label"].shape == (1, 16)
    assert prepared[0].meta["source"][0] == "training/velodyne/000000.bin"
    splits = load_splits(tmp_path / "demo", data)
    assert splits.labels == token_label_spec(data) and splits.labels.per_token
    train = [p for p, item in zip(prepared, source.items) if item.split == "train"]
    for sample, shard in zip((splits.train[i] for i in range(len(splits.train))), train):
        assert int(sample["count"]) == int(shard.samples["count"][0]) > 0
        np.testing.assert_array_equal(sample["voxels"].numpy(), shard.samples["voxels"][0])
        np.testing.assert_array_equal(sample["label"].numpy(), shard.samples["label"][0])


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("lidar") / "demo"
    write_demo(root, 8)
    settings = DATA.model_dump(mode="json", exclude={"path"})
    return prepared_shards("lidar", root, {**settings, "val_fraction": 0.25}, 3, 1)


def test_the_bev_task_from_shards_is_the_one_from_the_scans(shards) -> None:
    data, task = shards["data"], LidarTaskConfig(seed=2)
    assert shards["manifest"]["labels"]["per_token"] is True
    raw = plugin.downstream_task(Path(data.path), data, task)
    prepared = ShardSet.find(shards["out"])
    assert prepared.labels == token_label_spec(data)
    ours = plugin.downstream_task_from_shards(prepared.contents(), data.model_copy(update={"path": str(shards["out"])}),
                                              task)
    assert (ours.name, ours.labels, ours.metric) == (raw.name, raw.labels, "mean_iou")
    for split in ("train", "val", "test"):
        mine, theirs = getattr(ours, split).tensors, getattr(raw, split).tensors
        assert mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in theirs), split
    assert (raw.train.tensors["label"] > 0).any()


def test_shards_without_token_labels_have_no_bev_task(shards) -> None:
    unlabelled = replace(ShardSet.find(shards["out"]).contents(), labels=None)
    with pytest.raises(JepaError, match="the shards hold no BEV token labels"):
        plugin.downstream_task_from_shards(unlabelled, shards["data"], LidarTaskConfig())
