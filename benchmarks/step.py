"""Pretraining-step speed: the platform's Lightning path against a plain PyTorch loop, on CPU.

Both sides train the same ECG demo model (same initial weights, same first
batch, same per-step masks, AdamW groups, LR and weight-decay schedules,
gradient clipping and EMA teacher). The platform side runs ``Trainer.fit`` on
the demo data module; the plain side loops over one batch held in memory.
The sides alternate step by step (one plain step runs after each platform
step) so that both see the same machine load; the table reports each side's
median step time and samples/s over the steps after a warm-up.

    .venv/bin/python benchmarks/step.py [--rounds 3 --steps 40 --warmup 3 --batch-size 32 --threads 2]
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import lightning as L
import torch
import torch.nn.functional as F
from jepa_platform.data.datamodule import JEPADataModule
from jepa_platform.domain import cache_dir
from jepa_platform.domain.registry import load_domain
from jepa_platform.model import gather_tokens
from jepa_platform.pretrain.callbacks import SamplesPerSecond
from jepa_platform.pretrain.config import Recipe, resolve_recipe
from jepa_platform.pretrain.module import JEPAModule
from jepa_platform.runs.folder import quiet_library_chatter
from jepa_platform.schedules import cosine, linear

GOAL = 0.95  # the project's target for platform / plain throughput
PLATFORM, PLAIN = "platform (Trainer.fit)", "plain PyTorch loop"


def fresh_module(recipe: Recipe) -> JEPAModule:
    """The model with the initial weights every round and both sides share."""
    torch.manual_seed(recipe.seed)
    return JEPAModule(recipe.to_dict())


def plain_loss(module: JEPAModule, batch: dict[str, torch.Tensor], seed: int) -> torch.Tensor:
    """The JEPA loss written out from the module's parts (encoder, masking, predictor, teacher)."""
    _, valid, masks = module.prepare_batch(batch, seed)
    context = module.encoder.encode(module.encoder.embed_tokens(batch).tokens, keep=masks.context)
    prediction, _ = module.predictor(context, masks)  # latent predictions; the demo has no domain targets
    with torch.no_grad():
        target = module.teacher.encode(module.teacher.embed_tokens(batch).tokens, valid=valid)
        target = gather_tokens(F.layer_norm(target, target.shape[-1:]), masks.targets).transpose(0, 1)
    return module.loss_fn(prediction.float(), target.float())


def plain_steps(recipe: Recipe, batch: dict[str, torch.Tensor]) -> Iterator[torch.Tensor]:
    """A hand-written loop with the platform's optimizer, schedules, clipping and EMA; one step per ``next``."""
    module = fresh_module(recipe)
    configured = module.configure_optimizers()
    optimizer, scheduler = configured["optimizer"], configured["lr_scheduler"]["scheduler"]
    params = [p for group in optimizer.param_groups for p in group["params"]]
    student, teacher = list(module.encoder.parameters()), list(module.teacher.parameters())
    total, optim = recipe.trainer.max_steps, recipe.optim
    for step in range(total):
        decay = cosine(*optim.weight_decay, step / total)
        for group in optimizer.param_groups:
            if group["decays"]:
                group["weight_decay"] = decay
        loss = plain_loss(module, batch, recipe.seed * 1_000_003 + step)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if optim.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(params, optim.grad_clip)
        optimizer.step()
        scheduler.step()
        with torch.no_grad():  # the platform updates after the step counter moved on
            torch._foreach_lerp_(teacher, student, 1.0 - linear(*recipe.objective.ema_momentum, step / total))
        yield loss.detach()


class Interleave(L.Callback):
    """Runs one plain step after each platform step, timing both (A B A B at the step level).

    A platform step is timed from the end of the previous plain step to the end
    of its batch, so it holds one whole Lightning cycle: data loading, hooks,
    logging, optimizer and EMA update. Both sides see the same machine state.
    """

    def __init__(self, plain: Iterator[torch.Tensor]) -> None:
        self.plain = plain
        self.times: dict[str, list[float]] = {PLATFORM: [], PLAIN: []}
        self.first_losses: dict[str, float] = {}
        self._resumed: float | None = None

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        now = time.perf_counter()
        if self._resumed is not None:
            self.times[PLATFORM].append(now - self._resumed)
        loss = next(self.plain)
        self._resumed = time.perf_counter()
        self.times[PLAIN].append(self._resumed - now)
        if not self.first_losses:
            self.first_losses = {PLATFORM: float(outputs["loss"]), PLAIN: float(loss)}


def run_round(recipe: Recipe, datamodule: JEPADataModule, batch: dict[str, torch.Tensor]) -> Interleave:
    """``Trainer.fit`` as ``jepa-platform pretrain`` runs it (no logger, checkpoints or progress bar), interleaved."""
    interleave = Interleave(plain_steps(recipe, batch))
    trainer = L.Trainer(
        max_steps=recipe.trainer.max_steps,
        accelerator="cpu",
        devices=1,
        precision=recipe.trainer.precision,
        gradient_clip_val=recipe.optim.grad_clip,
        log_every_n_steps=recipe.trainer.log_every_n_steps,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        callbacks=[SamplesPerSecond(), interleave],
    )
    trainer.fit(fresh_module(recipe), datamodule=datamodule)
    return interleave


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=40, help="timed steps per round and side")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps before them")
    parser.add_argument("--rounds", type=int, default=3, help="Trainer.fit runs, each with fresh models")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--demo-records", type=int, default=240, help="size of the generated demo data set")
    parser.add_argument("--cache-dir", type=Path, help="keep the demo data here (default: a temporary folder)")
    args = parser.parse_args()
    if args.warmup < 1 or args.steps < 1 or args.rounds < 1:
        parser.error("--warmup, --steps and --rounds must be at least 1")
    return args


def table(per_round: dict[str, list[float]], pooled: dict[str, float], batch_size: int) -> str:
    lines = ["| side | median ms/step per round | median ms/step | samples/s |", "|---|---|---:|---:|"]
    for side, median in pooled.items():
        rounds = ", ".join(f"{1000 * value:.1f}" for value in per_round[side])
        lines.append(f"| {side} | {rounds} | {1000 * median:.1f} | {batch_size / median:.1f} |")
    return "\n".join(lines)


def benchmark(args: argparse.Namespace) -> None:
    overrides = {
        "objective": {"kind": "ema"},  # the EMA teacher's step, the heaviest of the demo's objectives
        "model": {"depth": 4},  # the core's demo model, as the recorded numbers were measured
        "trainer": {"batch_size": args.batch_size, "max_steps": args.warmup + args.steps},
        "data": {"demo_records": args.demo_records},
    }
    load = os.getloadavg()[0]  # other processes skew the timings; the header reports it
    recipe = resolve_recipe("ecg", overrides=overrides)
    datamodule = JEPADataModule(
        load_domain("ecg"), recipe.data, args.batch_size, recipe.trainer.num_workers, recipe.seed, cache_dir()
    )
    datamodule.prepare_data()
    datamodule.setup("fit")
    batch = next(iter(datamodule.train_dataloader()))  # the platform's first batch too
    per_round: dict[str, list[float]] = {PLATFORM: [], PLAIN: []}
    steps: dict[str, list[float]] = {PLATFORM: [], PLAIN: []}
    for _ in range(args.rounds):
        interleave = run_round(recipe, datamodule, batch)
        # The platform list starts at batch 1 (batch 0 has no start time), the plain one at step 0.
        timed = {PLATFORM: interleave.times[PLATFORM][args.warmup - 1 :], PLAIN: interleave.times[PLAIN][args.warmup :]}
        for side, values in timed.items():
            per_round[side].append(statistics.median(values))
            steps[side].extend(values)
    pooled = {side: statistics.median(values) for side, values in steps.items()}
    ratio = pooled[PLAIN] / pooled[PLATFORM]

    model, data, losses = recipe.model, recipe.data, interleave.first_losses
    print(
        f"\nECG demo model: {model.preset}, depth {model.depth}, predictor depth {model.predictor_depth}, "
        f"{data.window_size // data.patch_size} tokens ({data.sampling_rate} Hz, {data.patch_ms:g} ms patches), "
        f"batch {args.batch_size}; torch {torch.__version__}, {torch.get_num_threads()} threads, CPU "
        f"(load average {load:.2f} at start)\n"
        f"{args.rounds} rounds x {args.steps} timed steps after {args.warmup} warm-up steps, sides alternating "
        f"step by step; step-0 loss platform {losses[PLATFORM]:.6f}, plain {losses[PLAIN]:.6f}\n"
    )
    print(table(per_round, pooled, args.batch_size))
    verdict = "meets" if ratio >= GOAL else "misses"
    print(f"\nplatform / plain = {ratio:.3f} ({verdict} the goal of >= {GOAL})")


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    quiet_library_chatter()
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    cache = contextlib.nullcontext(str(args.cache_dir)) if args.cache_dir else tempfile.TemporaryDirectory()
    with cache as folder:
        os.environ["JEPA_PLATFORM_CACHE"] = folder  # read by jepa_platform.domain.cache_dir()
        benchmark(args)


if __name__ == "__main__":
    main()
