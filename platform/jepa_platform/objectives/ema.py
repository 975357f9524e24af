"""The EMA teacher (I-JEPA, V-JEPA): a frozen copy of the encoder that follows it by exponential moving average.

Its layer-normed embeddings of the whole input are the latent targets; after
each optimizer step ``teacher <- m * teacher + (1 - m) * student``, with the
momentum ``m`` rising linearly from ``ema_momentum[0]`` to ``ema_momentum[1]``
over the run.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
import torch.nn.functional as F

from ..model import Encoder
from ..schedules import linear


class EMATeacher:
    """The teacher network (``network``, registered by the module that owns it), its schedule and its update.

    Args:
        student: The encoder the teacher copies and follows.
        momentum: ``(start, end)`` of the linear momentum schedule.
    """

    def __init__(self, student: Encoder, momentum: tuple[float, float]) -> None:
        self.network = copy.deepcopy(student).requires_grad_(False)
        self.start, self.end = momentum
        self._pairs: tuple[list[torch.Tensor], list[torch.Tensor]] | None = None

    def momentum(self, progress: float) -> float:
        """The momentum at ``progress`` (0 at the first step, 1 at ``max_steps``)."""
        return linear(self.start, self.end, progress)

    @torch.no_grad()
    def targets(self, batch: Any, valid: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(embeddings, targets)`` of the whole input, ``B × N × D`` each: the targets are layer-normed."""
        full = self.network.encode(self.network.embed_tokens(batch).tokens, valid=valid)
        return full, F.layer_norm(full, full.shape[-1:])

    @torch.no_grad()
    def update(self, student: Encoder, progress: float) -> None:
        """teacher <- m * teacher + (1 - m) * student, all parameters in one fused op."""
        if self._pairs is None:  # built after any sharding replaced the parameters
            self._pairs = (list(self.network.parameters()), list(student.parameters()))
        torch._foreach_lerp_(*self._pairs, 1.0 - self.momentum(progress))
