"""Mask sampling speed: the vectorized engine against per-sample Python loops of the same sampling.

Three cases, each run side by side in one process (the sides alternate round
by round, so both see the same machine load):

- 2-D multi-block, I-JEPA's setting: 14×14 grid, batch 256, 4 target blocks of
  scale 0.15-0.2 and aspect 0.75-1.5, a context block of scale 0.85-1.0 without
  the targets, at least 10 context tokens;
- 1-D spans, ECG-JEPA's setting: 200 tokens, keep ratio 0.15-0.25, 4 spans of
  at least 10 tokens;
- 3-D tubes, V-JEPA's setting: 8×14×14 grid, 8 blocks of spatial scale 0.15
  over the whole clip.

The loop references sample per sample as the published collators do (block
sizes drawn once per batch, positions per sample, rejection while a block
keeps too few tokens, every mask cut to its first tokens at the batch
minimum), with the engine's block-size rule and inclusive position bounds.
The engine cuts to the batch minimum at a random place instead. Last, the
engine's multi-block time is compared with one training step (forward +
backward + AdamW) of timm's ViT-tiny on 196 tokens.

    .venv/bin/python benchmarks/masking.py [--rounds 10 --batch-size 256 --step-batch-size 32 --threads 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from typing import Callable

import torch
from jepa_platform.domain.tokens import TokenGrid
from jepa_platform.masking import (
    MultiBlockMaskingConfig,
    SpanMaskingConfig,
    TubeMaskingConfig,
    build_masking,
)
from jepa_platform.masking.blocks import plane_size

GOAL_2D = 50.0  # the project's target speed-up of the engine over the loop on the 2-D case


def randint(high: int, generator: torch.Generator) -> int:
    """One integer in ``[0, high)``."""
    return int(torch.randint(0, high, (1,), generator=generator))


def uniform(low: float, high: float, generator: torch.Generator) -> float:
    return low + (high - low) * float(torch.rand(1, generator=generator))


def multiblock_loop(cfg: MultiBlockMaskingConfig, shape: tuple[int, int], batch_size: int, generator: torch.Generator):
    """I-JEPA's multi-block collator, one sample at a time."""
    height, width = shape
    target_h, target_w = plane_size(
        uniform(*cfg.target_scale, generator), uniform(*cfg.target_aspect, generator), height, width
    )
    context_h, context_w = plane_size(
        uniform(*cfg.context_scale, generator), uniform(*cfg.context_aspect, generator), height, width
    )

    def block(h: int, w: int, allowed: torch.Tensor | None, min_keep: int) -> torch.Tensor:
        for _ in range(20):  # rejection: draw again while the block keeps too few tokens
            top, left = randint(height - h + 1, generator), randint(width - w + 1, generator)
            mask = torch.zeros(height, width, dtype=torch.bool)
            mask[top : top + h, left : left + w] = True
            if allowed is not None:
                mask &= allowed
            kept = torch.nonzero(mask.flatten()).squeeze(1)
            if len(kept) >= min_keep:
                return kept
        return torch.nonzero(allowed.flatten()).squeeze(1)  # give up the block: whatever is allowed

    contexts, targets = [], []
    for _ in range(batch_size):
        allowed = torch.ones(height, width, dtype=torch.bool)
        blocks = []
        for _ in range(cfg.num_blocks):
            kept = block(target_h, target_w, None, 1)
            allowed.view(-1)[kept] = False
            blocks.append(kept)
        targets.append(blocks)
        contexts.append(block(context_h, context_w, allowed, cfg.min_context))
    shortest = min(len(c) for c in contexts)
    return torch.stack([c[:shortest] for c in contexts]), torch.stack([torch.stack(blocks) for blocks in targets])


def spans_loop(cfg: SpanMaskingConfig, n: int, batch_size: int, generator: torch.Generator):
    """ECG-JEPA's contiguous spans, one sample at a time: random span lengths and gaps, then index lists."""
    keep = uniform(*cfg.keep_ratio, generator)
    total = min(max(round((1 - keep) * n), cfg.num_spans * cfg.min_block), n - cfg.min_context)

    def composition(amount: int, parts: int) -> list[int]:
        cuts = sorted(randint(amount + 1, generator) for _ in range(parts - 1))
        return [b - a for a, b in zip([0, *cuts], [*cuts, amount])]

    contexts, targets = [], []
    for _ in range(batch_size):
        lengths = [cfg.min_block + extra for extra in composition(total - cfg.num_spans * cfg.min_block, cfg.num_spans)]
        gaps = composition(n - total, cfg.num_spans + 1)
        is_target, position = [False] * n, 0
        for gap, length in zip(gaps, lengths):
            position += gap
            is_target[position : position + length] = [True] * length
            position += length
        targets.append([i for i in range(n) if is_target[i]])
        contexts.append([i for i in range(n) if not is_target[i]])
    return torch.tensor(contexts), torch.tensor(targets).unsqueeze(1)


def tubes_loop(cfg: TubeMaskingConfig, shape: tuple[int, int, int], batch_size: int, generator: torch.Generator):
    """V-JEPA's 3-D multi-block collator, one sample at a time."""
    duration, height, width = shape
    sizes = []
    for tube in cfg.generators:
        t = min(max(round(uniform(*tube.temporal_scale, generator) * duration), 1), duration)
        h, w = plane_size(uniform(*tube.spatial_scale, generator), uniform(*tube.aspect, generator), height, width)
        sizes.append((tube.num_blocks, t, h, w))
    contexts, targets = [], []
    for _ in range(batch_size):
        masked = torch.zeros(shape, dtype=torch.bool)
        for count, t, h, w in sizes:
            for _ in range(count):
                start = randint(duration - t + 1, generator)
                top, left = randint(height - h + 1, generator), randint(width - w + 1, generator)
                masked[start : start + t, top : top + h, left : left + w] = True
        targets.append(torch.nonzero(masked.flatten()).squeeze(1))
        contexts.append(torch.nonzero(~masked.flatten()).squeeze(1))

    def cut(rows: list[torch.Tensor]) -> torch.Tensor:
        shortest = min(len(row) for row in rows)
        return torch.stack([row[:shortest] for row in rows])

    return cut(contexts), cut(targets).unsqueeze(1)


def seconds(call: Callable[[], object], repeats: int = 1) -> float:
    """Mean wall time of ``call`` over ``repeats`` calls."""
    start = time.perf_counter()
    for _ in range(repeats):
        call()
    return (time.perf_counter() - start) / repeats


def compare(engine: Callable[[], object], loop: Callable[[], object], rounds: int) -> tuple[float, float]:
    """Median seconds per batch of each side; the sides alternate round by round, after one warm-up call each."""
    engine(), loop()
    engine_times, loop_times = [], []
    for _ in range(rounds):
        loop_times.append(seconds(loop))
        engine_times.append(seconds(engine, repeats=10))
    return statistics.median(engine_times), statistics.median(loop_times)


def vit_tiny_step_seconds(batch_size: int, steps: int) -> float:
    """Median time of a ViT-tiny (timm, 196 tokens) forward + backward + AdamW step on random images."""
    import timm

    model = timm.create_model("vit_tiny_patch16_224", num_classes=10)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    images, labels = torch.randn(batch_size, 3, 224, 224), torch.randint(0, 10, (batch_size,))

    def step() -> None:
        loss = torch.nn.functional.cross_entropy(model(images), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    step()
    return statistics.median(seconds(step) for _ in range(steps))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=10, help="alternating rounds per case (default 10)")
    parser.add_argument("--batch-size", type=int, default=256, help="masks per batch (default 256)")
    parser.add_argument("--step-batch-size", type=int, default=32, help="batch of the ViT-tiny step (default 32)")
    parser.add_argument("--step-repeats", type=int, default=2, help="timed ViT-tiny steps (default 2)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    threads = f"{args.threads} thread{'s' if args.threads > 1 else ''}"
    g = torch.Generator().manual_seed(0)
    batch = args.batch_size

    multiblock, spans, tubes = MultiBlockMaskingConfig(), SpanMaskingConfig(), TubeMaskingConfig()
    cases = [
        ("2-D multi-block (I-JEPA)", TokenGrid((14, 14)), multiblock,
         lambda: multiblock_loop(multiblock, (14, 14), batch, g)),
        ("1-D spans (ECG-JEPA)", TokenGrid((200,)), spans, lambda: spans_loop(spans, 200, batch, g)),
        ("3-D tubes (V-JEPA)", TokenGrid((8, 14, 14)), tubes, lambda: tubes_loop(tubes, (8, 14, 14), batch, g)),
    ]
    print(f"# Masking engine vs per-sample loop ({platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, torch {torch.__version__} on {threads}, "
          f"load average {os.getloadavg()[0]:.2f})\n")
    print("| case | grid | batch | engine ms/batch | loop ms/batch | engine masks/s | loop masks/s | speed-up |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    speedups, multiblock_seconds = {}, {}
    for name, grid, config, loop in cases:
        strategy = build_masking(config)
        engine_s, loop_s = compare(lambda: strategy.sample(grid, batch, g), loop, args.rounds)
        speedups[name] = loop_s / engine_s
        shape = "×".join(map(str, grid.shape))
        print(f"| {name} | {shape} | {batch} | {engine_s * 1e3:.2f} | {loop_s * 1e3:.1f} | "
              f"{batch / engine_s:,.0f} | {batch / loop_s:,.0f} | {speedups[name]:.0f}× |")
    goal = "meets" if speedups[cases[0][0]] >= GOAL_2D else "misses"
    print(f"\n2-D speed-up {speedups[cases[0][0]]:.1f}× ({goal} the goal of >= {GOAL_2D:.0f}×).")

    small = args.step_batch_size
    strategy = build_masking(multiblock)
    for size in sorted({small, batch}):
        multiblock_seconds[size] = statistics.median(
            seconds(lambda: strategy.sample(TokenGrid((14, 14)), size, g), repeats=20) for _ in range(3)
        )
    step_s = vit_tiny_step_seconds(small, args.step_repeats)
    share = multiblock_seconds[small] / step_s
    print("\n| ViT-tiny step (timm, 196 tokens, fwd + bwd + AdamW) | batch | step ms | multi-block masks ms | share |")
    print("|---|---:|---:|---:|---:|")
    print(f"| CPU, {threads} | {small} | {step_s * 1e3:.0f} | {multiblock_seconds[small] * 1e3:.2f} | "
          f"{share:.3%} |")
    print(f"\nAt batch {batch} the masks take {multiblock_seconds[batch] * 1e3:.2f} ms per step. "
          f"Load average at the end: {os.getloadavg()[0]:.2f}.")


if __name__ == "__main__":
    main()
