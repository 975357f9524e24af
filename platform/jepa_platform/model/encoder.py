"""The encoder: a domain tokenizer, grid positional embeddings and a stack of timm ViT blocks."""

from __future__ import annotations

from typing import Any

import torch
from timm.layers import trunc_normal_
from timm.models.vision_transformer import Block
from torch import nn
from torch.utils.checkpoint import checkpoint

from ..domain.tokens import TokenBatch, TokenGrid, Tokenizer
from .config import ModelConfig, Pooling
from .posembed import PositionEmbedding


class TransformerStack(nn.Module):
    """Pre-norm timm ViT blocks (scaled-dot-product attention) and a final LayerNorm.

    With ``checkpointing``, a forward that records gradients keeps only each block's input
    and recomputes the block's activations during the backward pass (non-reentrant
    ``torch.utils.checkpoint``): activation memory of one block instead of all, for
    about one more forward pass of compute.
    """

    def __init__(
        self,
        dim: int,
        depth: int,
        num_heads: int,
        mlp_ratio: float,
        qkv_bias: bool,
        drop_path: float,
        checkpointing: bool = False,
    ):
        super().__init__()
        self.checkpointing = checkpointing
        rates = torch.linspace(0, drop_path, depth).tolist()
        self.blocks = nn.ModuleList(
            Block(dim, num_heads, mlp_ratio, qkv_bias=qkv_bias, drop_path=rate) for rate in rates
        )
        self.norm = nn.LayerNorm(dim)
        self.apply(init_weights)
        for layer, block in enumerate(self.blocks, start=1):  # depth-scaled residual init, as in I-JEPA
            block.attn.proj.weight.data.div_((2.0 * layer) ** 0.5)
            block.mlp.fc2.weight.data.div_((2.0 * layer) ** 0.5)
            # The blocks' dropouts have rate 0: identities spare the step three operator calls per block.
            block.attn.proj_drop = block.mlp.drop1 = block.mlp.drop2 = nn.Identity()

    @property
    def compiled(self) -> bool:
        """Whether ``compile()`` wrapped the stack's call in ``torch.compile``."""
        return self._compiled_call_impl is not None

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        recompute = self.checkpointing and torch.is_grad_enabled()
        for block in self.blocks:
            if recompute:
                x = checkpoint(block, x, attn_mask=attn_mask, use_reentrant=False)
            else:
                x = block(x, attn_mask=attn_mask)
        return self.norm(x)


def init_weights(module: nn.Module) -> None:
    """Truncated-normal (std 0.02) linear weights with zero biases, unit LayerNorms; use with ``module.apply``."""
    if isinstance(module, nn.Linear):
        trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def key_padding_mask(valid: torch.Tensor | None) -> torch.Tensor | None:
    """``B × 1 × 1 × N`` attention mask letting every query attend to valid keys only."""
    return None if valid is None else valid[:, None, None, :]


class Encoder(nn.Module):
    """A domain tokenizer, grid positional embeddings and a transformer stack.

    ``embed_tokens`` tokenizes a batch; ``encode`` runs the transformer on all tokens
    or on the subset ``keep``; ``forward`` does both for all tokens.
    """

    def __init__(self, tokenizer: Tokenizer, config: ModelConfig) -> None:
        super().__init__()
        if tokenizer.embed_dim != config.embed_dim:
            raise ValueError(f"tokenizer width {tokenizer.embed_dim} != model.embed_dim {config.embed_dim}")
        self.tokenizer = tokenizer
        self.pooling: Pooling = config.pooling
        self.pos_embed = PositionEmbedding(tokenizer.grid, config.embed_dim)
        self.stack = TransformerStack(
            config.embed_dim, config.depth, config.num_heads, config.mlp_ratio, config.qkv_bias, config.drop_path,
            config.activation_checkpointing,
        )

    @property
    def grid(self) -> TokenGrid:
        return self.tokenizer.grid

    def embed_tokens(self, batch: Any) -> TokenBatch:
        """The tokenizer's tokens of ``batch`` plus positional embeddings (before the transformer)."""
        tokens = self.tokenizer(batch)
        return TokenBatch(tokens.tokens + self.pos_embed().to(tokens.tokens.dtype), tokens.valid)

    def encode(self, tokens: torch.Tensor, keep: torch.Tensor | None = None, valid: torch.Tensor | None = None):
        """Transformer over ``tokens`` (``B × N × D``), or over the ``B × n`` indices ``keep`` only."""
        if keep is not None:
            tokens = gather_tokens(tokens, keep)
            torch._dynamo.maybe_mark_dynamic(tokens, 1)  # a compiled stack: one graph for every mask size
            return self.stack(tokens)
        return self.stack(tokens, attn_mask=key_padding_mask(valid))

    def forward(self, batch: Any) -> torch.Tensor:
        """All tokens encoded, ``B × N × D`` (padding masked out of attention)."""
        embedded = self.embed_tokens(batch)
        valid = embedded.valid
        if valid is not None and bool(valid.all()):
            valid = None  # no mask: the fused attention kernels apply
        return self.encode(embedded.tokens, valid=valid)


def gather_tokens(tokens: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``tokens[b, index[b, ...]]`` for ``B × N × D`` tokens and ``B × ...`` indices."""
    flat = index.reshape(index.shape[0], -1)
    picked = torch.gather(tokens, 1, flat.unsqueeze(-1).expand(-1, -1, tokens.shape[-1]))
    return picked.reshape(*index.shape, tokens.shape[-1])


def pooled(tokens: torch.Tensor, valid: torch.Tensor | None, pooling: Pooling = "mean") -> torch.Tensor:
    """Each sample's valid tokens (``B × N × D``) as one row: their mean (``B × D``), their mean and standard
    deviation concatenated (``mean_std``, ``B × 2D``) or each feature's maximum (``max``, ``B × D``).
    A sample without a valid token gives zeros."""
    if pooling == "max":
        if valid is None:
            return tokens.amax(dim=1)
        peak = tokens.masked_fill(~valid.unsqueeze(-1), float("-inf")).amax(dim=1)
        return torch.where(valid.any(dim=1, keepdim=True), peak, torch.zeros_like(peak))
    weights = torch.ones_like(tokens[..., :1]) if valid is None else valid.unsqueeze(-1).to(tokens.dtype)
    count = weights.sum(dim=1).clamp(min=1)
    mean = (tokens * weights).sum(dim=1) / count
    if pooling == "mean":
        return mean
    spread = ((tokens - mean.unsqueeze(1)).square() * weights).sum(dim=1) / count
    std = torch.where(spread > 0, spread.clamp(min=1e-12).sqrt(), torch.zeros_like(spread))  # finite gradient at 0
    return torch.cat([mean, std], dim=1)
