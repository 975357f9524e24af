"""The action-conditioned predictor (as in seq-JEPA): each target step's query also sees the actions taken
between the context and that step, so the encoder need not guess what the demonstrator will do."""

from __future__ import annotations

from typing import Any

import torch
from jepa_platform.domain import PredictorConditioning
from torch import nn


class ActionConditioning(PredictorConditioning):
    """A linear map of the actions from the context's latest step ``c`` up to the step before the target ``t``
    (``a_c .. a_{t-1}``, normalized; ``window - 1`` slots, zero from ``t`` on and outside the episode), added to
    the query of target step ``t``. A target at or before ``c`` gets the map of zeros (its bias). With
    ``per_step`` tokens per step (cameras), every token of a step gets its step's vector."""

    def __init__(self, window: int, action_dim: int, width: int, per_step: int = 1) -> None:
        super().__init__()
        self.span, self.per_step = window - 1, per_step
        self.proj = nn.Linear(self.span * action_dim, width)
        nn.init.trunc_normal_(self.proj.weight, std=0.02)
        nn.init.zeros_(self.proj.bias)

    def forward(self, batch: dict[str, Any], context: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        actions, valid = batch["actions"], batch["action_valid"]  # B × (window + chunk - 1) × A, B × ...
        latest = context.max(dim=1).values // self.per_step  # B: the context's latest step
        offsets = torch.arange(self.span, device=latest.device)
        rows = (latest[:, None] + offsets).clamp(max=actions.shape[1] - 1)  # B × span: a_c, a_{c+1}, ...
        taken = actions.gather(1, rows.unsqueeze(-1).expand(-1, -1, actions.shape[2]))
        taken = taken * valid.gather(1, rows).unsqueeze(-1).to(taken.dtype)  # B × span × A
        targets = targets.to(latest.device) // self.per_step  # B × K × Nt: each target token's step
        ahead = targets - latest[:, None, None]  # steps from c to each target
        before = offsets < ahead.unsqueeze(-1)  # B × K × Nt × span: a_{c+j} comes before the target
        between = taken[:, None, None] * before.unsqueeze(-1).to(taken.dtype)  # B × K × Nt × span × A
        return self.proj(between.flatten(-2).to(self.proj.weight.dtype)).transpose(0, 1)  # K × B × Nt × width
