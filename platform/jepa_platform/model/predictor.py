"""The predictor: a narrow transformer that predicts the target tokens' embeddings from the context."""

from __future__ import annotations

import torch
from timm.layers import trunc_normal_
from torch import nn

from ..domain.tokens import TokenGrid
from ..masking import Masks
from .config import ModelConfig
from .encoder import TransformerStack, init_weights
from .posembed import PositionEmbedding


class Predictor(nn.Module):
    """Narrow transformer predicting target-token embeddings from the context.

    Each of the K target blocks is predicted in its own pass (the context
    repeated K times), from a shared learned mask token plus the target's
    positional embedding (plus, when given, a domain's conditioning of each
    target, e.g. the actions between context and target). Its output goes through one linear head per kind
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
            width, config.predictor_depth, config.predictor_heads, config.mlp_ratio, config.qkv_bias, 0.0,
            config.activation_checkpointing,
        )
        self.proj_out = nn.Linear(width, config.embed_dim) if latent else None
        self.proj_domain = nn.Linear(width, domain_dim) if domain_dim is not None else None
        init_weights(self.proj_in)
        for head in (self.proj_out, self.proj_domain):
            if head is not None:
                init_weights(head)

    def features(self, context: torch.Tensor, masks: Masks, condition: torch.Tensor | None = None) -> torch.Tensor:
        """``B × Nc × D`` context embeddings -> ``K × B × Nt × width`` predictor outputs before the heads;
        ``condition`` (``K × B × Nt × width``) is added to the target queries."""
        batch, num_targets, target_len = masks.targets.shape
        x = self.proj_in(context) + self.pos_embed(masks.context).to(context.dtype)
        x = x.repeat(num_targets, 1, 1)
        targets = masks.targets.transpose(0, 1).reshape(num_targets * batch, target_len)
        queries = self.mask_token.to(x.dtype) + self.pos_embed(targets).to(x.dtype)
        if condition is not None:
            queries = queries + condition.reshape(num_targets * batch, target_len, -1).to(x.dtype)
        tokens = torch.cat([x, queries], dim=1)
        torch._dynamo.maybe_mark_dynamic(tokens, 1)  # a compiled stack: one graph for every mask size
        out = self.stack(tokens)[:, -target_len:]
        return out.reshape(num_targets, batch, target_len, -1)

    def forward(
        self, context: torch.Tensor, masks: Masks, condition: torch.Tensor | None = None
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """``B × Nc × D`` context embeddings -> ``K × B × Nt × D`` latent and ``K × B × Nt × Dt`` domain
        predictions (``None`` for a kind of target the predictor has no head for); ``condition`` as in
        :meth:`features`."""
        out = self.features(context, masks, condition)
        latent = self.proj_out(out) if self.proj_out is not None else None
        return latent, self.proj_domain(out) if self.proj_domain is not None else None
