"""Prepared shards: Arrow IPC files of preprocessed samples, a JSON manifest, and a rank- and worker-aware reader.

A prepared folder (``jepa-platform prepare``)::

    manifest.json        written last: columns, shards, counts, content hash, the data settings used
    shard-00000.arrow    one Arrow IPC file holding one record batch of ``shard_size`` samples
    shard-00001.arrow    ...

Why Arrow IPC: a domain's samples are fixed-size arrays (an ECG window is
``leads × samples`` float32), which Arrow stores as a fixed-size-list column,
one contiguous buffer per shard. A memory-mapped shard is read without decoding
or copying, a batch is one gather per column, and pyarrow's filesystems serve
the same files from object stores (``s3://``, ``gs://``, ``hdfs://``). Parquet
compresses better but decodes pages on every read; HDF5 needs h5py and has no
pyarrow filesystem.
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import torch
import torch.distributed as dist
from torch.utils.data import IterableDataset, get_worker_info

from ..domain.contract import DatasetSplits, LabelSpec, PreparedSamples, PreparedShards
from ..errors import JepaError

if TYPE_CHECKING:
    from ..domain.contract import DataConfig, DomainPlugin

FORMAT, VERSION = "jepa-platform-shards", 1
MANIFEST, PROGRESS = "manifest.json", "progress.json"
SPLIT = "split"  # the reserved column naming each sample's split


def shard_name(index: int) -> str:
    return f"shard-{index:05d}.arrow"


# ------------------------------------------------------------------ columns
def column_spec(role: str, array: np.ndarray) -> dict[str, Any]:
    """How a column is stored: its role (``sample``, ``meta``, ``split``), numpy dtype and per-sample shape."""
    dtype = "str" if array.dtype.kind in "OUS" else array.dtype.str
    return {"role": role, "dtype": dtype, "shape": list(array.shape[1:])}


def to_arrow(array: np.ndarray) -> pa.Array:
    """``n × ...`` numbers as a fixed-size-list column of flattened samples (bool as uint8), or ``n`` strings."""
    if array.dtype.kind in "OUS":
        return pa.array(array.astype(str))
    if array.dtype == np.bool_:
        array = array.view(np.uint8)
    flat = pa.array(np.ascontiguousarray(array).reshape(-1))
    return flat if array.ndim == 1 else pa.FixedSizeListArray.from_arrays(flat, math.prod(array.shape[1:]))


def from_arrow(column: pa.Array, spec: dict[str, Any]) -> np.ndarray:
    """The numpy view (no copy) of a numeric column written by :func:`to_arrow`; a string column as ``str``."""
    if spec["dtype"] == "str":
        return column.to_numpy(zero_copy_only=False).astype(str)
    values = column.flatten() if pa.types.is_fixed_size_list(column.type) else column
    array = values.to_numpy(zero_copy_only=True)
    if spec["dtype"] == np.dtype(np.bool_).str:
        array = array.view(np.bool_)
    return array.reshape(len(column), *spec["shape"])


def encode_shard(columns: dict[str, np.ndarray]) -> pa.Buffer:
    """One Arrow IPC file (a single record batch) holding ``columns``."""
    batch = pa.record_batch({name: to_arrow(array) for name, array in columns.items()})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return sink.getvalue()


# ------------------------------------------------------------- filesystems
def _filesystem(location: str) -> tuple[pafs.FileSystem | None, str]:
    """``(None, path)`` for a local path (memory-mapped), else pyarrow's filesystem for the URI and its path."""
    if "://" not in location:
        return None, str(Path(location).expanduser())
    try:
        fs, path = pafs.FileSystem.from_uri(location)
    except (pa.ArrowException, ValueError) as exc:
        raise JepaError(f"{location}: cannot open this filesystem URI: {exc}") from exc
    return (None, path) if isinstance(fs, pafs.LocalFileSystem) else (fs, path)


def _exists(fs: pafs.FileSystem | None, path: str) -> bool:
    if fs is None:
        return Path(path).is_file()
    return fs.get_file_info(path).type == pafs.FileType.File


def _read_text(fs: pafs.FileSystem | None, path: str) -> str:
    if fs is None:
        return Path(path).read_text()
    with fs.open_input_stream(path) as stream:
        return stream.read().decode()


def read_manifest(location: str) -> dict[str, Any] | None:
    """The manifest of a prepared folder, or ``None`` when ``location`` is not one.

    Raises:
        JepaError: The folder holds an unfinished ``prepare``, or a manifest this version cannot read.
    """
    fs, root = _filesystem(location)
    path = f"{root}/{MANIFEST}"
    if not _exists(fs, path):
        if _exists(fs, f"{root}/{PROGRESS}"):
            raise JepaError(f"{location} holds an unfinished 'prepare' (no {MANIFEST}): run the same prepare again")
        return None
    try:
        manifest = json.loads(_read_text(fs, path))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise JepaError(f"{location}/{MANIFEST}: not valid JSON: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise JepaError(f"{location}/{MANIFEST}: not a jepa-platform shard manifest")
    if manifest.get("version", 0) > VERSION:
        raise JepaError(f"{location}/{MANIFEST}: format version {manifest['version']} is newer than this jepa-platform")
    return manifest


# ------------------------------------------------------------------ reading
@dataclass
class ShardSet:
    """A prepared folder, local or remote: its manifest and access to its shards.

    Args:
        location: A local folder or a URI pyarrow opens (``s3://bucket/ecg``, ``file:///data/ecg``).
        manifest: Its parsed ``manifest.json``.
    """

    location: str
    manifest: dict[str, Any]

    @classmethod
    def find(cls, location: str | Path) -> "ShardSet | None":
        """The shard set at ``location``, or ``None`` when it is not a prepared folder."""
        manifest = read_manifest(str(location))
        return None if manifest is None else cls(str(location), manifest)

    @property
    def shards(self) -> list[dict[str, Any]]:
        return self.manifest["shards"]

    @property
    def labels(self) -> LabelSpec | None:
        labels = self.manifest.get("labels")
        if labels is None:
            return None
        return LabelSpec(tuple(labels["names"]), labels["multilabel"], labels.get("regression", False),
                         labels.get("per_token", False))

    def counts(self, splits: tuple[str, ...]) -> np.ndarray:
        """Samples of ``splits`` in each shard."""
        return np.array([sum(shard["splits"].get(s, 0) for s in splits) for shard in self.shards], dtype=np.int64)

    def check(self, plugin: "DomainPlugin", data: "DataConfig") -> None:
        """The shards were prepared for this domain with the data settings the recipe asks for.

        Raises:
            JepaError: Naming the first setting that differs.
        """
        if self.manifest["domain"] != plugin.name:
            raise JepaError(f"{self.location} holds '{self.manifest['domain']}' shards, not '{plugin.name}'")
        prepared, wanted = self.manifest["shard_settings"], plugin.shard_settings(data)
        for key in sorted((set(prepared) | set(wanted)) - {"on_bad_file"}):  # which files to skip: not a shape
            if prepared.get(key) != wanted.get(key):
                raise JepaError(
                    f"{self.location}: the shards were prepared with data.{key}={prepared.get(key)!r}, the recipe asks "
                    f"{wanted.get(key)!r}; prepare again with that setting or drop it from the recipe"
                )

    @cached_property
    def filesystem(self) -> tuple[pafs.FileSystem | None, str]:
        """``(None, folder)`` for local shards (memory-mapped), else pyarrow's filesystem and the path in it."""
        return _filesystem(self.location)

    def read(self, index: int) -> pa.RecordBatch:
        """Shard ``index``: memory-mapped when local, read into memory from a remote filesystem."""
        entry = self.shards[index]
        filesystem, root = self.filesystem
        path = f"{root}/{entry['file']}"
        try:
            source = pa.memory_map(path, "r") if filesystem is None else filesystem.open_input_file(path)
            batch = pa.ipc.open_file(source).get_batch(0)
        except (OSError, pa.ArrowException) as exc:
            raise JepaError(f"{self.location}/{entry['file']}: cannot read the shard: {exc}") from exc
        if batch.num_rows != entry["rows"]:
            raise JepaError(f"{self.location}/{entry['file']}: {batch.num_rows} rows, the manifest says {entry['rows']}")
        return batch

    def contents(self) -> PreparedShards:
        """Every sample of every split, read into memory in shard order (for downstream tasks)."""
        batches = [self.read(index) for index in range(len(self.shards))]
        columns = {
            name: np.concatenate([from_arrow(batch.column(name), spec) for batch in batches])
            for name, spec in self.manifest["columns"].items()
        }
        roles = {name: spec["role"] for name, spec in self.manifest["columns"].items()}
        samples = {name: array for name, array in columns.items() if roles[name] == "sample"}
        meta = {name: array for name, array in columns.items() if roles[name] == "meta"}
        contents = PreparedSamples(samples, meta, columns[SPLIT])
        demo = self.manifest["data"].get("path") is None
        return PreparedShards(self.location, contents, self.labels, self.manifest.get("info", {}), demo)

    def splits(self, seed: int) -> DatasetSplits:
        """Pretraining datasets: ``train`` (shuffled) and ``val``; with only one of them, it all trains."""
        if not self.counts(("train",)).any() or not self.counts(("val",)).any():
            return DatasetSplits(ShardedDataset(self, ("train", "val"), shuffle=True, seed=seed), None, self.labels)
        return DatasetSplits(
            ShardedDataset(self, ("train",), shuffle=True, seed=seed),
            ShardedDataset(self, ("val",), shuffle=False, drop_last=False),
            self.labels,
        )


def fit_readers(samples: int, world_size: int, workers: int, batch_size: int) -> tuple[int, bool, str | None]:
    """Loader workers and ``drop_last`` that let every reader of ``samples`` training samples fill a batch.

    Each of ``world_size`` processes reads an equal part; within it, at most as many
    of ``workers`` as leave each a full batch of ``batch_size`` (at least one). A
    process's part smaller than a batch is read as one smaller batch (no ``drop_last``).
    Also returns the one line that says what changed (``None``: nothing).
    """
    per_rank = -(-samples // world_size)
    fitting = per_rank // batch_size
    fitted = min(workers, max(fitting, 1))
    if not fitting:
        return fitted, False, (
            f"{samples} training samples over {world_size} processes leave fewer than trainer.batch_size="
            f"{batch_size} to each; each process reads its {per_rank} as one smaller batch per epoch"
        )
    if fitted < workers:
        return fitted, True, (
            f"{samples} training samples over {world_size * workers} readers (processes x trainer.num_workers) "
            f"would leave fewer than trainer.batch_size={batch_size} to each; reading with {fitted} loader "
            f"worker{'s' * (fitted > 1)} per process"
        )
    return workers, True, None


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class ShardedDataset(IterableDataset):
    """Batches (dicts of tensors) of some splits of a :class:`ShardSet`; each sample once per epoch overall.

    Each epoch (a generator seeded by ``seed`` and the epoch) puts the shards in a
    random order and permutes each shard's rows. That sequence is cut into one
    equal contiguous part per rank, padded by wrapping around when the count does
    not divide (as ``DistributedSampler`` does), and each rank's part into one per
    loader worker. A worker maps ``open_shards`` shards at a time and draws its
    batches from their rows mixed, so memory stays flat however many shards the
    set holds. Iterating again starts the next epoch; :meth:`configured` sets the
    epoch to start from. In a loader worker a batch is filled in shared memory, and
    with ``keep_previous`` the worker holds each batch until it has filled the next:
    the shared memory is then freed by the worker, which drops the last reference,
    and not by the training process's thread that takes the batches in (with
    pinned memory, DataLoader's pinning thread, which serves every worker).

    Args:
        shards: The prepared set.
        splits: The split names to read, e.g. ``("train",)``.
        batch_size: Samples per batch.
        shuffle: Random order per epoch; ``False`` reads shard by shard, row by row.
        drop_last: Drop each worker's last partial batch.
        seed: Seeds the order.
        open_shards: Shards a worker reads at once (mixing against memory).
        rank, world_size: This process among the data-parallel ones; ``None``: from ``torch.distributed``.
        epoch: The epoch of the first pass.
        keep_previous: In a loader worker, hold each batch until the next is filled (one more batch of memory).
    """

    def __init__(
        self,
        shards: ShardSet,
        splits: tuple[str, ...],
        batch_size: int = 1,
        *,
        shuffle: bool,
        drop_last: bool = True,
        seed: int = 0,
        open_shards: int = 2,
        rank: int | None = None,
        world_size: int | None = None,
        epoch: int = 0,
        keep_previous: bool = True,
    ) -> None:
        self.shards, self.split_names = shards, tuple(splits)
        self.batch_size, self.shuffle, self.drop_last, self.seed = batch_size, shuffle, drop_last, seed
        self.open_shards, self.rank, self.world_size, self.epoch = open_shards, rank, world_size, epoch
        self.keep_previous = keep_previous
        self.counts = shards.counts(self.split_names)
        self.num_samples = int(self.counts.sum())
        self.columns = {
            name: spec for name, spec in shards.manifest["columns"].items() if spec["role"] == "sample"
        }
        self._passes = 0

    def configured(self, **settings: Any) -> "ShardedDataset":
        """A copy with other settings (``batch_size``, ``rank``, ``world_size``, ``epoch``...), at its first pass."""
        clone = copy.copy(self)
        for key, value in settings.items():
            if not hasattr(clone, key):
                raise AttributeError(f"ShardedDataset has no setting '{key}'")
            setattr(clone, key, value)
        clone._passes = 0
        return clone

    def placement(self) -> tuple[int, int]:
        """``(rank, world_size)``: as given, else from ``torch.distributed``, else ``(0, 1)``."""
        if self.rank is not None and self.world_size is not None:
            return self.rank, self.world_size
        if dist.is_available() and dist.is_initialized():
            return dist.get_rank(), dist.get_world_size()
        return 0, 1

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        epoch = self.epoch + self._passes
        self._passes += 1
        if self.num_samples == 0:
            return
        rank, world = self.placement()
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        per_rank = -(-self.num_samples // world)
        start = rank * per_rank + worker * per_rank // workers
        stop = rank * per_rank + (worker + 1) * per_rank // workers
        ranges = self._ranges(epoch, start, stop)
        rng = np.random.default_rng([self.seed, epoch, rank, worker])
        yield from self._batches(ranges, epoch, rng, shared=info is not None)

    def _ranges(self, epoch: int, start: int, stop: int) -> list[tuple[int, int, int]]:
        """``(shard, lo, hi)``: positions ``[start, stop)`` (modulo the count) of the epoch's sequence, per shard."""
        count = len(self.counts)
        order = np.random.default_rng([self.seed, epoch]).permutation(count) if self.shuffle else np.arange(count)
        bounds = np.concatenate([[0], np.cumsum(self.counts[order])])
        ranges = []
        while start < stop:  # one pass per wrap-around
            base = start // self.num_samples * self.num_samples
            a, b = start - base, min(stop, base + self.num_samples) - base
            first = int(np.searchsorted(bounds, a, side="right")) - 1
            for i in range(first, count):
                if bounds[i] >= b:
                    break
                lo, hi = max(a, bounds[i]) - bounds[i], min(b, bounds[i + 1]) - bounds[i]
                if hi > lo:
                    ranges.append((int(order[i]), int(lo), int(hi)))
            start = base + b
        return ranges

    def _open(self, shard: int, epoch: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """The served columns of ``shard`` (views of the mapped file) and its rows of our splits in epoch order."""
        batch = self.shards.read(shard)
        columns = {name: from_arrow(batch.column(name), spec) for name, spec in self.columns.items()}
        mask = pc.is_in(batch.column(SPLIT), value_set=pa.array(self.split_names))
        rows = np.flatnonzero(mask.to_numpy(zero_copy_only=False))
        if len(rows) != self.counts[shard]:
            raise JepaError(f"{self.shards.location}/{self.shards.shards[shard]['file']}: split counts differ from the manifest")
        if self.shuffle:
            rows = rows[np.random.default_rng([self.seed, epoch, shard]).permutation(len(rows))]
        return columns, rows

    def _empty_batch(self, shared: bool) -> dict[str, torch.Tensor]:
        """Uninitialized batch tensors; in shared memory in a loader worker, so passing them on copies nothing."""
        batch = {}
        for name, spec in self.columns.items():
            dtype = torch.from_numpy(np.empty(0, dtype=np.dtype(spec["dtype"]))).dtype
            tensor = torch.empty((self.batch_size, *spec["shape"]), dtype=dtype)
            batch[name] = tensor.share_memory_() if shared else tensor
        return batch

    def _batches(
        self, ranges: list[tuple[int, int, int]], epoch: int, rng: np.random.Generator, shared: bool
    ) -> Iterator[dict[str, torch.Tensor]]:
        batch: dict[str, torch.Tensor] | None = None
        previous: dict[str, torch.Tensor] | None = None  # the last batch handed on, held while the next fills
        held = 0
        for group in _chunks(ranges, self.open_shards):
            opened = [self._open(shard, epoch) for shard, _, _ in group]
            source = np.concatenate([np.full(hi - lo, i) for i, (_, lo, hi) in enumerate(group)])
            rows = np.concatenate([opened[i][1][lo:hi] for i, (_, lo, hi) in enumerate(group)])
            if self.shuffle:
                mix = rng.permutation(len(rows))
                source, rows = source[mix], rows[mix]
            position = 0
            while position < len(rows):
                if batch is None:
                    batch = self._empty_batch(shared)
                take = min(self.batch_size - held, len(rows) - position)
                _fill(batch, held, opened, source[position : position + take], rows[position : position + take])
                held, position = held + take, position + take
                if held == self.batch_size:
                    yield batch
                    # `previous` holds the batch just yielded until the next is filled (keep_previous)
                    previous, batch, held = (batch if shared and self.keep_previous else None), None, 0  # noqa: F841
            del opened  # unmap this group's shards before the next group maps its own
        if held and not self.drop_last:
            yield {name: array[:held] for name, array in batch.items()}


def _fill(
    batch: dict[str, torch.Tensor],
    start: int,
    opened: list[tuple[dict[str, np.ndarray], np.ndarray]],
    source: np.ndarray,
    rows: np.ndarray,
) -> None:
    """Copy rows ``rows`` of the opened shards ``source`` into ``batch`` from ``start``: one gather per shard and column."""
    order = np.argsort(source, kind="stable")
    source, rows = source[order], rows[order]
    shards, firsts = np.unique(source, return_index=True)
    for shard, first, last in zip(shards, firsts, [*firsts[1:], len(source)]):
        for name, column in opened[shard][0].items():
            out = batch[name][start + first : start + last].numpy()
            np.take(column, rows[first:last], axis=0, out=out, mode="clip")
