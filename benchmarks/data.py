"""Data loading speed and memory: prepared shards against decoding raw WFDB records, and against the ViT-S step.

In one run, on synthetic 12-lead records at 500 Hz (the demo generator, in
the PTB-XL layout) with the ECG domain's default (non-demo) settings:

1. samples/s of decoding the raw WFDB records (read, resample, cut, normalize:
   what the raw path does per record), one process;
2. samples/s of reading the prepared shards (``ShardedDataset``), one process;
3. samples/s of the training DataLoader (``JEPADataModule``) on the shards
   copied ten times (so that an epoch is more than a few batches), against the
   samples/s one ECG ViT-S JEPA training step consumes;
3b. what that DataLoader costs per sample in CPU time: in each worker process
   (its samples per CPU-second, from ``/proc/PID/stat``), in the training
   process receiving the batches, and copying each received batch into a
   reused one (what the pinning thread does on a GPU host, page-locking
   aside). From those, the samples/s a host of ``--host-cores`` cores would
   load with the recipe's former fixed 4 workers and with ``num_workers: auto``
   (``cores - 1`` for one training process): each worker's rate times the
   workers, capped by the pinning thread's rate (receiving and copying); all
   measured twice, with workers that free each batch once handed on (before)
   and that keep it until they have filled the next (now);
4. peak memory (RSS) of reading every sample of the shards once, and of a
   set 10x larger (the shards copied ten times), each in a fresh process, and
   of the raw path, which holds its windows in memory.

    .venv/bin/python benchmarks/data.py [--records 160 --shard-size 64 --batch-size 64 --workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch
from jepa_domains.ecg.dataset import record_windows, window_settings
from jepa_domains.ecg.demo import write_demo
from jepa_domains.ecg.readers import read_database
from jepa_platform.data.datamodule import JEPADataModule
from jepa_platform.data.prepare import prepare
from jepa_platform.data.shards import MANIFEST, ShardedDataset, ShardSet, shard_name
from jepa_platform.domain.registry import load_domain
from jepa_platform.pretrain.config import Recipe, resolve_recipe
from jepa_platform.pretrain.module import JEPAModule

ALL = ("train", "val", "test")
GOALS = {"shards": 20.0, "loader": 5.0, "host": 2.0}  # shards / raw, DataLoader / ViT-S step, host / GPU step
FORMER_WORKERS = 4  # trainer.num_workers the ECG pretraining recipe fixed before it became auto


def rate(samples: Callable[[], Iterable[int]], seconds: float) -> float:
    """Samples/s of repeating ``samples()`` (an iterable of batch sizes) for at least ``seconds``."""
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        count += sum(samples())
    return count / (time.perf_counter() - start)


def raw_rate(recipe: Recipe) -> float:
    """Decode and preprocess every record once, as the raw path does."""
    records = [Path(r) for r in read_database(Path(recipe.data.path), recipe.data.sampling_rate)["record"]]
    settings = window_settings(recipe.data)
    start = time.perf_counter()
    windows = sum(len(record_windows(record, settings)[2]) for record in records)
    return windows / (time.perf_counter() - start)


def shard_rate(location: Path, batch_size: int, seconds: float) -> float:
    dataset = ShardedDataset(ShardSet.find(location), ALL, batch_size, shuffle=True, drop_last=False)
    return rate(lambda: (len(batch["length"]) for batch in dataset), seconds)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def loader_costs(recipe: Recipe, batch_size: int, workers: int, seconds: float, keep: bool) -> dict[str, float]:
    """The training DataLoader's samples/s, and its samples per CPU-second: in its workers, in this process
    receiving the batches, and copying each received batch into one reused batch (what the pinning thread
    does on a GPU host; one thread, timed apart). ``keep``: the workers keep each batch until the next is
    filled (``ShardedDataset.keep_previous``).

    CPU time rather than wall time: on a shared machine it counts the work, not the wait for a core.
    """
    datamodule = JEPADataModule(load_domain("ecg"), recipe.data, batch_size, workers, recipe.seed, Path("."))
    datamodule.setup("fit")
    datamodule.splits = replace(datamodule.splits, train=datamodule.splits.train.configured(keep_previous=keep))
    loader = datamodule.train_dataloader()
    iterator = iter(loader)
    targets = {name: tensor.numpy().copy() for name, tensor in next(iterator).items()}  # also starts the workers
    pids = [worker.pid for worker in iterator._workers]
    before, main, start = sum(map(cpu_seconds, pids)), time.process_time(), time.perf_counter()
    count, copying = 0, 0.0
    while time.perf_counter() - start < seconds:
        for batch in loader:
            began = time.thread_time()
            for name, tensor in batch.items():
                np.copyto(targets[name][: len(tensor)], tensor.numpy())
            copying += time.thread_time() - began
            count += len(batch["length"])
    wall, main = time.perf_counter() - start, time.process_time() - main - copying
    worker = sum(map(cpu_seconds, pids)) - before
    return {"wall": count / wall, "worker": count / worker, "main": count / main, "copy": count / copying}


def projected(costs: dict[str, float], workers: int) -> float:
    """Samples/s of ``workers`` loader workers, each on its own core, capped by the thread that takes their
    batches in: with pinned memory, DataLoader's pinning thread receives each batch, copies it into pinned
    memory and frees it, so its receiving and copying costs add up."""
    return min(workers * costs["worker"], 1 / (1 / costs["main"] + 1 / costs["copy"]))


def step_rate(recipe: Recipe, location: Path, batch_size: int, steps: int) -> tuple[float, float]:
    """Samples/s of the ECG ViT-S JEPA training step (forward, backward, AdamW, EMA), and its parameter count."""
    torch.manual_seed(0)
    module = JEPAModule(recipe.to_dict())
    optimizer = module.configure_optimizers()["optimizer"]
    batch = next(iter(ShardedDataset(ShardSet.find(location), ALL, batch_size, shuffle=True)))

    def step(seed: int) -> None:
        loss = module.jepa_loss(*module.prepare_batch(batch, seed)).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        module.update_teacher()

    step(0)  # warm-up
    start = time.perf_counter()
    for seed in range(1, steps + 1):
        step(seed)
    params = sum(p.numel() for p in module.encoder.parameters())
    return steps * batch_size / (time.perf_counter() - start), params


def enlarge(location: Path, out: Path, times: int) -> None:
    """A shard set holding ``times`` copies of every shard of ``location`` (same manifest otherwise)."""
    manifest = json.loads((location / MANIFEST).read_text())
    out.mkdir()
    shards = []
    for copy in range(times):
        for shard in manifest["shards"]:
            name = shard_name(len(shards))
            shutil.copyfile(location / shard["file"], out / name)
            shards.append({**shard, "file": name})
    manifest["shards"] = shards
    manifest["counts"] = {**manifest["counts"], "samples": manifest["counts"]["samples"] * times}
    (out / MANIFEST).write_text(json.dumps(manifest))


def peak_rss(kind: str, location: Path, batch_size: int) -> dict[str, float]:
    """Run :func:`measure` in a fresh process; its RSS before and at peak, in MiB."""
    result = subprocess.run(
        [sys.executable, __file__, "--measure", kind, str(location), "--batch-size", str(batch_size)],
        capture_output=True, text=True, check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def memory_status(key: str) -> float:
    """``VmRSS`` (resident now) or ``VmHWM`` (peak resident, memory-mapped file pages included) in MiB.

    Not ``getrusage``: its peak survives ``exec`` and would report the parent's.
    """
    line = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith(key))
    return int(line.split()[1]) / 1024


def measure(kind: str, location: str, batch_size: int) -> None:
    """Read every sample once (``shards``) or load the raw path's in-memory windows (``raw``); print RSS."""
    before = memory_status("VmRSS")
    if kind == "shards":
        dataset = ShardedDataset(ShardSet.find(location), ALL, batch_size, shuffle=True, drop_last=False)
        samples = sum(len(batch["length"]) for batch in dataset)
    else:
        recipe = resolve_recipe("ecg", overrides={"data": {"path": location}})
        splits = load_domain("ecg").build_datasets(Path(recipe.data.path), recipe.data)
        samples = len(splits.train) + len(splits.val or [])
    peak = memory_status("VmHWM")
    print(json.dumps({"samples": samples, "before": before, "peak": peak}))


def megabytes(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=160, help="synthetic 10 s records at 500 Hz")
    parser.add_argument("--shard-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64, help="DataLoader batch")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader and prepare workers")
    parser.add_argument("--host-cores", type=int, default=16, help="CPU cores of the GPU host to project to")
    parser.add_argument("--gpu-rate", type=float, default=9789.0,
                        help="samples/s of the GPU step to compare with (default: the compiled ECG ViT-S step at "
                             "batch 1024 on an H200, gpu_pretrain.py in benchmarks/README.md)")
    parser.add_argument("--step-batch-size", type=int, default=8, help="ViT-S training step batch")
    parser.add_argument("--steps", type=int, default=2, help="timed ViT-S steps (after one warm-up)")
    parser.add_argument("--seconds", type=float, default=3.0, help="minimum time of each reading measurement")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--measure", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(*args.measure, args.batch_size)
        return
    torch.set_num_threads(args.threads)
    load = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="jepa-data-bench-"))
    try:
        raw = write_demo(work / "raw", args.records, 500)
        recipe = resolve_recipe("ecg", overrides={"data": {"path": str(raw)}})  # ECG defaults: 500 Hz, ViT-S
        start = time.perf_counter()
        prepare(load_domain("ecg"), recipe.data, work / "shards", work, args.shard_size, args.workers)
        prepare_rate = args.records / (time.perf_counter() - start)
        shards, large = work / "shards", work / "shards-10x"
        enlarge(shards, large, 10)
        on_shards, on_large = (resolve_recipe("ecg", overrides={"data": {"path": str(path)}}) for path in (shards, large))

        decode = raw_rate(recipe)
        read = shard_rate(shards, args.batch_size, args.seconds)
        # On the shards copied ten times: epochs of more than a few batches. Workers that free each batch at
        # once (before), then that keep it until the next is filled (now), one after the other.
        before, costs = (
            loader_costs(on_large, args.batch_size, args.workers, args.seconds, keep) for keep in (False, True)
        )
        loader = costs["wall"]
        step, params = step_rate(on_shards, shards, args.step_batch_size, args.steps)
        rows = [("prepared shards", "shards", shards), ("prepared shards, 10x", "shards", large),
                ("raw path (windows in memory)", "raw", raw)]
        memory = [(label, megabytes(path), peak_rss(kind, path, args.batch_size)) for label, kind, path in rows]
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"\n{args.records} synthetic records, 12 leads x 10 s at 500 Hz (one window each), shards of "
          f"{args.shard_size}; torch {torch.__version__}, {args.threads} threads; load average {load:.2f} at the start; "
          f"prepare: {prepare_rate:.0f} records/s with {args.workers} workers\n")
    print("| reading | samples/s | ratio |")
    print("|---|---:|---:|")
    print(f"| raw WFDB records: decode + preprocess, 1 process | {decode:,.0f} | 1x |")
    print(f"| prepared shards: `ShardedDataset`, 1 process | {read:,.0f} | {read / decode:,.0f}x raw "
          f"(goal >= {GOALS['shards']:.0f}x) |")
    print(f"| training DataLoader on shards: batch {args.batch_size}, {args.workers} workers | {loader:,.0f} | "
          f"{loader / step:,.0f}x the step (goal >= {GOALS['loader']:.0f}x) |")
    print(f"| ECG ViT-S JEPA training step ({params / 1e6:.1f}M-parameter encoder), batch {args.step_batch_size} "
          f"| {step:,.1f} | 1x |")
    print(f"\n| DataLoader cost, batch {args.batch_size}, {args.workers} workers: samples per CPU-second | "
          "workers free each batch at once | workers keep it until the next |")
    print("|---|---:|---:|")
    for key, label in (("worker", "each worker process (reading, filling shared-memory batches)"),
                       ("main", "training process: receiving the batches (the pinning thread on a GPU)"),
                       ("copy", "copying each received batch into a reused one (pinning's copy), 1 thread")):
        print(f"| {label} | {before[key]:,.0f} | {costs[key]:,.0f} |")
    auto = args.host_cores - 1
    print(f"\n| projected for {args.host_cores} cores, 1 training process | workers | samples/s | "
          f"against the GPU step ({args.gpu_rate:,.0f} samples/s) |")
    print("|---|---:|---:|---:|")
    for label, workers, measured in ((f"before: `num_workers: {FORMER_WORKERS}`, batches freed at once",
                                      FORMER_WORKERS, before),
                                     ("`num_workers: auto`, batches freed at once", auto, before),
                                     ("now: `num_workers: auto`, batches kept until the next", auto, costs)):
        load_rate = projected(measured, workers)
        print(f"| {label} | {workers} | {load_rate:,.0f} | {load_rate / args.gpu_rate:.1f}x "
              f"(goal >= {GOALS['host']:.0f}x) |")
    print("\n| data read once | samples | on disk | RSS before reading | peak RSS |")
    print("|---|---:|---:|---:|---:|")
    for label, size, m in memory:
        print(f"| {label} | {m['samples']:,} | {size:,.0f} MiB | {m['before']:,.0f} MiB | {m['peak']:,.0f} MiB |")


if __name__ == "__main__":
    main()
