"""Observation tokens over time, and the action-chunk regression added to the JEPA loss in pretraining.

One token per time step: the step's normalized low-dimensional observation
vector (every key, concatenated) through a linear layer. With camera keys, each
step also has patch tokens per camera (frames resized to ``image_size``, a
strided convolution per camera), on a ``time × tokens-per-step`` grid whose
rows are steps: the state token first, then each camera's patches. Steps past
the end of a short episode are padding (``obs_valid``). The masking engine's
``future_chunks`` strategy takes consecutive steps as the context (the past)
and the next chunks of steps as targets (future observations), whole steps.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from jepa_platform.domain import AuxiliaryLoss, TokenBatch, TokenGrid, Tokenizer
from torch import nn


class StepTokenizer(Tokenizer):
    """``B × W × F`` observations (and ``B × W × H × W × C`` uint8 frames per camera) -> tokens.

    Without cameras: ``B × W × D`` on a 1-D time grid. With them: ``B × (W · P) × D`` on a ``W × P`` grid,
    ``P = 1 + cameras · (image_size / patch_size)²`` tokens per step.

    Args:
        obs_dim: Width of the concatenated observation vector.
        window: Steps per sample.
        embed_dim: Token width.
        cameras: Channels of each camera key (read from ``image/<key>``), in token order.
        image_size: Side the frames are resized to (bilinear, antialiased).
        patch_size: Side of a square patch.
    """

    def __init__(
        self, obs_dim: int, window: int, embed_dim: int, cameras: dict[str, int] | None = None,
        image_size: int = 64, patch_size: int = 16,
    ) -> None:
        super().__init__()
        self.embed_dim, self.image_size = embed_dim, image_size
        self.cameras = list(cameras or {})
        self.per_step = 1 + len(self.cameras) * (image_size // patch_size) ** 2
        self.grid = (
            TokenGrid((window, self.per_step), axis_names=("time", "patch")) if self.cameras
            else TokenGrid((window,), axis_names=("time",))
        )
        self.proj = nn.Linear(obs_dim, embed_dim)
        self.patches = nn.ModuleList(
            nn.Conv2d(channels, embed_dim, patch_size, stride=patch_size) for channels in (cameras or {}).values()
        )

    def valid_mask(self, batch: dict[str, Any]) -> torch.Tensor:
        return batch["obs_valid"].repeat_interleave(self.per_step, dim=1)

    def frames(self, frames: torch.Tensor) -> torch.Tensor:
        """``N × H × W × C`` uint8 -> ``N × C × image_size × image_size`` floats in [0, 1]."""
        images = frames.permute(0, 3, 1, 2).to(self.proj.weight.dtype) / 255
        if images.shape[-2:] != (self.image_size, self.image_size):
            images = F.interpolate(images, size=(self.image_size,) * 2, mode="bilinear", antialias=True)
        return images

    def forward(self, batch: dict[str, Any]) -> TokenBatch:
        state = self.proj(batch["obs"].to(self.proj.weight.dtype))  # B × W × D
        if not self.cameras:
            return TokenBatch(state, batch["obs_valid"])
        tokens = [state.unsqueeze(2)]
        for key, embed in zip(self.cameras, self.patches):
            frames = batch[f"image/{key}"]  # B × W × H × W × C
            patches = embed(self.frames(frames.flatten(0, 1))).flatten(2).transpose(1, 2)  # (B · W) × P_k × D
            tokens.append(patches.reshape(*state.shape[:2], -1, self.embed_dim))
        return TokenBatch(torch.cat(tokens, dim=2).flatten(1, 2), self.valid_mask(batch))


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
    context step, MSE on normalized actions over the chunk's steps inside the episode, times ``weight``.

    With ``per_step`` tokens per step (cameras), the head reads the latest step's state token."""

    def __init__(self, embed_dim: int, chunk: int, action_dim: int, weight: float, per_step: int = 1) -> None:
        super().__init__()
        self.head = ChunkHead(embed_dim, chunk, action_dim)
        self.chunk, self.weight, self.per_step = chunk, weight, per_step

    def forward(self, context: torch.Tensor, context_index: torch.Tensor, batch: dict[str, Any]) -> torch.Tensor:
        step = context_index.max(dim=1, keepdim=True).values // self.per_step  # B × 1: the context's latest step
        last_slot = (context_index == step * self.per_step).int().argmax(dim=1)  # its state token
        rows = step + torch.arange(self.chunk, device=step.device)  # B × chunk into the window's actions
        actions = batch["actions"].gather(1, rows.unsqueeze(-1).expand(-1, -1, batch["actions"].shape[2]))
        valid = batch["action_valid"].gather(1, rows).to(actions.dtype)
        predicted = self.head(context, last_slot).float()
        errors = F.mse_loss(predicted, actions.float(), reduction="none").mean(dim=2)
        return self.weight * (errors * valid).sum() / valid.sum().clamp(min=1)
