"""SAR through prepared shards: the same chips, splits and k-shot task as from the GeoTIFF files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from jepa_domains.sar import SARTaskConfig
from jepa_platform.data.prepare import prepare
from jepa_platform.data.shards import ShardSet
from jepa_platform.domain import JepaError, cache_dir, load_domain

from tests.real_files import prepared_shards, write_mstar

SMALL = {"size": 32, "patch": 8, "radii": [1, 3]}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> dict:
    return prepared_shards("sar", write_mstar(tmp_path_factory.mktemp("sar") / "mstar"), SMALL, 8, 2)


def test_shards_hold_the_chips_and_splits_of_the_files(prepared):
    plugin, data, manifest = load_domain("sar"), prepared["data"], prepared["manifest"]
    raw = plugin.build_datasets(Path(data.path), data)
    assert manifest["counts"]["splits"] == {"train": len(raw.train), "val": len(raw.val), "test": 6}
    assert manifest["labels"]["names"] == ["tank", "truck"] == manifest["info"]["test_classes"]
    contents = ShardSet.find(prepared["out"]).contents().contents
    train = np.flatnonzero(contents.split == "train")
    train = train[np.argsort(contents.meta["chip"][train])]  # reading order, as the raw datasets hold them
    for key in ("image", "amplitude", "label"):
        assert np.array_equal(contents.samples[key][train], raw.train.tensors[key].numpy()), key
    splits = ShardSet.find(prepared["out"]).splits(seed=0)
    assert splits.labels == raw.labels and splits.val.num_samples == len(raw.val)


def test_the_kshot_task_from_shards_is_the_one_from_the_files(prepared):
    plugin, data = load_domain("sar"), prepared["data"]
    task = SARTaskConfig(shots=2, val_per_class=2, seed=3)
    raw = plugin.downstream_task(Path(data.path), data, task)
    shards = ShardSet.find(prepared["out"])
    from_shards = plugin.downstream_task_from_shards(
        shards.contents(), data.model_copy(update={"path": str(prepared["out"])}), task
    )
    assert (from_shards.name, from_shards.labels) == (raw.name, raw.labels)
    for split in ("train", "val", "test"):
        ours, theirs = getattr(from_shards, split).tensors, getattr(raw, split).tensors
        assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in theirs), split


def test_shards_of_chips_without_class_folders_have_no_task(prepared, tmp_path):
    data = prepared["data"].model_copy(update={"path": str(Path(prepared["data"].path) / "15_DEG" / "tank")})
    manifest = prepare(load_domain("sar"), data, tmp_path / "shards", cache_dir(), workers=1)
    assert manifest["labels"] is None and manifest["counts"]["samples"] == 3
    shards = ShardSet.find(tmp_path / "shards")
    with pytest.raises(JepaError, match="a SAR task needs class folders under '17_DEG' and '15_DEG'"):
        load_domain("sar").downstream_task_from_shards(shards.contents(), data, SARTaskConfig())
