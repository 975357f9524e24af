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


class TrainingSchedule:
    """The learning-rate factor (warmup + cosine) and the progress (0 -> 1) that drives the other schedules.

    A run resumed with another ``max_steps`` never jumps: :meth:`retarget` at
    step ``s`` keeps the progress and the learning-rate factor reached at ``s``
    and continues from there to the new end, the learning rate on a new cosine
    tail from its current value down to ``final``, the progress linearly to 1.
    A finished run (progress 1, learning rate at ``final``) extended this way
    trains on at its final values.
    """

    def __init__(self, total: int, warmup: int, start: float, peak: float, final: float) -> None:
        self.total, self.warmup, self.start, self.peak, self.final = total, warmup, start, peak, final
        self.anchor: tuple[int, float, float] | None = None  # (step, progress, lr factor) of the last retarget

    def progress(self, step: int) -> float:
        if self.anchor is None:
            return min(step / max(1, self.total), 1.0)
        at, reached, _ = self.anchor
        return linear(reached, 1.0, (step - at) / max(1, self.total - at))

    def lr_factor(self, step: int) -> float:
        if self.anchor is None:
            return warmup_cosine(step, self.total, self.warmup, self.start, self.peak, self.final)
        at, _, factor = self.anchor
        return cosine(factor, self.final, (step - at) / max(1, self.total - at))

    def retarget(self, step: int, total: int) -> None:
        """Continue from ``step`` to a new end ``total`` without a jump."""
        self.anchor = (step, self.progress(step), self.lr_factor(step))
        self.total = total

    def state_dict(self) -> dict[str, object]:
        return {"total": self.total, "anchor": self.anchor}

    def load_state_dict(self, state: dict[str, object]) -> None:
        self.total = int(state["total"])  # type: ignore[call-overload]
        anchor = state["anchor"]
        self.anchor = None if anchor is None else tuple(anchor)  # type: ignore[assignment,arg-type]
