"""Episodes as prepare items and shards: the windows, labels and split of the raw episodes, normalized with the
statistics fitted on the training episodes, which the manifest carries to a recipe on the shards."""

from __future__ import annotations

import numpy as np
import pytest
from jepa_domains.action import plugin
from jepa_domains.action.config import ActionDataConfig
from jepa_domains.action.dataset import fit_normalization, load_splits, read, split_episodes
from jepa_platform.data.shards import ShardSet
from jepa_platform.domain import JepaError
from jepa_platform.pretrain.config import resolve_recipe

from tests.real_files import prepared_shards

from .files import write_robomimic

DEMOS = 10
MASKS = {"good": [f"demo_{i}" for i in range(0, DEMOS, 2)], "bad": [f"demo_{i}" for i in range(1, DEMOS, 2)]}
SETTINGS = {"window": 16, "chunk": 4, "stride": 3, "label_keys": ["good", "bad"], "val_percent": 20.0}


def raw_windows(path, data: ActionDataConfig) -> dict[str, dict[str, np.ndarray]]:
    """The training and validation windows that pretraining reads from the raw file, per split, as arrays."""
    splits = load_splits(path, data)
    return {
        split: {key: np.stack([dataset[i][key].numpy() for i in range(len(dataset))]) for key in dataset[0]}
        for split, dataset in (("train", splits.train), ("val", splits.val))
    }


def test_prepared_items_are_the_training_windows_split_by_episode(tmp_path):
    path = write_robomimic(tmp_path / "demo.hdf5", demos=DEMOS, steps=12, masks=MASKS)  # 12..21 steps: some padded
    data = plugin.resolve_data(ActionDataConfig(path=str(path), **SETTINGS), tmp_path)
    source = plugin.prepare_source(path, data)
    assert source.unit == "episode" and source.labels.names == ("good", "bad") and len(source.items) == DEMOS
    names = [str(item) for item in source.items]
    assert names[:2] == ["demo.hdf5:demo_0", "demo.hdf5:demo_1"]
    for split, index in split_episodes(names, data).items():
        assert [item.split for item in source.items if names.index(str(item)) in index] == [split] * len(index)
    prepared = [plugin.prepare_item(item, data) for item in source.items]
    first = prepared[0]
    assert first.samples["obs"].shape == (len(first.split), 16, 4) and first.samples["actions"].shape[1:] == (19, 2)
    assert set(first.meta) == {"episode", "first"} and first.meta["first"].tolist() == [0]  # 12 steps: one window
    assert not first.samples["obs_valid"][0, 12:].any() and first.samples["obs_valid"][0, :12].all()
    raw = raw_windows(path, data)
    for split in ("train", "val"):
        ours = [p for p, item in zip(prepared, source.items) if item.split == split]
        assert set(raw[split]) == set(ours[0].samples) == {"obs", "obs_valid", "actions", "action_valid", "label"}
        for key, values in raw[split].items():
            np.testing.assert_array_equal(np.concatenate([p.samples[key] for p in ours]), values, err_msg=key)
    assert any(item.split == "test" for item in source.items)  # held out, yet in the shards


def test_prepare_without_a_resolved_normalization_is_refused(tmp_path):
    path = write_robomimic(tmp_path / "demo.hdf5", demos=4)
    data = ActionDataConfig(path=str(path))
    item = plugin.prepare_source(path, data).items[0]
    with pytest.raises(JepaError, match="data.normalization is not set"):
        plugin.prepare_item(item, data)


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("action") / "demo.hdf5"
    write_robomimic(root, demos=DEMOS, steps=30, masks=MASKS)
    return prepared_shards("action", root, SETTINGS, 8, 1)


def test_shards_hold_the_raw_windows_and_the_training_statistics(shards):
    data, manifest = shards["data"], shards["manifest"]
    episodes = read(data.path, data)
    train = split_episodes([e.name for e in episodes.episodes], data)["train"]
    assert data.normalization == fit_normalization(episodes, train)
    assert manifest["data"]["normalization"] == data.normalization.model_dump(mode="json")
    assert manifest["shard_settings"]["normalization"] == manifest["data"]["normalization"]
    assert manifest["labels"]["names"] == ["good", "bad"]
    contents = ShardSet.find(shards["out"]).contents().contents
    assert set(contents.meta) == {"episode", "first"} and {"train", "val", "test"} == set(contents.split)
    raw = raw_windows(data.path, data)
    for split in ("train", "val"):
        rows = np.flatnonzero(contents.split == split)
        # shards mix episodes; the raw windows are in episode order (by demo number), then by first step
        number = np.array([int(name.rsplit("_", 1)[1]) for name in contents.meta["episode"][rows]])
        rows = rows[np.lexsort((contents.meta["first"][rows], number))]
        for key, values in raw[split].items():
            np.testing.assert_array_equal(contents.samples[key][rows], values, err_msg=f"{split} {key}")


def test_a_recipe_on_the_shards_gets_their_settings_and_a_different_window_is_refused(shards):
    out = str(shards["out"])
    recipe = resolve_recipe("action", overrides={"data": {"path": out, "action_weight": 0.5}})
    assert recipe.data.normalization == shards["data"].normalization and recipe.data.window == 16
    prepared = ShardSet.find(out)
    prepared.check(plugin, recipe.data)  # the model-only keys may differ
    other = resolve_recipe("action", overrides={"data": {"path": out, "window": 8}})
    with pytest.raises(JepaError, match="prepared with data.window=16, the recipe asks 8"):
        prepared.check(plugin, other.data)
