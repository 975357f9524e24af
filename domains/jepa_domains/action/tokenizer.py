"""Observation tokens over time, and the action-chunk regression added to the JEPA loss in pretraining.

One token per time step: the step's normalized low-dimensional observation
vector (every key, concatenated) through a linear layer. Steps past the end of
a short episode are padding (``obs_valid``). The masking engine's
``future_chunks`` strategy takes consecutive steps as the context (the past)
and the next chunks of steps as targets (future observations).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from jepa_platform.domain import AuxiliaryLoss, TokenBatch, TokenGrid, Tokenizer
from torch import nn


class StepTokenizer(Tokenizer):
    """``B × W × F`` observations -> ``B × W × D`` tokens on a 1-D time grid.

    Args:
        obs_dim: Width of the concatenated observation vector.
        window: Steps per sample.
        embed_dim: Token width.
    """

    def __init__(self, obs_dim: int, window: int, embed_dim: int) -> None:
        super().__init__()
        self.embed_dim = embed_dim
        self.grid = TokenGrid((window,), axis_names=("time",))
        self.proj = nn.Linear(obs_dim, embed_dim)

    def valid_mask(self, batch: dict[str, Any]) -> torch.Tensor:
        return batch["obs_valid"]

    def forward(self, batch: dict[str, Any]) -> TokenBatch:
        return TokenBatch(self.proj(batch["obs"].to(self.proj.weight.dtype)), batch["obs_valid"])


class ChunkHead(nn.Module):
    """Context tokens -> the action chunk of the last context step: the last token beside the mean of all of
    them, a GELU MLP, ``chunk × action_dim`` outputs."""

    def __init__(self, embed_dim: int, chunk: int, action_dim: int) -> None:
        super().__init__()
        self.chunk, self.action_dim = chunk, action_dim
        self.norm = nn.LayerNorm(2 * embed_dim)
        self.mlp = nn.Sequential(
            nn.Linear(2 * embed_dim, embed_dim), nn.GELU(), nn.Linear(embed_dim, chunk * action_dim)
        )

    def forward(self, tokens: torch.Tensor, last: torch.Tensor) -> torch.Tensor:
        """``B × chunk × A`` from ``B × N × D`` tokens and the ``B`` positions of each sample's last step."""
        final = tokens.gather(1, last.view(-1, 1, 1).expand(-1, 1, tokens.shape[2]))[:, 0]
        features = self.norm(torch.cat([final, tokens.mean(dim=1)], dim=1))
        return self.mlp(features).view(-1, self.chunk, self.action_dim)


class ActionChunkLoss(AuxiliaryLoss):
    """ACT-JEPA's second objective: from the context (the past), regress the action chunk that starts at the last
    context step, MSE on normalized actions over the chunk's steps inside the episode, times ``weight``."""

    def __init__(self, embed_dim: int, chunk: int, action_dim: int, weight: float) -> None:
        super().__init__()
        self.head = ChunkHead(embed_dim, chunk, action_dim)
        self.chunk, self.weight = chunk, weight

    def forward(self, context: torch.Tensor, context_index: torch.Tensor, batch: dict[str, Any]) -> torch.Tensor:
        last_slot = context_index.argmax(dim=1)  # the context's latest step
        step = context_index.gather(1, last_slot.unsqueeze(1))  # B × 1, its position in the window
        rows = step + torch.arange(self.chunk, device=step.device)  # B × chunk into the window's actions
        actions = batch["actions"].gather(1, rows.unsqueeze(-1).expand(-1, -1, batch["actions"].shape[2]))
        valid = batch["action_valid"].gather(1, rows).to(actions.dtype)
        predicted = self.head(context, last_slot).float()
        errors = F.mse_loss(predicted, actions.float(), reduction="none").mean(dim=2)
        return self.weight * (errors * valid).sum() / valid.sum().clamp(min=1)
