"""ECG downstream tasks from prepared shards: the same PTB-XL label sets, folds and crops as from the records."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from jepa_domains.ecg.config import ECGTaskConfig
from jepa_platform.data.prepare import prepare
from jepa_platform.data.shards import ShardSet
from jepa_platform.domain import JepaError, cache_dir, load_domain

from tests.real_files import prepared_shards, write_ptbxl

SMALL = {"sampling_rate": 100, "patch_ms": 100.0}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> dict:
    return prepared_shards("ecg", write_ptbxl(tmp_path_factory.mktemp("ecg") / "ptbxl"), SMALL, 8, 1)


def test_shards_carry_the_folds_codes_and_statement_table(prepared):
    manifest = prepared["manifest"]
    assert manifest["counts"]["splits"] == {"train": 16, "val": 2, "test": 2}  # folds 1-8, 9, 10
    assert {"fold", "scp_codes"} <= set(manifest["columns"]) and manifest["columns"]["fold"]["role"] == "meta"
    assert manifest["info"]["statements"]["IMI"] == {"diagnostic": 1.0, "form": None, "rhythm": None,
                                                     "diagnostic_class": "MI", "diagnostic_subclass": "IMI"}


@pytest.mark.parametrize("label_set", ["all", "superdiagnostic"])
def test_a_label_set_from_shards_is_the_one_from_the_records(prepared, label_set):
    plugin, data = load_domain("ecg"), prepared["data"]
    task = ECGTaskConfig(name=label_set)
    raw = plugin.downstream_task(Path(data.path), data, task)
    shards = ShardSet.find(prepared["out"])
    from_shards = plugin.downstream_task_from_shards(
        shards.contents(), data.model_copy(update={"path": str(prepared["out"])}), task
    )
    assert (from_shards.name, from_shards.labels) == (raw.name, raw.labels)
    assert from_shards.data.model_dump(exclude={"path"}) == raw.data.model_dump(exclude={"path"})  # 2.5 s crops
    for split in ("val", "test"):  # every sliding window (training crops are random)
        ours, theirs = getattr(from_shards, split), getattr(raw, split)
        assert len(ours) == len(theirs) > 0
        for i in range(len(ours)):
            assert all(torch.equal(ours[i][key], theirs[i][key]) for key in theirs[i]), (split, i)
    assert len(from_shards.train) == len(raw.train)
    assert torch.equal(from_shards.train.labels, raw.train.labels)


def test_shards_of_a_record_folder_have_no_ptbxl_task(prepared, tmp_path):
    data = prepared["data"].model_copy(update={"path": str(Path(prepared["data"].path) / "records100")})
    manifest = prepare(load_domain("ecg"), data, tmp_path / "shards", cache_dir(), workers=1)
    assert "scp_codes" not in manifest["columns"] and manifest["info"] == {}
    shards = ShardSet.find(tmp_path / "shards")
    with pytest.raises(JepaError, match="needs PTB-XL labels, but the shards at .* carry no scp_codes: .* without ptbxl_database.csv"):
        load_domain("ecg").downstream_task_from_shards(shards.contents(), data, ECGTaskConfig(name="all"))


def test_one_record_is_split_by_its_windows_as_training_splits_it(prepared, tmp_path):
    folder = tmp_path / "one"
    folder.mkdir()
    source = Path(prepared["data"].path) / "records100" / "00000"
    for suffix in (".hea", ".dat"):
        (folder / f"00001_lr{suffix}").symlink_to(source / f"00001_lr{suffix}")
    data = prepared["data"].model_copy(update={"path": str(folder), "window_seconds": 2.0, "val_percent": 20.0})
    raw = load_domain("ecg").build_datasets(folder, data)
    manifest = prepare(load_domain("ecg"), data, tmp_path / "shards", cache_dir(), workers=1)
    assert manifest["counts"]["splits"] == {"train": len(raw.train), "val": len(raw.val)} == {"train": 4, "val": 1}
    contents = ShardSet.find(tmp_path / "shards").contents().contents
    assert contents.meta["window"][contents.split == "val"].tolist() == [4]  # the last of the record's 5
