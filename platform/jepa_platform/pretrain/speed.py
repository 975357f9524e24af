"""How long a pretraining step takes without a GPU, said in one line before training when it is slow.

Recipes for real data are sized for GPUs: on a laptop's CPU, ECG's default ViT-S
takes many seconds a step, and a short try would take minutes with nothing to
say why. The estimate is the recipe's model FLOPs of one step (as
:meth:`~.module.JEPAModule.flops_per_sample` counts them, without building the
networks) over the speed of this machine: a float32 matrix product timed in
milliseconds, times :data:`EFFICIENCY`, the share of it a whole training
step reaches. Above :data:`SLOW_STEP_SECONDS` the line gives the expected
seconds a step and a smaller setup to try (the demo's model and the domain's
:meth:`~jepa_platform.domain.DomainPlugin.quick_data`) with its own estimate.
The demo recipes (no data path) never get the line: they are the small setup.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from ..config import deep_merge
from ..data.shards import ShardSet
from ..domain.registry import load_domain
from ..masking import build_masking
from .config import DEMO_DEFAULTS, Recipe, recipe_model
from .module import step_flops

SLOW_STEP_SECONDS = 1.0
"""Steps expected to take longer than this on the CPU get the line."""
EFFICIENCY = 0.1
"""The share of :func:`matmul_speed` a training step reaches: 0.05 to 0.15 measured on 2 CPU cores (ECG and EEG
near 0.14 with a ViT-S and 0.085 with the demo's model, SAR 0.05 with its gradient targets), so an estimate is
good to about a factor of two."""


def matmul_speed(size: int = 512, repeats: int = 10) -> float:
    """FLOP/s of a ``size`` x ``size`` float32 matrix product on this machine: the fastest of ``repeats`` timed
    products after a warm-up one (milliseconds in all; the fastest, as other processes may share the cores)."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        torch.mm(a, b)
        times.append(time.perf_counter() - start)
    return 2 * size**3 / min(times[1:])


def recipe_step_flops(recipe: Recipe) -> float:
    """Model FLOPs per sample of one training step of ``recipe``, without building its networks."""
    grid = load_domain(recipe.domain).build_tokenizer(recipe.data, recipe.model.embed_dim).grid
    return step_flops(recipe, grid, build_masking(recipe.masking))


def step_seconds(recipe: Recipe, batch_size: int, speed: float) -> float:
    """Expected seconds of one training step of ``batch_size`` samples on a machine of ``speed`` (matrix product
    FLOP/s, see :func:`matmul_speed`)."""
    return recipe_step_flops(recipe) * batch_size / (speed * EFFICIENCY)


def quick_overrides(recipe: Recipe) -> dict[str, Any]:
    """The smaller setup to suggest: the demo's model and the domain's quick ``data`` settings, less those that
    prepared shards fix or that the recipe has already."""
    plugin = load_domain(recipe.domain)
    shards = ShardSet.find(recipe.data.path) if isinstance(recipe.data.path, str) else None
    fixed = plugin.shard_settings(recipe.data) if shards is not None else {}
    current = recipe.data.model_dump()
    data = {k: v for k, v in plugin.quick_data(recipe.data).items() if k not in fixed and current.get(k) != v}
    return {"model": DEMO_DEFAULTS["model"], "data": data}


def quick_recipe(recipe: Recipe, overrides: dict[str, Any]) -> Recipe | None:
    """``recipe`` with ``overrides`` (its model replaced, not merged); ``None`` when they do not validate."""
    merged = deep_merge({**recipe.to_dict(), "model": {}}, overrides)
    try:
        return recipe_model(load_domain(recipe.domain)).model_validate(merged)
    except ValueError:
        return None


def flags(overrides: dict[str, Any]) -> str:
    """``--section.key value`` for each override."""
    return " ".join(f"--{section}.{key} {value}" for section, keys in overrides.items() for key, value in keys.items())


def slow_step_line(recipe: Recipe, batch_size: int, speed: float | None = None) -> str | None:
    """One line when a step of ``recipe`` at ``batch_size`` would be slow on this CPU, else ``None``.

    It suggests the smaller setup of :func:`quick_overrides` when that is at least twice as fast, else a batch
    size that would take about :data:`SLOW_STEP_SECONDS`.

    Args:
        recipe: The resolved recipe; the demo's (no data path) never gets a line.
        batch_size: Samples per step.
        speed: Matrix product FLOP/s of this CPU (``None``: :func:`matmul_speed`).
    """
    if recipe.data.path is None:
        return None
    speed = matmul_speed() if speed is None else speed
    seconds = step_seconds(recipe, batch_size, speed)
    if seconds <= SLOW_STEP_SECONDS:
        return None
    steps, model = recipe.trainer.max_steps, recipe.model
    line = (
        f"{recipe.domain}: no GPU found; a pretraining step of {batch_size} samples takes about {seconds:.1f} s on "
        f"this CPU ({model.preset}, width {model.embed_dim}, depth {model.depth}; {steps} step{'s' * (steps > 1)}: "
        f"about {duration(seconds * steps)})"
    )
    overrides = quick_overrides(recipe)
    quick = quick_recipe(recipe, overrides)
    if quick is None:  # the domain's quick data settings do not fit this recipe: the smaller model alone
        overrides = {"model": overrides["model"]}
        quick = quick_recipe(recipe, overrides)
    faster = None if quick is None else step_seconds(quick, batch_size, speed)
    if faster is not None and faster <= seconds / 2:
        return f"{line}; for a quick try: {flags(overrides)} (about {faster:.1f} s a step)"
    smaller = max(1, int(batch_size * SLOW_STEP_SECONDS / seconds))
    faster = seconds * smaller / batch_size
    return f"{line}; for a quick try: --trainer.batch_size {smaller} (about {faster:.1f} s a step)"


def duration(seconds: float) -> str:
    """``40 s``, ``12 min`` or ``3.5 h``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"
