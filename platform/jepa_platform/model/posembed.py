"""Positional embeddings computed from a token grid's geometry alone."""

from __future__ import annotations

import torch
from torch import nn

from ..domain.tokens import TokenGrid


def sincos_1d(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """Transformer sin-cos embedding of 1-D positions: ``len(positions) × dim`` (``dim`` even)."""
    if dim % 2:
        raise ValueError(f"sin-cos embedding needs an even dimension, got {dim}")
    freqs = 1.0 / 10000 ** (torch.arange(dim // 2, dtype=torch.float64) / (dim / 2))
    angles = positions.double()[:, None] * freqs[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=1).float()


def sincos_grid(shape: tuple[int, ...], dim: int) -> torch.Tensor:
    """Sin-cos embedding of every position of a grid, ``prod(shape) × dim``, row-major.

    Each axis gets an equal, even share of the channels (as I-JEPA does for 2-D);
    channels left over when ``dim`` is not divisible stay zero.
    """
    per_axis = 2 * (dim // (2 * len(shape)))
    if per_axis == 0:
        raise ValueError(f"embedding dimension {dim} is too small for a {len(shape)}-axis grid")
    coords = torch.meshgrid(*[torch.arange(n) for n in shape], indexing="ij")
    parts = [sincos_1d(c.reshape(-1), per_axis) for c in coords]
    emb = torch.cat(parts, dim=1)
    return nn.functional.pad(emb, (0, dim - emb.shape[1]))


class PositionEmbedding(nn.Module):
    """``N × dim`` positions for a grid: fixed sin-cos when ordered, learned for an unordered set."""

    def __init__(self, grid: TokenGrid, dim: int) -> None:
        super().__init__()
        if grid.ordered:
            self.register_buffer("table", sincos_grid(grid.shape, dim), persistent=False)
        else:
            self.table = nn.Parameter(torch.randn(grid.num_tokens, dim) * 0.02)

    def forward(self, index: torch.Tensor | None = None) -> torch.Tensor:
        """All positions (``N × dim``) or those at ``index`` (any shape ``→ shape × dim``)."""
        return self.table if index is None else self.table[index]
