"""Memory of the ECG pretraining step per sample, measured on the CPU, and the batch it would leave room for on a GPU.

For each model (``--presets``; ``ecg`` is the ECG default ViT-S of depth 8 and
predictor depth 8, the others run at their preset sizes and depths) with and
without activation checkpointing, one training step of ``gpu_pretrain.py``
(bf16 autocast, fused AdamW, gradient clipping, EMA teacher) runs at each of
two batch sizes (``--batches``) under a dispatch mode that adds up the bytes
of every tensor storage an operator creates and drops each once it is freed,
up to the optimizer step and leaving out the parameters' gradients: the peak
of those live bytes is what a GPU's caching allocator would count as
allocated for the forward and backward pass (its block rounding aside). The
difference of the two peaks over the difference of the batches is the step's
memory per sample (the batch itself, activations kept for the backward pass,
their gradients and temporaries).

The GPU estimate adds what does not grow with the batch: 16 bytes per trained
parameter (fp32 weight, gradient, AdamW's two moments), 4 per teacher
parameter and 2 per parameter for autocast's bf16 copies of the weights, and
keeps ``--reserve`` of the GPU's memory for the CUDA context, cuBLAS
workspaces and the caching allocator's rounding. It is an estimate: CUDA's
kernels (attention above all) need not keep exactly what the CPU's keep.
``gpu_pretrain.py --find-batch`` measures it on a GPU.

    .venv/bin/python benchmarks/memory.py [--presets ecg vit_base --batches 16 32 --gib 80]
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import torch
from gpu_pretrain import ecg_recipe, synthetic_batch, training_step
from jepa_platform.pretrain.module import JEPAModule
from torch.multiprocessing.reductions import StorageWeakRef
from torch.optim.optimizer import register_optimizer_step_pre_hook
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

GIB = 2**30


class LiveBytes(TorchDispatchMode):
    """The peak of the bytes of the tensor storages the operators run under it created and still alive.

    Parameter gradients are let go as they are accumulated (:meth:`untrack`), and the peak stops at the
    optimizer step: the gradients and the optimizer's moments are the fixed part, counted apart.
    """

    def __init__(self) -> None:
        super().__init__()
        self.storages: dict[int, tuple[StorageWeakRef, int]] = {}
        self.live = self.peak = 0
        self.stopped = False

    def untrack(self, tensor: torch.Tensor) -> None:
        entry = self.storages.pop(tensor.untyped_storage().data_ptr(), None)
        self.live -= 0 if entry is None else entry[1]

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        out = func(*args, **(kwargs or {}))
        if self.stopped:
            return out
        for key in [key for key, (ref, _) in self.storages.items() if ref.expired()]:
            self.live -= self.storages.pop(key)[1]
        for tensor in tree_leaves(out):
            if isinstance(tensor, torch.Tensor):
                storage = tensor.untyped_storage()
                if storage.data_ptr() and storage.data_ptr() not in self.storages:
                    self.storages[storage.data_ptr()] = (StorageWeakRef(storage), storage.nbytes())
                    self.live += storage.nbytes()
        self.peak = max(self.peak, self.live)
        return out


def build(preset: str, checkpointing: bool) -> JEPAModule:
    """The ECG model of ``gpu_pretrain.py``: its default ViT-S for ``ecg``, else the preset's sizes and depths."""
    recipe = ecg_recipe(None, None, False, preset=None if preset == "ecg" else preset, checkpointing=checkpointing)
    torch.manual_seed(recipe.seed)
    return JEPAModule(recipe.to_dict())


def step_peak(module: JEPAModule, batch_size: int) -> int:
    """Peak live bytes of one training step at ``batch_size``, its synthetic batch included."""
    batch = synthetic_batch(module.recipe, batch_size, torch.device("cpu"))
    tracker = LiveBytes()
    hooks = [param.register_post_accumulate_grad_hook(lambda param: tracker.untrack(param.grad))
             for param in module.parameters() if param.requires_grad]
    hooks.append(register_optimizer_step_pre_hook(lambda *_: setattr(tracker, "stopped", True)))
    training_step(module, batch)(0, lambda: tracker)
    for hook in hooks:
        hook.remove()
    return tracker.peak + sum(tensor.nbytes for tensor in batch.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presets", nargs="+", default=["ecg", "vit_base"], help="ecg (ViT-S, depth 8) or a preset")
    parser.add_argument("--batches", nargs=2, type=int, default=[16, 32], help="the two batch sizes")
    parser.add_argument("--gib", type=float, default=80.0, help="GPU memory to fit the batch in (GiB)")
    parser.add_argument("--reserve", type=float, default=0.05, help="share of it kept for CUDA itself")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    args = parser.parse_args()
    small, large = args.batches
    if not 0 < small < large:
        parser.error("--batches needs two sizes, the first smaller")
    torch.set_num_threads(args.threads)
    print(f"batches {small} and {large}; torch {torch.__version__}, {args.threads} threads; load average "
          f"{os.getloadavg()[0]:.2f} at the start\n")
    print(f"| model | checkpointing | peak at {small} / {large} | per sample | fixed on a GPU | "
          f"largest batch in {args.gib:g} GiB (estimate) | step time at {large} (CPU) |")
    print("|---|---|---:|---:|---:|---:|---:|", flush=True)
    for preset in args.presets:
        for checkpointing in (False, True):
            module = build(preset, checkpointing)
            first = step_peak(module, small)
            start = time.perf_counter()
            second = step_peak(module, large)
            seconds = time.perf_counter() - start
            per_sample = (second - first) / (large - small)
            trained = sum(p.numel() for p in module.parameters() if p.requires_grad)
            teacher = sum(p.numel() for p in module.parameters()) - trained
            fixed = 16 * trained + 4 * teacher + 2 * (trained + teacher)
            fits = int((args.gib * GIB * (1 - args.reserve) - fixed) // per_sample)
            model = module.recipe.model
            print(f"| {preset}: width {model.embed_dim}, depth {model.depth}, predictor depth {model.predictor_depth} "
                  f"({trained / 1e6:.1f}M trained parameters) | {'on' if checkpointing else 'off'} | "
                  f"{first / 2**20:,.0f} / {second / 2**20:,.0f} MiB | {per_sample / 2**20:.2f} MiB | "
                  f"{fixed / GIB:.2f} GiB | {fits:,} | {seconds:.1f} s |", flush=True)


if __name__ == "__main__":
    main()
