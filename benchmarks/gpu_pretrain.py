"""ECG ViT-S pretraining throughput and model FLOPs utilization on one GPU (bf16 autocast, fused AdamW).

Builds the ECG domain's default (non-demo) model: ViT-S of depth 8, predictor
depth 8, 500 Hz, 50 ms patches (200 tokens per 10 s window), and trains it in
a plain loop on one synthetic batch held on the device, shaped like the ECG
dataset's samples. No data set is read. For each mode (eager; compiled: the
transformer stacks under ``torch.compile``, as ``trainer.compile`` does;
compiled with CUDA graphs, on CUDA only) it reports samples/s, step time,
TFLOP/s and MFU from ``JEPAModule.flops_per_sample`` against the GPU's dense
bf16 peak, peak memory, and what one training step launches, counted with
``torch.profiler``: ATen operators, and the compiled step's generated kernels
(on the CPU a proxy for the GPU's kernel launches).
On the CPU (a smoke test, and the operator count) the step keeps the GPU's
structure: bf16 autocast, fused AdamW and multi-tensor gradient clipping, as
``Trainer.fit`` runs them on CUDA; ``--depth`` and
``--predictor-depth`` shrink the model for it. ``--demo`` builds the ECG demo
model (the recipe without a data path) instead; ``--preset vit_base`` (or
another preset) the ECG model at that preset's sizes and depths, and
``--activation-checkpointing`` recomputes its blocks in the backward pass.
``--find-batch`` first looks for the largest batch whose step fits in the
device's memory (``--memory-gib`` caps it, e.g. at 80 on a larger GPU), then
times that batch.

    .venv/bin/python benchmarks/gpu_pretrain.py [--batch-size 256 --steps 50 --modes eager,compiled,cudagraphs]
    .venv/bin/python benchmarks/gpu_pretrain.py --device cpu --steps 1 --warmup 0 --batch-size 2 --depth 1 \\
        --predictor-depth 1 --modes eager   # smoke test
    .venv/bin/python benchmarks/gpu_pretrain.py --device cpu --demo --batch-size 32 --steps 3 --warmup 1
    .venv/bin/python benchmarks/gpu_pretrain.py --preset vit_base --find-batch --batch-size 64 --memory-gib 80 \
        [--activation-checkpointing]
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Callable
from typing import ContextManager

import torch
from jepa_platform.masking import Masks
from jepa_platform.model import PRESETS
from jepa_platform.pretrain.config import Recipe, resolve_recipe
from jepa_platform.pretrain.module import JEPAModule, clip_grad_norm

# Dense bf16 peak TFLOP/s by GPU name; the first matching key wins, so specific names come first.
PEAK_BF16_TFLOPS = {
    "H100 PCIe": 756.0,
    "H100 NVL": 835.0,
    "H100": 989.0,  # SXM
    "H200": 989.0,
    "A100": 312.0,
}


def peak_tflops(device: torch.device, override: float | None) -> float | None:
    """``override``, else the table's entry for the CUDA device's name (``None`` when unknown or on CPU)."""
    if override is not None or device.type != "cuda":
        return override
    name = torch.cuda.get_device_name(device)
    return next((peak for key, peak in PEAK_BF16_TFLOPS.items() if key in name), None)


def ecg_recipe(
    depth: int | None,
    predictor_depth: int | None,
    demo: bool,
    size_buckets: int | None = None,
    preset: str | None = None,
    checkpointing: bool = False,
) -> Recipe:
    """The ECG defaults (ViT-S) or, with ``demo``, the demo settings; ``preset`` at its own sizes and depths;
    depths and ``masking.size_buckets`` overridden when given.

    For the defaults a (never read) data path keeps the demo settings out.
    """
    sizes = {} if preset is None else {"preset": preset, **PRESETS[preset]}
    depths = {"depth": depth, "predictor_depth": predictor_depth}
    model = {**sizes, **{key: value for key, value in depths.items() if value is not None}}
    overrides: dict = {"model": {**model, "activation_checkpointing": checkpointing}}
    if size_buckets is not None:
        overrides["masking"] = {"size_buckets": size_buckets}
    if not demo:
        overrides["data"] = {"path": "/nonexistent-unused"}
    return resolve_recipe("ecg", overrides=overrides)


def synthetic_batch(recipe: Recipe, batch_size: int, device: torch.device) -> dict[str, torch.Tensor]:
    """Random full-length windows with every lead present, as the ECG data set yields them."""
    leads, window = len(recipe.data.leads), recipe.data.window_size
    return {
        "signal": torch.randn(batch_size, leads, window, device=device),
        "lead_present": torch.ones(batch_size, leads, dtype=torch.bool, device=device),
        "length": torch.full((batch_size,), window, dtype=torch.int64, device=device),
    }


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A CPU tensor on ``device``, copied from pinned memory without blocking the host."""
    return tensor.pin_memory().to(device, non_blocking=True) if device.type == "cuda" else tensor


# Operators that only describe memory (views, fresh buffers): no kernel runs for them on a GPU.
NO_KERNEL = frozenset(
    "aten::" + name
    for name in (
        "view", "_unsafe_view", "as_strided", "t", "transpose", "permute", "expand", "unsqueeze", "squeeze",
        "select", "slice", "unbind", "split", "split_with_sizes", "chunk", "alias", "detach", "empty",
        "empty_like", "empty_strided", "lift_fresh", "result_type", "resolve_conj", "resolve_neg",
    )
)


Step = Callable[[int, Callable[[], ContextManager]], None]


def training_step(module: JEPAModule, batch: dict[str, torch.Tensor]) -> Step:
    """One training step as ``Trainer.fit`` runs it: ``step(number, around)``.

    Masks drawn on the CPU (``prepare_batch``), then, inside the context
    ``around()`` makes: masks copied over, bf16 autocast forward, backward,
    multi-tensor gradient clipping, fused AdamW, EMA teacher update: the
    optimizer ``JEPAModule.configure_optimizers`` and the clipping
    ``JEPAModule.configure_gradient_clipping`` build on CUDA, on any device.
    """
    lengths = {"length": batch["length"].cpu()}  # all the CPU needs to draw the masks
    optim, seed = module.recipe.optim, module.recipe.seed * 1_000_003
    decay, no_decay = [], []
    for name, param in module.named_parameters():
        if param.requires_grad:  # the split JEPAModule.configure_optimizers makes
            (no_decay if param.ndim < 2 or "pos_embed" in name or "mask_token" in name else decay).append(param)
    groups = [{"params": decay, "weight_decay": optim.weight_decay[0]}, {"params": no_decay, "weight_decay": 0.0}]
    optimizer = torch.optim.AdamW(groups, lr=optim.lr, betas=optim.betas, fused=True)
    params = decay + no_decay
    device = module.device

    def step(number: int, around: Callable[[], ContextManager]) -> None:
        _, valid, masks = module.prepare_batch(lengths, seed + number)
        with around():
            valid = None if valid is None else to_device(valid, device)
            masks = Masks(to_device(masks.context, device), to_device(masks.targets, device))
            with torch.autocast(device.type, dtype=torch.bfloat16):
                loss = module.jepa_loss(batch, valid, masks, seed=seed + number).loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if optim.grad_clip is not None:
                clip_grad_norm([param.grad for param in params if param.grad is not None], optim.grad_clip)
            optimizer.step()
            module.update_teacher()

    return step


def train(step: Step, device: torch.device, warmup: int, steps: int) -> float:
    """Seconds for ``steps`` training steps after ``warmup`` untimed ones."""
    start = 0.0
    for number in range(warmup + steps):
        if number == warmup:
            synchronize(device)
            start = time.perf_counter()
        step(number, contextlib.nullcontext)
    synchronize(device)
    return time.perf_counter() - start


def operators_per_step(step: Step, number: int) -> tuple[int, int]:
    """``(operators, kernel operators)`` of one profiled step after the masks are drawn.

    Operators: the outermost ATen operators it dispatches (forward, backward,
    clipping, optimizer, EMA; an operator called by another is not counted
    again; a compiled graph's calls into ATen, such as its matmuls, count as
    its own operators), plus the kernels a compiled graph generated (each
    recorded by name: inductor's C++ kernels with ``cpp.enable_kernel_profile``,
    Triton kernels on CUDA). Kernel operators: those that are not views or
    allocations.
    """
    profile = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU])
    step(number, lambda: profile)
    outermost = [event.name for event in profile.events() if counted(event) and not aten_parent(event)]
    return len(outermost), sum(name not in NO_KERNEL for name in outermost)


def counted(event: torch.autograd.profiler_util.FunctionEvent) -> bool:
    """An ATen operator, or a kernel a compiled graph generated."""
    return event.name.startswith("aten::") or any(kind in event.name for kind in GENERATED_KERNELS)


GENERATED_KERNELS = ("cpp_fused_", "triton_")
"""Names of the kernels inductor generates (C++ on the CPU, Triton on CUDA), as the profiler records them."""


def aten_parent(event: torch.autograd.profiler_util.FunctionEvent) -> bool:
    """Whether an ATen operator encloses the profiler ``event``."""
    parent = event.cpu_parent
    while parent is not None:
        if parent.name.startswith("aten::"):
            return True
        parent = parent.cpu_parent
    return False


MODES = ("eager", "compiled", "cudagraphs")
"""Eager; the transformer stacks compiled (``trainer.compile``: ``max-autotune-no-cudagraphs`` on CUDA,
inductor's default on the CPU); compiled with CUDA graphs (``reduce-overhead``, CUDA only)."""


def fits(module: JEPAModule, recipe: Recipe, batch_size: int, device: torch.device) -> bool:
    """Whether one training step at ``batch_size`` runs without running out of device memory."""
    try:
        training_step(module, synthetic_batch(recipe, batch_size, device))(0, contextlib.nullcontext)
        synchronize(device)
        return True
    except torch.OutOfMemoryError:
        return False
    finally:
        module.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.empty_cache()


def largest_batch(module: JEPAModule, recipe: Recipe, device: torch.device, start: int, limit: int) -> int:
    """The largest multiple of ``start`` up to ``limit`` whose step fits: doubling, then bisecting."""
    if not fits(module, recipe, start, device):
        raise SystemExit(f"batch {start} does not fit: start from a smaller --batch-size")
    low, high = start, None
    while high is None:
        if 2 * low > limit:
            high = limit // start * start + start  # past the limit counts as not fitting
        elif fits(module, recipe, 2 * low, device):
            low *= 2
        else:
            high = 2 * low
    while high - low > start:
        middle = (low + high) // 2 // start * start
        low, high = (middle, high) if fits(module, recipe, middle, device) else (low, middle)
    return low


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=50, help="timed steps")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first (compilation, allocator)")
    parser.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, of {', '.join(MODES)}")
    parser.add_argument("--size-buckets", type=int, help="masking.size_buckets (1: one mask size every step)")
    parser.add_argument("--depth", type=int, help="encoder depth (default: the ECG default, 8)")
    parser.add_argument("--predictor-depth", type=int, help="predictor depth (default: the ECG default, 8)")
    parser.add_argument("--demo", action="store_true", help="the ECG demo model instead of ViT-S")
    parser.add_argument("--preset", choices=list(PRESETS), help="this preset at its own depths instead of ViT-S")
    parser.add_argument("--activation-checkpointing", action="store_true", help="recompute blocks in the backward")
    parser.add_argument("--find-batch", action="store_true",
                        help="time the largest multiple of --batch-size (up to --max-batch) whose step fits")
    parser.add_argument("--max-batch", type=int, default=1 << 16, help="largest batch --find-batch tries")
    parser.add_argument("--memory-gib", type=float, help="cap the CUDA memory this process may use (GiB)")
    parser.add_argument("--peak-tflops", type=float, help="dense bf16 peak of the device in TFLOP/s (default: table)")
    args = parser.parse_args()
    args.modes = args.modes.split(",")
    if args.steps < 1 or args.warmup < 0 or args.batch_size < 1:
        parser.error("need --steps >= 1, --warmup >= 0 and --batch-size >= 1")
    if not set(args.modes) <= set(MODES):
        parser.error(f"--modes: choose from {', '.join(MODES)}")
    return args


def run_mode(mode: str, recipe: Recipe, args: argparse.Namespace, device: torch.device) -> str:
    """One row of the results table: a fresh model from the recipe's seed, trained and profiled in ``mode``."""
    torch.manual_seed(recipe.seed)
    module = JEPAModule(recipe.to_dict()).to(device)
    if mode != "eager":
        torch._dynamo.reset()
        torch._inductor.config.cpp.enable_kernel_profile = True  # C++ kernels named in the profile
        on_cuda = device.type == "cuda"
        module.compile_stacks(("reduce-overhead" if mode == "cudagraphs" else recipe.trainer.compile_mode)
                              if on_cuda else "default")
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    batch = synthetic_batch(recipe, args.batch_size, device)
    step = training_step(module, batch)
    seconds = train(step, device, args.warmup, args.steps)
    operators, kernels = operators_per_step(step, args.warmup + args.steps)
    samples_per_s = args.batch_size * args.steps / seconds
    tflops = module.flops_per_sample() * samples_per_s / 1e12
    peak = peak_tflops(device, args.peak_tflops)
    mfu = "n/a" if peak is None else f"{100 * tflops / peak:.1f}%"
    memory = f"{torch.cuda.max_memory_allocated(device) / 2**30:.1f}" if device.type == "cuda" else "n/a"
    return (f"| {mode} | {samples_per_s:.1f} | {1000 * seconds / args.steps:.2f} | {tflops:.2f} | {mfu} | {memory} "
            f"| {operators} | {kernels} |")


def main() -> None:
    args = parse_args()
    device = torch.device(args.device)
    recipe = ecg_recipe(args.depth, args.predictor_depth, args.demo, args.size_buckets, args.preset,
                        args.activation_checkpointing)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    model, data = recipe.model, recipe.data
    peak = peak_tflops(device, args.peak_tflops)
    if args.memory_gib is not None and device.type == "cuda":
        total = torch.cuda.get_device_properties(device).total_memory
        torch.cuda.set_per_process_memory_fraction(min(args.memory_gib * 2**30 / total, 1.0), device)
    if args.find_batch:
        torch.manual_seed(recipe.seed)
        module = JEPAModule(recipe.to_dict()).to(device)
        args.batch_size = largest_batch(module, recipe, device, args.batch_size, args.max_batch)
        cap = "" if args.memory_gib is None else f" of {args.memory_gib:g} GiB"
        print(f"largest batch that fits{cap}: {args.batch_size} (a multiple of the start, at most {args.max_batch})")
        del module
        if device.type == "cuda":
            torch.cuda.empty_cache()
    print(f"device: {name}; torch {torch.__version__}; "
          f"activation checkpointing: {'on' if model.activation_checkpointing else 'off'}")
    print(
        f"model: {model.preset}, depth {model.depth}, predictor depth {model.predictor_depth}, "
        f"objective {recipe.objective.kind}, {data.window_size // data.patch_size} tokens ({data.sampling_rate} Hz, "
        f"{data.patch_ms:g} ms patches); batch {args.batch_size}; {args.steps} timed steps after {args.warmup} "
        f"warm-up steps; masking.size_buckets {recipe.masking.size_buckets}"
    )
    print(f"model FLOPs: {JEPAModule(recipe.to_dict()).flops_per_sample() / 1e9:.2f} GFLOP/sample; MFU against "
          + ("an unknown peak (pass --peak-tflops)" if peak is None else f"{peak:g} TFLOP/s dense bf16"))
    print("\n| mode | samples/s | step time (ms) | TFLOP/s | MFU | peak memory (GiB) | operators per step "
          "| without views and allocations |\n|---|---|---|---|---|---|---|---|")
    for mode in args.modes:
        if mode == "cudagraphs" and device.type != "cuda":
            print("| cudagraphs | skipped: CUDA graphs need a CUDA device | | | | | | |")
            continue
        print(run_mode(mode, recipe, args, device), flush=True)


if __name__ == "__main__":
    main()
