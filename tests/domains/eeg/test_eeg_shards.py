"""EEG through prepared shards: the same windows, splits and TUAB task as from the EDF files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from jepa_domains.eeg.config import EEGTaskConfig
from jepa_platform.data.prepare import prepare
from jepa_platform.data.shards import ShardSet
from jepa_platform.domain import JepaError, cache_dir, load_domain

from tests.real_files import prepared_shards, write_tuab

FAST = {"sampling_rate": 100.0, "l_freq": 0.5, "h_freq": 40.0, "notch_freq": None, "window_seconds": 4.0,
        "hop_seconds": 4.0, "val_percent": 50.0}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> dict:
    return prepared_shards("eeg", write_tuab(tmp_path_factory.mktemp("eeg") / "tuab"), FAST, 16, 2)


def test_shards_hold_the_windows_and_splits_of_the_recordings(prepared):
    plugin, data, manifest = load_domain("eeg"), prepared["data"], prepared["manifest"]
    raw = plugin.build_datasets(Path(data.path), data)
    assert manifest["counts"]["splits"] == {"train": len(raw.train), "val": len(raw.val), "test": 2 * 5}
    assert manifest["counts"]["items"] == 8 and manifest["labels"]["names"] == ["normal", "abnormal"]
    splits = ShardSet.find(prepared["out"]).splits(seed=0)
    assert splits.labels == raw.labels and splits.val.num_samples == len(raw.val)
    batch = next(iter(splits.train.configured(batch_size=4)))
    sample = raw.train[0]
    assert set(batch) == {"signal", "present", "label"}
    for key in ("signal", "present"):
        assert (batch[key].shape[1:], batch[key].dtype) == (sample[key].shape, sample[key].dtype)


def test_the_tuab_task_from_shards_is_the_one_from_the_files(prepared):
    plugin, data = load_domain("eeg"), prepared["data"]
    task = EEGTaskConfig(name="abnormal")
    raw = plugin.downstream_task(Path(data.path), data, task)
    shards = ShardSet.find(prepared["out"])
    from_shards = plugin.downstream_task_from_shards(
        shards.contents(), data.model_copy(update={"path": str(prepared["out"])}), task
    )
    assert (from_shards.name, from_shards.labels, from_shards.metric) == (raw.name, raw.labels, raw.metric)
    for split in ("train", "val", "test"):
        ours, theirs = getattr(from_shards, split), getattr(raw, split)
        assert len(ours) == len(theirs) > 0
        for i in range(len(ours)):
            assert all(torch.equal(ours[i][key], theirs[i][key]) for key in theirs[i]), (split, i)


def test_shards_of_a_folder_without_the_tuab_layout_have_no_task(prepared, tmp_path):
    folder = tmp_path / "plain"
    for edf in sorted(Path(prepared["data"].path).rglob("*.edf"))[:2]:
        (folder / edf.name).parent.mkdir(parents=True, exist_ok=True)
        (folder / edf.name).symlink_to(edf)
    data = prepared["data"].model_copy(update={"path": str(folder)})
    manifest = prepare(load_domain("eeg"), data, tmp_path / "shards", cache_dir(), workers=1)
    assert manifest["labels"] is None and "label" not in manifest["columns"]
    shards = ShardSet.find(tmp_path / "shards")
    with pytest.raises(JepaError, match="needs the TUAB layout .* prepared from recordings outside it"):
        load_domain("eeg").downstream_task_from_shards(shards.contents(), data, EEGTaskConfig(name="abnormal"))


def test_one_patient_is_split_by_windows_as_training_splits_it(prepared, tmp_path):
    folder = tmp_path / "one"
    folder.mkdir()
    (folder / "rec.edf").symlink_to(sorted(Path(prepared["data"].path).rglob("*.edf"))[0])
    data = prepared["data"].model_copy(update={"path": str(folder), "hop_seconds": 2.0, "val_percent": 20.0})
    raw = load_domain("eeg").build_datasets(folder, data)
    manifest = prepare(load_domain("eeg"), data, tmp_path / "shards", cache_dir(), workers=1)
    # 9 windows of 4 s every 2 s: the last 2 validate, the one overlapping them trains in neither split
    assert manifest["counts"]["splits"] == {"train": len(raw.train), "val": len(raw.val)} == {"train": 6, "val": 2}
