"""Heads on encoder tokens: linear or MLP on the pooled valid tokens (the encoder's ``model.pooling``: mean,
mean and standard deviation, or maximum), attentive pooling, or an MLP on the last valid token (tokens in time
order).

The attentive head is V-JEPA's attentive probe: one learned query
cross-attends to the tokens, a block with an MLP of ratio 4 refines it, and
a linear layer maps it to the outputs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from timm.layers import Mlp, trunc_normal_
from torch import nn

from ..model.config import Pooling, pooled_width
from ..model.encoder import init_weights, pooled
from .choices import HeadKind


class LinearHead(nn.Module):
    """Pooled valid tokens, standardized by a BatchNorm without affine parameters (as MAE's
    linear probe: still a linear classifier), then one linear layer."""

    def __init__(self, dim: int, outputs: int, pooling: Pooling = "mean") -> None:
        super().__init__()
        self.pooling, width = pooling, pooled_width(dim, pooling)
        self.norm = nn.BatchNorm1d(width, affine=False)
        self.linear = nn.Linear(width, outputs)
        trunc_normal_(self.linear.weight, std=0.02)
        nn.init.zeros_(self.linear.bias)

    def forward(self, tokens: torch.Tensor, valid: torch.Tensor | None) -> torch.Tensor:
        return self.linear(self.norm(pooled(tokens, valid, self.pooling)))


class MLPHead(nn.Module):
    """Pooled valid tokens, standardized as in :class:`LinearHead`, then an MLP with one GELU hidden layer.

    Args:
        dim: Token width.
        outputs: Number of logits.
        pooling: How the tokens are pooled (:func:`~jepa_platform.model.encoder.pooled`).
        mlp_ratio: Hidden width over ``dim``.
        dropout: Dropout after the hidden layer.
    """

    def __init__(
        self, dim: int, outputs: int, pooling: Pooling = "mean", mlp_ratio: float = 4.0, dropout: float = 0.1
    ) -> None:
        super().__init__()
        self.pooling, width = pooling, pooled_width(dim, pooling)
        self.norm = nn.BatchNorm1d(width, affine=False)
        self.mlp = Mlp(width, int(dim * mlp_ratio), outputs, drop=dropout)
        self.mlp.apply(init_weights)

    def forward(self, tokens: torch.Tensor, valid: torch.Tensor | None) -> torch.Tensor:
        return self.mlp(self.norm(pooled(tokens, valid, self.pooling)))


class AttentiveHead(nn.Module):
    """One learned query, cross-attention to the valid tokens, an MLP block, a linear layer.

    Args:
        dim: Token width.
        outputs: Number of logits.
        num_heads: Attention heads.
        mlp_ratio: Hidden width of the MLP over ``dim``.
    """

    def __init__(self, dim: int, outputs: int, num_heads: int, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"width {dim} is not divisible by {num_heads} heads")
        self.num_heads = num_heads
        self.query = nn.Parameter(torch.zeros(1, 1, dim))
        self.norm_tokens = nn.LayerNorm(dim)
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm_mlp = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.linear = nn.Linear(dim, outputs)
        trunc_normal_(self.query, std=0.02)
        self.apply(init_weights)

    def forward(self, tokens: torch.Tensor, valid: torch.Tensor | None) -> torch.Tensor:
        batch, length, dim = tokens.shape
        heads = self.num_heads
        x = self.norm_tokens(tokens)
        q = self.q(self.query).reshape(1, 1, heads, dim // heads).transpose(1, 2).expand(batch, -1, -1, -1)
        k, v = self.kv(x).reshape(batch, length, 2, heads, dim // heads).permute(2, 0, 3, 1, 4)
        mask = None if valid is None else valid[:, None, None, :]
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # B × heads × 1 × dim/heads
        pooled = self.query + self.proj(attended.transpose(1, 2).reshape(batch, 1, dim))
        pooled = pooled + self.mlp(self.norm_mlp(pooled))
        return self.linear(pooled[:, 0])


def last_valid(tokens: torch.Tensor, valid: torch.Tensor | None) -> torch.Tensor:
    """Each sample's last valid token, ``B × N × D -> B × D`` (the last token when ``valid`` is ``None``)."""
    if valid is None:
        return tokens[:, -1]
    positions = torch.arange(1, tokens.shape[1] + 1, device=tokens.device)
    last = (valid.to(positions.dtype) * positions).argmax(dim=1)
    return tokens[torch.arange(len(tokens), device=tokens.device), last]


class LastTokenHead(nn.Module):
    """The last valid token (tokens in time order: the latest step), a LayerNorm, an MLP with one GELU hidden
    layer of ``mlp_ratio × dim``."""

    def __init__(self, dim: int, outputs: int, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), outputs)
        self.mlp.apply(init_weights)

    def forward(self, tokens: torch.Tensor, valid: torch.Tensor | None) -> torch.Tensor:
        return self.mlp(self.norm(last_valid(tokens, valid)))


class TokenHead(nn.Module):
    """Per-token logits of a dense task: each token standardized by a BatchNorm without affine parameters (over
    the batch's tokens), then one linear layer (``linear``) or an MLP with one GELU hidden layer (``mlp``)."""

    def __init__(self, dim: int, outputs: int, mlp: bool) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(dim, affine=False)
        self.out = Mlp(dim, dim * 4, outputs) if mlp else nn.Linear(dim, outputs)
        self.apply(init_weights)

    def forward(self, tokens: torch.Tensor, valid: torch.Tensor | None) -> torch.Tensor:
        """``B × N × dim`` tokens -> ``B × N × outputs`` logits (``valid`` is not needed: every token is scored)."""
        return self.out(self.norm(tokens.transpose(1, 2)).transpose(1, 2))


def build_head(
    kind: HeadKind, dim: int, outputs: int, num_heads: int, per_token: bool = False, pooling: Pooling = "mean"
) -> nn.Module:
    """A ``linear``, ``mlp``, ``attentive`` or ``last`` head mapping ``B × N × dim`` tokens to ``B × outputs``
    logits (``linear`` and ``mlp`` on the tokens pooled by ``pooling``); ``per_token`` (dense tasks): a
    ``linear`` or ``mlp`` head giving ``B × N × outputs``."""
    if per_token:
        if kind in ("attentive", "last"):
            raise ValueError(f"a dense (per-token) task takes a linear or mlp head, not {kind}")
        return TokenHead(dim, outputs, mlp=kind == "mlp")
    if kind == "linear":
        return LinearHead(dim, outputs, pooling)
    if kind == "mlp":
        return MLPHead(dim, outputs, pooling)
    if kind == "last":
        return LastTokenHead(dim, outputs)
    return AttentiveHead(dim, outputs, num_heads)
