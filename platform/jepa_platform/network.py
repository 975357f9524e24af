"""Transformer encoder and predictor built from timm blocks, with ViT presets and a FLOP count."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Literal

import torch
from pydantic import model_validator
from timm.layers import trunc_normal_
from timm.models.vision_transformer import Block
from torch import nn

from .masking import Masks
from .posembed import PositionEmbedding
from .schema import Section
from .tokens import TokenBatch, TokenGrid, Tokenizer

PRESETS: dict[str, dict[str, int]] = {
    "vit_tiny": dict(embed_dim=192, depth=12, num_heads=3, predictor_dim=96, predictor_depth=6, predictor_heads=3),
    "vit_small": dict(embed_dim=384, depth=12, num_heads=6, predictor_dim=192, predictor_depth=6, predictor_heads=6),
    "vit_base": dict(embed_dim=768, depth=12, num_heads=12, predictor_dim=384, predictor_depth=12, predictor_heads=12),
}


class ModelConfig(Section):
    """Encoder and predictor sizes: a preset, with any key given explicitly overriding it."""

    preset: Literal["vit_tiny", "vit_small", "vit_base"] = "vit_small"
    embed_dim: int
    depth: int
    num_heads: int
    predictor_dim: int
    predictor_depth: int
    predictor_heads: int
    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    drop_path: float = 0.0

    @model_validator(mode="before")
    @classmethod
    def _fill_from_preset(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        preset = data.get("preset", "vit_small")
        if preset not in PRESETS:
            return data  # the Literal check reports the bad name
        return {**PRESETS[preset], **{k: v for k, v in data.items() if v is not None}}

    @model_validator(mode="after")
    def _check_heads(self) -> "ModelConfig":
        for dim, heads, name in [
            (self.embed_dim, self.num_heads, "embed_dim/num_heads"),
            (self.predictor_dim, self.predictor_heads, "predictor_dim/predictor_heads"),
        ]:
            if heads < 1 or dim % heads:
                raise ValueError(f"{name}: {dim} is not divisible by {heads} heads")
        return self


class TransformerStack(nn.Module):
    """Pre-norm timm ViT blocks (scaled-dot-product attention) and a final LayerNorm."""

    def __init__(self, dim: int, depth: int, num_heads: int, mlp_ratio: float, qkv_bias: bool, drop_path: float):
        super().__init__()
        rates = torch.linspace(0, drop_path, depth).tolist()
        self.blocks = nn.ModuleList(
            Block(dim, num_heads, mlp_ratio, qkv_bias=qkv_bias, drop_path=rate) for rate in rates
        )
        self.norm = nn.LayerNorm(dim)
        self.apply(_init_weights)
        for layer, block in enumerate(self.blocks, start=1):  # depth-scaled residual init, as in I-JEPA
            block.attn.proj.weight.data.div_((2.0 * layer) ** 0.5)
            block.mlp.fc2.weight.data.div_((2.0 * layer) ** 0.5)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        for block in self.blocks:
            x = block(x, attn_mask=attn_mask)
        return self.norm(x)


def _init_weights(module: nn.Module) -> None:
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

    ``embed`` tokenizes a batch; ``encode`` runs the transformer on all tokens
    or on the subset ``keep``; ``forward`` does both for all tokens.
    """

    def __init__(self, tokenizer: Tokenizer, config: ModelConfig) -> None:
        super().__init__()
        if tokenizer.embed_dim != config.embed_dim:
            raise ValueError(f"tokenizer width {tokenizer.embed_dim} != model.embed_dim {config.embed_dim}")
        self.tokenizer = tokenizer
        self.pos_embed = PositionEmbedding(tokenizer.grid, config.embed_dim)
        self.stack = TransformerStack(
            config.embed_dim, config.depth, config.num_heads, config.mlp_ratio, config.qkv_bias, config.drop_path
        )

    @property
    def grid(self) -> TokenGrid:
        return self.tokenizer.grid

    def embed(self, batch: Any) -> TokenBatch:
        tokens = self.tokenizer(batch)
        return TokenBatch(tokens.tokens + self.pos_embed().to(tokens.tokens.dtype), tokens.valid)

    def encode(self, tokens: torch.Tensor, keep: torch.Tensor | None = None, valid: torch.Tensor | None = None):
        """Transformer over ``tokens`` (``B × N × D``), or over the ``B × n`` indices ``keep`` only."""
        if keep is not None:
            tokens = gather_tokens(tokens, keep)
            return self.stack(tokens)
        return self.stack(tokens, attn_mask=key_padding_mask(valid))

    def forward(self, batch: Any) -> torch.Tensor:
        """All tokens encoded, ``B × N × D`` (padding masked out of attention)."""
        embedded = self.embed(batch)
        valid = embedded.valid
        if valid is not None and bool(valid.all()):
            valid = None  # no mask: the fused attention kernels apply
        return self.encode(embedded.tokens, valid=valid)


def gather_tokens(tokens: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``tokens[b, index[b, ...]]`` for ``B × N × D`` tokens and ``B × ...`` indices."""
    flat = index.reshape(index.shape[0], -1)
    picked = torch.gather(tokens, 1, flat.unsqueeze(-1).expand(-1, -1, tokens.shape[-1]))
    return picked.reshape(*index.shape, tokens.shape[-1])


class TargetFunction(nn.Module, ABC):
    """A domain's hand-made regression target: per-token vectors computed from the raw batch on the device.

    Subclasses set ``self.dim`` (the target width ``Dt``) in ``__init__``; the
    tokens are those of the domain's tokenizer, in its grid order.
    """

    dim: int

    @abstractmethod
    def forward(self, batch: Any) -> torch.Tensor:
        """``B × N × Dt`` targets of a collated batch (no gradient flows through them)."""


class Predictor(nn.Module):
    """Narrow transformer predicting target-token embeddings from the context.

    Each of the K target blocks is predicted in its own pass (the context
    repeated K times), from a shared learned mask token plus the target's
    positional embedding. Its output goes through one linear head per kind
    of target: ``proj_out`` back to the encoder width (latent targets) and
    ``proj_domain`` to the width of a domain target function.

    Args:
        grid: The token grid.
        config: Model sizes.
        latent: Whether to predict latent (encoder-width) targets.
        domain_dim: Width of the domain targets; ``None`` when there are none.
    """

    def __init__(self, grid: TokenGrid, config: ModelConfig, latent: bool = True, domain_dim: int | None = None):
        super().__init__()
        if not latent and domain_dim is None:
            raise ValueError("the predictor needs latent targets, domain targets or both")
        width = config.predictor_dim
        self.proj_in = nn.Linear(config.embed_dim, width)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, width))
        trunc_normal_(self.mask_token, std=0.02)
        self.pos_embed = PositionEmbedding(grid, width)
        self.stack = TransformerStack(
            width, config.predictor_depth, config.predictor_heads, config.mlp_ratio, config.qkv_bias, 0.0
        )
        self.proj_out = nn.Linear(width, config.embed_dim) if latent else None
        self.proj_domain = nn.Linear(width, domain_dim) if domain_dim is not None else None
        _init_weights(self.proj_in)
        for head in (self.proj_out, self.proj_domain):
            if head is not None:
                _init_weights(head)

    def features(self, context: torch.Tensor, masks: Masks) -> torch.Tensor:
        """``B × Nc × D`` context embeddings -> ``K × B × Nt × width`` predictor outputs before the heads."""
        batch, num_targets, target_len = masks.targets.shape
        x = self.proj_in(context) + self.pos_embed(masks.context).to(context.dtype)
        x = x.repeat(num_targets, 1, 1)
        targets = masks.targets.transpose(0, 1).reshape(num_targets * batch, target_len)
        queries = self.mask_token.to(x.dtype) + self.pos_embed(targets).to(x.dtype)
        out = self.stack(torch.cat([x, queries], dim=1))[:, -target_len:]
        return out.reshape(num_targets, batch, target_len, -1)

    def forward(self, context: torch.Tensor, masks: Masks) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """``B × Nc × D`` context embeddings -> ``K × B × Nt × D`` latent and ``K × B × Nt × Dt`` domain
        predictions (``None`` for a kind of target the predictor has no head for)."""
        out = self.features(context, masks)
        latent = self.proj_out(out) if self.proj_out is not None else None
        return latent, self.proj_domain(out) if self.proj_domain is not None else None


def transformer_forward_flops(dim: int, depth: int, mlp_ratio: float, tokens: int) -> float:
    """Forward FLOPs of one sequence through a transformer stack (matmuls only)."""
    per_token = 2 * (4 * dim * dim + 2 * mlp_ratio * dim * dim)  # qkv + proj, then the MLP
    attention = 2 * 2 * tokens * tokens * dim  # scores and weighted sum
    return depth * (tokens * per_token + attention)


def jepa_step_flops(
    config: ModelConfig,
    num_tokens: int,
    context_len: int,
    num_targets: int,
    target_len: int,
    teacher: bool = True,
    full_pass: bool = True,
) -> float:
    """Training FLOPs per sample of one JEPA step (backward counted as twice the forward).

    Student encoder on the context (fwd + bwd), the targets' pass over all
    tokens (an EMA teacher: fwd only; without a teacher the encoder itself,
    fwd + bwd; none when ``full_pass`` is ``False``: domain targets alone),
    predictor on context + target queries for each of the K blocks.
    """
    student = 3 * transformer_forward_flops(config.embed_dim, config.depth, config.mlp_ratio, context_len)
    full = transformer_forward_flops(config.embed_dim, config.depth, config.mlp_ratio, num_tokens)
    targets = (full if teacher else 3 * full) if full_pass else 0.0
    predictor = 3 * num_targets * transformer_forward_flops(
        config.predictor_dim, config.predictor_depth, config.mlp_ratio, context_len + target_len
    )
    return student + targets + predictor
