"""Per-step schedules: learning rate (warmup + cosine), weight decay (cosine), EMA momentum (linear)."""

from __future__ import annotations

import math


def cosine(start: float, end: float, progress: float) -> float:
    """Cosine interpolation from ``start`` (progress 0) to ``end`` (progress 1)."""
    progress = min(max(progress, 0.0), 1.0)
    return end + (start - end) * 0.5 * (1.0 + math.cos(math.pi * progress))


def linear(start: float, end: float, progress: float) -> float:
    progress = min(max(progress, 0.0), 1.0)
    return start + (end - start) * progress


def warmup_cosine(step: int, total: int, warmup: int, start: float, peak: float, final: float) -> float:
    """Linear warmup ``start -> peak`` over ``warmup`` steps, then cosine ``peak -> final``."""
    if step < warmup:
        return linear(start, peak, step / warmup)
    return cosine(peak, final, (step - warmup) / max(1, total - warmup))
