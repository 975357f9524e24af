"""Memory of the ECG pretraining step per sample, measured on the CPU, and the batch it would leave room for on a GPU.

For each model (``--presets``; ``vit_small`` is the ECG default ViT-S of depth 8,
the others at their preset depths) with and without activation checkpointing,
one process per batch size (``--batches``, two of them) runs two training steps
of ``gpu_pretrain.py`` (bf16 autocast, fused AdamW, gradient clipping, EMA
teacher) on a synthetic batch. glibc is told to serve every allocation above
64 KiB by ``mmap`` and to return it on free (``MALLOC_MMAP_THRESHOLD_``), so
the process's peak resident memory follows its live tensors; the difference of
the two peaks over the difference of the batches is the step's memory per
sample (activations kept for the backward pass, their gradients, temporaries).

The GPU estimate adds what does not grow with the batch: 16 bytes per trained
parameter (fp32 weight, gradient, AdamW's two moments), 4 per teacher
parameter and 2 per parameter for autocast's bf16 copies of the weights, and
keeps ``--reserve`` of the GPU's memory for the CUDA context, cuBLAS
workspaces and the caching allocator's rounding. It is an estimate: CUDA's
kernels (attention above all) need not keep exactly what the CPU's keep.
``gpu_pretrain.py --find-batch`` measures it on a GPU.

    .venv/bin/python benchmarks/memory.py [--presets vit_small vit_base --batches 4 16 --gib 80]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch
from gpu_pretrain import ecg_recipe, synthetic_batch, training_step
from jepa_platform.pretrain.module import JEPAModule

GIB = 2**30


def build(preset: str, checkpointing: bool, depth: int | None) -> JEPAModule:
    """The ECG model of ``gpu_pretrain.py``: the default ViT-S for ``vit_small``, else the preset's depths."""
    recipe = ecg_recipe(depth, depth, False, None if preset == "vit_small" else preset, checkpointing)
    torch.manual_seed(recipe.seed)
    return JEPAModule(recipe.to_dict())


def measure(preset: str, checkpointing: bool, depth: int | None, batch_size: int) -> None:
    """Two training steps at ``batch_size``; print the peak resident memory (MiB) and the parameter counts."""
    module = build(preset, checkpointing, depth)
    step = training_step(module, synthetic_batch(module.recipe, batch_size, torch.device("cpu")))
    for number in range(2):
        step(number, contextlib.nullcontext)
    line = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM"))
    trained = sum(p.numel() for p in module.parameters() if p.requires_grad)
    print(json.dumps({"peak": int(line.split()[1]) / 1024, "trained": trained,
                      "teacher": sum(p.numel() for p in module.parameters()) - trained}))


def peak(preset: str, checkpointing: bool, depth: int | None, batch_size: int, threads: int) -> dict[str, float]:
    """:func:`measure` in a fresh process that returns every large freed allocation to the system."""
    command = [sys.executable, __file__, "--measure", preset, str(int(checkpointing)), str(batch_size),
               "--threads", str(threads), *(["--depth", str(depth)] if depth else [])]
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "0"}
    done = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presets", nargs="+", default=["vit_small", "vit_base"])
    parser.add_argument("--batches", nargs=2, type=int, default=[4, 16], help="the two batch sizes")
    parser.add_argument("--depth", type=int, help="encoder and predictor depth (default: each preset's)")
    parser.add_argument("--gib", type=float, default=80.0, help="GPU memory to fit the batch in (GiB)")
    parser.add_argument("--reserve", type=float, default=0.05, help="share of it kept for CUDA itself")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--measure", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.measure:
        preset, checkpointing, batch_size = args.measure
        measure(preset, checkpointing == "1", args.depth, int(batch_size))
        return
    small, large = args.batches
    if not 0 < small < large:
        parser.error("--batches needs two sizes, the first smaller")
    start, load = time.perf_counter(), os.getloadavg()[0]
    rows = []
    for preset in args.presets:
        for checkpointing in (False, True):
            first, second = (peak(preset, checkpointing, args.depth, size, args.threads) for size in (small, large))
            per_sample = (second["peak"] - first["peak"]) / (large - small) * 2**20
            fixed = 16 * first["trained"] + 4 * first["teacher"] + 2 * (first["trained"] + first["teacher"])
            fits = int((args.gib * GIB * (1 - args.reserve) - fixed) // per_sample)
            rows.append((preset, checkpointing, first, second, per_sample, fixed, fits))
    print(f"\nbatches {small} and {large}; torch {torch.__version__}, {args.threads} threads; load average {load:.2f} "
          f"at the start; {time.perf_counter() - start:.0f} s\n")
    print(f"| model | checkpointing | peak RSS at {small} / {large} | per sample | fixed on a GPU | "
          f"largest batch in {args.gib:g} GiB (estimate) |")
    print("|---|---|---:|---:|---:|---:|")
    for preset, checkpointing, first, second, per_sample, fixed, fits in rows:
        print(f"| {preset} ({first['trained'] / 1e6:.1f}M trained parameters) | {'on' if checkpointing else 'off'} | "
              f"{first['peak']:,.0f} / {second['peak']:,.0f} MiB | {per_sample / 2**20:.2f} MiB | "
              f"{fixed / GIB:.2f} GiB | {fits:,} |")


if __name__ == "__main__":
    main()
