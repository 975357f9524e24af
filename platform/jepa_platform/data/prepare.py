"""``jepa-platform prepare``: raw data -> shards, once, in parallel over CPU cores, resumable.

The domain lists its raw items (``prepare_source``) and preprocesses one item
into samples (``prepare_item``) exactly as its training datasets would. Worker
processes run ``prepare_item``; the main process writes the results, in a fixed
shuffled order of the items (so a shard mixes samples from across the data
set), into shards of exactly ``shard_size`` samples (the last one smaller).

Resuming: each shard is written to a temporary name, flushed and renamed, and
only then does ``progress.json`` record it together with where the next shard
starts (an item and a row within it). A prepare run again on the same folder
continues from there and writes the very same shards an uninterrupted run
would; temporary files left behind are overwritten, never read.
``manifest.json`` is written last, and readers accept only a folder that has
one, and only the shards it lists. One prepare at a time writes into a folder (a
lock file beside it); another started meanwhile waits, then finds the shards done.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from tqdm import tqdm

from ..domain.contract import DataConfig, DomainPlugin, PreparedSamples, PrepareSource
from ..errors import JepaError
from ..flock import exclusive
from ..runs.atomic import atomic_write_bytes
from .shards import FORMAT, MANIFEST, PROGRESS, SPLIT, VERSION, column_spec, encode_shard, read_manifest, shard_name

ITEMS_PER_TASK = 8  # items a worker preprocesses per task: amortizes inter-process traffic


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def prepare(
    plugin: DomainPlugin,
    data: DataConfig,
    out: Path,
    cache_dir: Path,
    shard_size: int = 1024,
    workers: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Convert ``data`` into shards in ``out`` (or finish an interrupted run there); returns the manifest.

    Args:
        plugin: The domain.
        data: Its resolved ``data`` section (``path=None``: the demo data).
        out: The shard folder; new, empty, or left by a prepare with the same settings.
        cache_dir: Where the domain keeps generated demo data.
        shard_size: Samples per shard.
        workers: Worker processes (default: every CPU core; ``1`` works in this process).
        seed: Seeds the order in which items are written.

    Raises:
        JepaError: ``out`` is something else, the data holds nothing, or an item is bad (naming its file).
    """
    if shard_size < 1:
        raise JepaError(f"--shard-size must be at least 1, got {shard_size}")
    source = plugin.prepare_source(plugin.ensure_data(data, cache_dir), data)
    if not source.items:
        raise JepaError(f"{data.path or 'the demo data'}: nothing to prepare")
    settings = {
        "domain": plugin.name,
        "shard_settings": plugin.shard_settings(data),
        "shard_size": shard_size,
        "order_seed": seed,
        "items": len(source.items),
        "items_hash": hashlib.sha256("\n".join(map(repr, source.items)).encode()).hexdigest(),
    }
    busy = f"{out}: another prepare is writing there; waiting for it to finish"
    with exclusive(out.parent / f".{out.name}.lock", busy):  # two prepares into one folder: the second reuses it
        done = _finished(out, settings)
        return done if done is not None else _write(plugin, data, out, source, settings, workers)


def _write(
    plugin: DomainPlugin,
    data: DataConfig,
    out: Path,
    source: PrepareSource,
    settings: dict[str, Any],
    workers: int | None,
) -> dict[str, Any]:
    """Write (or go on writing) the shards of ``source`` into ``out``, then the manifest; returns the manifest."""
    shard_size, seed = settings["shard_size"], settings["order_seed"]
    progress = _start(out, settings)
    order = np.random.default_rng(seed).permutation(len(source.items))
    writer = _ShardWriter(out, progress, shard_size)
    start = progress["next"][0]
    items = [source.items[i] for i in order[start:]]
    with tqdm(total=len(order), initial=start, unit=source.unit, desc=f"preparing {plugin.name}", disable=None) as bar:
        for position, (item, prepared) in enumerate(zip(items, _preprocessed(plugin, data, items, workers)), start):
            writer.add(position, item, prepared)
            bar.update(1)
            bar.set_postfix(samples=writer.samples, refresh=False)
    writer.finish(len(order))
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        **settings,
        "data": data.model_dump(mode="json"),
        "labels": None if source.labels is None else {
            "names": list(source.labels.names), "multilabel": source.labels.multilabel,
            "regression": source.labels.regression, "per_token": source.labels.per_token,
        },
        "info": source.info,
        "columns": progress["columns"],
        "shards": progress["shards"],
        "counts": _counts(progress),
        "content_hash": _content_hash(progress),
    }
    atomic_write_bytes(out / MANIFEST, json.dumps(manifest, indent=1).encode())
    (out / PROGRESS).unlink()
    return manifest


# ------------------------------------------------------------- the folder
def _difference(saved: dict[str, Any], settings: dict[str, Any]) -> str | None:
    for key, value in settings.items():
        if saved.get(key) != value:
            return "the raw data changed" if key.startswith("items") else f"{key} was {saved.get(key)!r}, now {value!r}"
    return None


def _finished(out: Path, settings: dict[str, Any]) -> dict[str, Any] | None:
    """The manifest when ``out`` already holds these shards; an error when it holds others."""
    if out.exists() and not out.is_dir():
        raise JepaError(f"--out {out} exists and is not a folder")
    manifest = read_manifest(str(out)) if (out / MANIFEST).is_file() else None
    if manifest is None:
        return None
    differs = _difference(manifest, settings)
    if differs:
        raise JepaError(f"{out} already holds shards prepared otherwise ({differs}); choose another --out")
    return manifest


def _start(out: Path, settings: dict[str, Any]) -> dict[str, Any]:
    """The progress to continue from: saved by an interrupted run with the same settings, or a fresh one."""
    path = out / PROGRESS
    if path.is_file():
        try:
            progress = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise JepaError(f"{path}: not valid JSON ({exc}); delete {out} and prepare again") from exc
        differs = _difference(progress["settings"], settings)
        if differs:
            raise JepaError(f"{out} holds an unfinished prepare with other settings ({differs}); choose another --out")
        for shard in progress["shards"]:
            file = out / shard["file"]
            if not file.is_file() or file.stat().st_size != shard["bytes"]:
                raise JepaError(f"{file}: missing or changed since it was written; delete {out} and prepare again")
        for stale in out.glob(".*.tmp"):
            stale.unlink()
        return progress
    if out.is_dir() and any(out.iterdir()):
        raise JepaError(f"--out {out} exists and is not a shard folder (no {MANIFEST} or {PROGRESS}); choose another")
    out.mkdir(parents=True, exist_ok=True)
    progress = {"settings": settings, "columns": None, "shards": [], "next": [0, 0], "empty_items": 0}
    atomic_write_bytes(path, json.dumps(progress).encode())
    return progress


def _counts(progress: dict[str, Any]) -> dict[str, Any]:
    splits: dict[str, int] = {}
    for shard in progress["shards"]:
        for name, count in shard["splits"].items():
            splits[name] = splits.get(name, 0) + count
    return {
        "samples": sum(shard["rows"] for shard in progress["shards"]),
        "items": progress["settings"]["items"],
        "empty_items": progress["empty_items"],
        "splits": splits,
    }


def _content_hash(progress: dict[str, Any]) -> str:
    """SHA-256 over the column layout and every shard's SHA-256, in order."""
    digest = hashlib.sha256(json.dumps(progress["columns"], sort_keys=True).encode())
    for shard in progress["shards"]:
        digest.update(shard["sha256"].encode())
    return digest.hexdigest()


# --------------------------------------------------------------- workers
def _prepare_task(plugin: DomainPlugin, data: DataConfig, items: list[Any]) -> list[PreparedSamples]:
    results = []
    for item in items:
        try:
            results.append(plugin.prepare_item(item, data))
        except JepaError:
            raise
        except Exception as exc:  # anything else still names the input
            raise JepaError(f"{item}: {type(exc).__name__}: {exc}") from exc
    return results


def _worker_start(parent: int) -> None:
    """In each worker: one thread for torch (one process per core), and an exit when ``parent`` dies."""
    torch.set_num_threads(1)
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    """Ends this worker once its parent is gone (killed, even with SIGKILL): no orphan keeps computing."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _preprocessed(
    plugin: DomainPlugin, data: DataConfig, items: list[Any], workers: int | None
) -> Iterator[PreparedSamples]:
    """``plugin.prepare_item`` of each item, in order, computed by ``workers`` processes a few tasks ahead."""
    tasks = (items[i : i + ITEMS_PER_TASK] for i in range(0, len(items), ITEMS_PER_TASK))
    workers = default_workers() if workers is None else workers
    if workers <= 1:
        for task in tasks:
            yield from _prepare_task(plugin, data, task)
        return
    pool = ProcessPoolExecutor(workers, initializer=_worker_start, initargs=(os.getpid(),))
    try:
        pending = deque(pool.submit(_prepare_task, plugin, data, task) for task in islice(tasks, 2 * workers))
        while pending:
            results = pending.popleft().result()
            pending.extend(pool.submit(_prepare_task, plugin, data, task) for task in islice(tasks, 1))
            yield from results
    except BrokenProcessPool as exc:
        raise JepaError("a prepare worker process died (out of memory?); run the same prepare again to resume") from exc
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


# ----------------------------------------------------------------- writing
@dataclass
class _ShardWriter:
    """Collects samples in item order and writes a shard whenever ``shard_size`` are waiting."""

    out: Path
    progress: dict[str, Any]
    shard_size: int
    pending: deque = field(default_factory=deque)  # (position, first row, columns)
    waiting: int = 0
    empty: list[int] = field(default_factory=list)  # positions of items without samples, this session

    def __post_init__(self) -> None:
        self.resume = tuple(self.progress["next"])  # (position, row) the first sample of this session comes from
        self.samples = sum(shard["rows"] for shard in self.progress["shards"])  # written or waiting

    def add(self, position: int, item: Any, prepared: PreparedSamples) -> None:
        columns, specs = _columns(item, prepared)
        size = len(columns[SPLIT])
        if size == 0:
            self.empty.append(position)
            return
        if self.progress["columns"] is None:
            self.progress["columns"] = specs
        elif specs != self.progress["columns"]:
            raise JepaError(f"{item}: its samples differ in shape or type from earlier items: {specs} vs {self.progress['columns']}")
        first = self.resume[1] if position == self.resume[0] else 0
        if size > first:
            self.pending.append((position, first, {name: array[first:] for name, array in columns.items()}))
            self.waiting += size - first
            self.samples += size - first
        while self.waiting >= self.shard_size:
            self._write(self.shard_size, position)

    def finish(self, items: int) -> None:
        """Write the last, smaller shard; every item has been added."""
        if self.waiting:
            self._write(self.waiting, items - 1)
        self.progress["empty_items"] += len(self.empty)
        if not self.progress["shards"]:
            raise JepaError(f"none of the {items} items gave a sample")

    def _take(self, count: int) -> dict[str, np.ndarray]:
        parts = []
        while count:
            position, first, columns = self.pending.popleft()
            rows = len(columns[SPLIT])
            if rows > count:  # split this item: the rest starts the next shard
                self.pending.appendleft((position, first + count, {k: v[count:] for k, v in columns.items()}))
                columns = {k: v[:count] for k, v in columns.items()}
                rows = count
            parts.append(columns)
            count -= rows
            self.waiting -= rows
        return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}

    def _write(self, count: int, position: int) -> None:
        columns = self._take(count)
        name = shard_name(len(self.progress["shards"]))
        data = encode_shard(columns)
        atomic_write_bytes(self.out / name, data)
        splits, counts = np.unique(columns[SPLIT], return_counts=True)
        nxt = list(self.pending[0][:2]) if self.pending else [position + 1, 0]
        self.progress["shards"].append({
            "file": name,
            "rows": count,
            "bytes": data.size,
            "splits": {str(s): int(c) for s, c in zip(splits, counts)},
            "sha256": hashlib.sha256(data).hexdigest(),
        })
        self.progress["empty_items"] += sum(p < nxt[0] for p in self.empty)
        self.empty = [p for p in self.empty if p >= nxt[0]]
        self.progress["next"] = nxt
        atomic_write_bytes(self.out / PROGRESS, json.dumps(self.progress).encode())


def _columns(item: Any, prepared: PreparedSamples) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """All of an item's columns by name, and their specs; one clear error for malformed output."""
    roles = [("sample", prepared.samples), ("meta", prepared.meta), ("split", {SPLIT: np.asarray(prepared.split)})]
    columns, specs = {}, {}
    for role, arrays in roles:
        for name, array in arrays.items():
            array = np.asarray(array)
            if name in columns:
                raise JepaError(f"{item}: column '{name}' is given twice (the name '{SPLIT}' is reserved)")
            if array.ndim == 0 or (role == "sample" and array.dtype.kind not in "biuf"):
                raise JepaError(f"{item}: column '{name}' must be a numeric array with a leading sample axis")
            columns[name], specs[name] = array, column_spec(role, array)
    lengths = {name: len(array) for name, array in columns.items()}
    if len(set(lengths.values())) > 1:
        raise JepaError(f"{item}: columns hold different numbers of samples: {lengths}")
    return columns, specs
