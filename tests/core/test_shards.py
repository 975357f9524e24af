"""Prepared shards: prepare -> manifest -> read back, resuming, clear errors, rank- and worker-aware reading."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.fs as pafs
import pytest
import torch
from jepa_platform.cli import main
from jepa_platform.data import shards as shards_module
from jepa_platform.data.datamodule import JEPADataModule
from jepa_platform.data.prepare import prepare
from jepa_platform.data.shards import MANIFEST, PROGRESS, ShardedDataset, ShardSet, fit_readers, from_arrow
from jepa_platform.domain.contract import DataConfig, DatasetSplits, DomainPlugin, PreparedSamples, PrepareSource
from jepa_platform.domain.registry import load_domain
from jepa_platform.errors import JepaError
from jepa_platform.pretrain.config import resolve_recipe
from jepa_platform.pretrain.speed import slow_step_line
from torch.utils.data import DataLoader
from torchdata.stateful_dataloader import StatefulDataLoader

from tests.helpers import TINY_ECG, run_cli


def cache() -> Path:
    return Path(os.environ["JEPA_PLATFORM_CACHE"])


# ------------------------------------------------------------ a toy domain
class Toy(DomainPlugin):
    """Item ``i`` gives ``i % 4`` samples (some none): ``id`` numbers them, ``x`` repeats the item."""

    name, description = "toy", "numbers"
    items, fail_at = 30, None
    seen: list[int] = []

    def demo_root(self, cache_dir: Path, data: DataConfig) -> Path:
        return cache_dir / "toy-numbers"  # the items are numbers: nothing is read from there

    def prepare_source(self, root: Path, data: DataConfig) -> PrepareSource:
        return PrepareSource(list(range(self.items)))

    def prepare_item(self, item: int, data: DataConfig) -> PreparedSamples:
        if item == self.fail_at:
            raise JepaError(f"item {item}: unreadable")
        self.seen.append(item)
        count = item % 4
        ids = item * 10 + np.arange(count)
        samples = {"id": ids.astype(np.int64), "x": np.full((count, 2, 3), item, dtype=np.float32),
                   "flag": ids % 2 == 0}
        return PreparedSamples(samples, {"item": np.full(count, str(item))}, np.where(ids % 3 == 0, "val", "train"))

    def build_tokenizer(self, data, embed_dim):
        raise AssertionError("the prepare tests never build a model")

    def build_datasets(self, root, data) -> DatasetSplits:
        raise AssertionError("the prepare tests read shards, not raw datasets")


def toy_ids(location: Path, split: str) -> list[int]:
    """Every ``id`` of ``split``, read straight from the shards."""
    shards, ids = ShardSet.find(location), []
    for index in range(len(shards.shards)):
        batch = shards.read(index)
        column = from_arrow(batch.column("id"), shards.manifest["columns"]["id"])
        ids.extend(column[np.asarray(batch.column("split").to_pylist()) == split].tolist())
    return ids


def test_interrupted_prepare_resumes_and_ends_with_the_same_shards(tmp_path):
    toy = Toy()
    complete = prepare(toy, DataConfig(), tmp_path / "a", cache(), shard_size=5, workers=1)
    assert complete["counts"]["samples"] == sum(i % 4 for i in range(30)) and complete["counts"]["empty_items"] == 8

    out = tmp_path / "b"
    order = np.random.default_rng(0).permutation(30)  # the order prepare writes items in (seed 0)
    toy.fail_at = int(order[20])
    with pytest.raises(JepaError, match=f"item {toy.fail_at}: unreadable"):
        prepare(toy, DataConfig(), out, cache(), shard_size=5, workers=1)
    assert not (out / MANIFEST).exists()
    with pytest.raises(JepaError, match="unfinished 'prepare'"):
        ShardSet.find(out)  # a reader never accepts it
    progress = json.loads((out / PROGRESS).read_text())
    kept = {shard["file"]: (out / shard["file"]).stat().st_mtime_ns for shard in progress["shards"]}
    assert len(kept) >= 3
    (out / f".shard-{len(kept):05d}.arrow.tmp").write_bytes(b"half a shard")  # killed while writing

    toy.fail_at, toy.seen = None, []
    resumed = prepare(toy, DataConfig(), out, cache(), shard_size=5, workers=1)
    assert toy.seen[0] == order[progress["next"][0]] and len(toy.seen) < 30  # continued, not restarted
    assert {f: (out / f).stat().st_mtime_ns for f in kept} == kept and not list(out.glob(".*.tmp"))
    assert not (out / PROGRESS).exists()
    assert resumed["content_hash"] == complete["content_hash"] and resumed["counts"] == complete["counts"]
    expected = sorted(i * 10 + k for i in range(30) for k in range(i % 4) if (i * 10 + k) % 3 != 0)
    assert sorted(toy_ids(out, "train")) == expected

    toy.seen = []
    assert prepare(toy, DataConfig(), out, cache(), shard_size=5, workers=1) == resumed and toy.seen == []


def test_out_folder_errors(tmp_path):
    toy = Toy()
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    with pytest.raises(JepaError, match="taken exists and is not a shard folder"):
        prepare(toy, DataConfig(), tmp_path / "taken", cache(), workers=1)
    (tmp_path / "file").write_text("")
    with pytest.raises(JepaError, match="file exists and is not a folder"):
        prepare(toy, DataConfig(), tmp_path / "file", cache(), workers=1)
    prepare(toy, DataConfig(), tmp_path / "done", cache(), shard_size=5, workers=1)
    with pytest.raises(JepaError, match=r"prepared otherwise \(shard_size was 5, now 4\)"):
        prepare(toy, DataConfig(), tmp_path / "done", cache(), shard_size=4, workers=1)
    assert (tmp_path / "taken" / "notes.txt").read_text() == "mine"


class SlowToy(Toy):
    def prepare_item(self, item: int, data: DataConfig) -> PreparedSamples:
        time.sleep(0.02)
        return super().prepare_item(item, data)


def test_a_second_prepare_into_the_same_folder_waits_and_reuses_the_shards(tmp_path, capsys):
    toy, out, manifests = SlowToy(), tmp_path / "shards", []
    toy.seen = []
    first = threading.Thread(target=lambda: manifests.append(prepare(toy, DataConfig(), out, cache(), 5, workers=1)))
    first.start()
    while first.is_alive() and not (out / PROGRESS).exists():
        time.sleep(0.01)
    second = prepare(toy, DataConfig(), out, cache(), 5, workers=1)  # started while the first writes
    first.join()
    assert f"{out}: another prepare is writing there; waiting for it to finish" in capsys.readouterr().err
    assert manifests == [second] and sorted(toy.seen) == list(range(30))  # every item prepared once


def test_a_filesystem_without_flock_prepares_with_a_warning(tmp_path, monkeypatch):
    import errno

    from jepa_platform import flock

    def no_flock(handle, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(flock.fcntl, "flock", no_flock)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        manifest = prepare(Toy(), DataConfig(), tmp_path / "shards", cache(), 5, workers=1)
    assert manifest["counts"]["samples"] == sum(i % 4 for i in range(30))
    said = " / ".join(str(warning.message) for warning in caught)
    for locked in (cache() / ".toy-numbers.lock", tmp_path / ".shards.lock"):  # the demo's, the shard folder's
        assert f"cannot lock {locked} (No locks available); processes writing there at once would collide" in said


@pytest.fixture(scope="module")
def toy_shards(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("toy") / "shards"
    Toy.items = 41
    prepare(Toy(), DataConfig(), out, cache(), shard_size=7, workers=1)
    Toy.items = 30
    return out


def read_ids(dataset: ShardedDataset, workers: int) -> list[int]:
    loader = DataLoader(dataset, batch_size=None, num_workers=workers)
    return [int(i) for batch in loader for i in batch["id"]]


@pytest.mark.parametrize("split", ["train", "val"])
def test_two_ranks_with_two_workers_read_every_sample_exactly_once(toy_shards, split):
    shards = ShardSet.find(toy_shards)
    expected = sorted(toy_ids(toy_shards, split))
    readers = [
        read_ids(ShardedDataset(shards, (split,), 3, shuffle=True, drop_last=False, seed=1, rank=r, world_size=2), 2)
        for r in (0, 1)
    ]
    assert len(readers[0]) == len(readers[1]) == -(-len(expected) // 2)  # equal steps on every rank
    seen = readers[0] + readers[1]
    if len(expected) % 2 == 0:
        assert sorted(seen) == expected  # disjoint, and every sample once
    else:  # padded by wrapping around, like DistributedSampler: one sample twice
        assert sorted(set(seen)) == expected and len(seen) == len(expected) + 1


def test_epochs_reshuffle_and_batches_keep_their_types(toy_shards):
    shards = ShardSet.find(toy_shards)
    dataset = ShardedDataset(shards, ("train",), 4, shuffle=True, drop_last=True, seed=0, rank=0, world_size=1)
    first, second = read_ids(dataset, 0), read_ids(dataset, 0)  # iterating again is the next epoch
    assert first != second and sorted(first) == sorted(second)
    assert read_ids(dataset.configured(epoch=1), 0) == second
    batch = next(iter(dataset))
    assert batch["x"].shape == (4, 2, 3) and batch["x"].dtype == torch.float32
    assert batch["flag"].dtype == torch.bool and torch.equal(batch["flag"], batch["id"] % 2 == 0)
    assert set(batch) == {"id", "x", "flag"}  # metadata and split stay in the shards
    in_order = ShardedDataset(shards, ("train",), 5, shuffle=False, drop_last=False)
    assert read_ids(in_order, 0) == toy_ids(toy_shards, "train")


def test_workers_that_keep_their_last_batch_resume_exactly_and_hand_on_the_same_batches(toy_shards):
    shards = ShardSet.find(toy_shards)
    dataset = ShardedDataset(shards, ("train",), 2, shuffle=True, seed=3, rank=0, world_size=1)

    def loader(data: ShardedDataset) -> StatefulDataLoader:
        return StatefulDataLoader(data, batch_size=None, num_workers=2, persistent_workers=True)

    whole = [batch["id"].tolist() for batch in loader(dataset.configured())]
    assert whole == [batch["id"].tolist() for batch in loader(dataset.configured(keep_previous=False))]
    first = loader(dataset.configured())
    iterator = iter(first)
    head = [next(iterator)["id"].tolist() for _ in range(3)]
    resumed = loader(dataset.configured())
    resumed.load_state_dict(first.state_dict())
    assert head + [batch["id"].tolist() for batch in resumed] == whole


@pytest.mark.parametrize(
    "samples, world, workers, batch, fitted, drop_last",
    [
        (29, 1, 2, 29, 1, True),  # one batch in all: one reader reads it
        (100, 1, 8, 20, 5, True),  # five batches: five readers
        (100, 1, 4, 20, 4, True),  # enough for every reader: unchanged
        (29, 2, 2, 29, 1, False),  # 15 per process: each reads them as one smaller batch
        (29, 1, 0, 29, 0, True),  # read in the training process: nothing to change
    ],
)
def test_readers_fit_a_small_set(samples, world, workers, batch, fitted, drop_last):
    got = fit_readers(samples, world, workers, batch)
    assert got[:2] == (fitted, drop_last)
    assert (got[2] is None) == ((fitted, drop_last) == (workers, True))


def test_a_process_part_smaller_than_a_batch_is_one_smaller_batch(toy_shards):
    shards = ShardSet.find(toy_shards)
    expected = sorted(toy_ids(toy_shards, "train"))
    workers, drop_last, _ = fit_readers(len(expected), 2, 2, len(expected))
    batches = [
        list(DataLoader(ShardedDataset(shards, ("train",), len(expected), shuffle=True, drop_last=drop_last, seed=0,
                                       rank=rank, world_size=2), batch_size=None, num_workers=workers))
        for rank in (0, 1)
    ]
    assert [len(part) for part in batches] == [1, 1]  # one step on every rank
    seen = [int(i) for part in batches for i in part[0]["id"]]
    assert len(seen) == 2 * -(-len(expected) // 2) and set(seen) == set(expected)


def test_shards_through_a_filesystem_uri(toy_shards, monkeypatch):
    uri = toy_shards.resolve().as_uri()  # file:///...
    shards = ShardSet.find(uri)
    assert shards is not None and shards.manifest["counts"]["samples"] > 0
    filesystem = pafs.LocalFileSystem()  # read like a remote store: through the filesystem, not a memory map
    monkeypatch.setattr(shards_module, "_filesystem", lambda location: (filesystem, str(toy_shards.resolve())))
    dataset = ShardedDataset(shards, ("train",), 5, shuffle=False, drop_last=False)
    assert read_ids(dataset, 0) == toy_ids(toy_shards, "train")


# ------------------------------------------------------------------- ECG
@pytest.fixture(scope="module")
def ecg(tmp_path_factory) -> dict[str, Any]:
    recipe = resolve_recipe("ecg", overrides={"data": {"demo_records": 40}})
    out = tmp_path_factory.mktemp("ecg") / "shards"
    manifest = prepare(load_domain("ecg"), recipe.data, out, cache(), shard_size=8, workers=2)
    return {"recipe": recipe, "out": out, "manifest": manifest}


def test_ecg_shards_hold_the_raw_preprocessed_windows(ecg):
    plugin, recipe, manifest = load_domain("ecg"), ecg["recipe"], ecg["manifest"]
    raw = plugin.build_datasets(plugin.data_root(recipe.data, cache()), recipe.data)
    counts = manifest["counts"]
    assert counts["samples"] == 40 and counts["splits"]["train"] == len(raw.train)
    assert counts["splits"]["val"] == len(raw.val) and manifest["labels"]["names"] == list(raw.labels.names)
    assert manifest["columns"]["signal"]["shape"] == [12, 1000] and len(manifest["content_hash"]) == 64

    shards = ShardSet.find(ecg["out"])
    rows = {}
    for index in range(len(shards.shards)):
        batch = shards.read(index)
        columns = {name: from_arrow(batch.column(name), shards.manifest["columns"][name])
                   for name in ("signal", "lead_present", "length", "label", "window")}
        for row, (source, split) in enumerate(zip(batch.column("source").to_pylist(), batch.column("split").to_pylist())):
            if split == "train":
                rows[source] = {name: column[row] for name, column in columns.items()}
    assert len(rows) == len(raw.train)
    for i, name in enumerate(raw.train.meta["filename_lr"]):
        sample = raw.train[i]
        assert rows[name]["window"] == raw.train.meta["window"][i]
        for key in ("signal", "lead_present", "length", "label"):
            assert np.array_equal(rows[name][key], sample[key].numpy()), (name, key)


def test_training_batches_from_shards_match_the_raw_ones(ecg):
    plugin, recipe = load_domain("ecg"), ecg["recipe"]
    batches = []
    for path in (None, str(ecg["out"])):
        data = recipe.data.model_copy(update={"path": path})
        module = JEPADataModule(plugin, data, batch_size=4, num_workers=0, seed=0, cache_dir=cache())
        module.setup("fit")
        batches.append(next(iter(module.train_dataloader())))
        assert module.splits.labels == plugin.build_datasets(plugin.data_root(recipe.data, cache()), recipe.data).labels
    raw, sharded = batches
    assert raw.keys() == sharded.keys()
    for key in raw:
        assert (raw[key].shape, raw[key].dtype) == (sharded[key].shape, sharded[key].dtype), key


def test_auto_workers_come_from_the_cores_and_are_logged(ecg, monkeypatch, caplog):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    data = ecg["recipe"].data.model_copy(update={"path": str(ecg["out"])})
    module = JEPADataModule(load_domain("ecg"), data, batch_size=2, num_workers=None, seed=0, cache_dir=cache())
    module.setup("fit")
    with caplog.at_level("INFO"):
        loader = module.train_dataloader()
    assert loader.num_workers == 2 and module.val_dataloader().num_workers == 2  # 3 cores, 1 process: 2 workers
    assert "ecg data: trainer.num_workers auto: 2 loader workers per process (3 CPU cores for 1 training process" \
        in caplog.text
    assert caplog.text.count("trainer.num_workers auto") == 1  # said once for both loaders


def test_training_must_use_the_prepared_settings(ecg):
    plugin = load_domain("ecg")
    other = ecg["recipe"].data.model_copy(update={"sampling_rate": 500, "patch_ms": 50.0})
    with pytest.raises(JepaError, match="prepared with data.sampling_rate=100, the recipe asks 500"):
        ShardSet.find(ecg["out"]).check(plugin, other)
    resolved = resolve_recipe("ecg", overrides={"data": {"path": str(ecg["out"])}})
    assert resolved.data.sampling_rate == 100 and resolved.data.patch_ms == 100.0  # taken from the manifest


def test_a_corrupt_record_names_the_file(ecg, tmp_path):
    demo = load_domain("ecg").data_root(ecg["recipe"].data, cache())
    for name in ("00001_lr", "00002_lr", "00003_lr"):
        for suffix in (".hea", ".dat"):
            shutil.copy(demo / "records100" / "00000" / f"{name}{suffix}", tmp_path / f"{name}{suffix}")
    bad = tmp_path / "00002_lr.dat"
    bad.write_bytes(bad.read_bytes()[:1000])
    data = resolve_recipe("ecg", overrides={"data": {"path": str(tmp_path)}}).data
    with pytest.raises(JepaError, match=str(bad)):
        prepare(load_domain("ecg"), data, tmp_path / "shards", cache(), workers=2)


def test_prepare_then_pretrain_from_the_command_line(tmp_path, capsys):
    shards, run = tmp_path / "shards", tmp_path / "run"
    result = run_cli("prepare", "--domain", "ecg", "--data.demo_records", "40", "--out", str(shards),
                     "--shard-size", "16", "--workers", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Prepared 40 samples" in result.stdout and "content hash:" in result.stdout
    result = run_cli("pretrain", "--domain", "ecg", "--data", str(shards), "--out", str(run), "--max-steps", "2",
                     *TINY_ECG, "--model.depth", "1", "--trainer.num_workers", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ecg shards: 32 training samples, 4 validation samples" in result.stderr
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 2
    assert main(["prepare", "--domain", "ecg", "--data", str(shards), "--out", str(tmp_path / "again")]) == 2
    assert "already holds prepared shards" in capsys.readouterr().err


def test_the_slow_step_line_suggests_only_what_the_shards_leave_open(ecg):
    recipe = resolve_recipe("ecg", overrides={"data": {"path": str(ecg["out"])}})  # ViT-S on 100 Hz, 100 ms shards
    line = slow_step_line(recipe, 64, speed=1e9)
    assert "for a quick try: --model.preset vit_tiny --model.depth 4 --model.predictor_depth 2 (about " in line
    assert "--data." not in line  # the shards fix the sampling rate, and their patches are the quick ones already
