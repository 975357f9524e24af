"""One token per feature (T-JEPA): numeric x·w_j + b_j, categorical embeddings, learned missing and register tokens."""

from __future__ import annotations

from typing import Any

import torch
from jepa_platform.domain import TokenBatch, TokenGrid, Tokenizer
from torch import nn


class FeatureTokenizer(Tokenizer):
    """Feature tokens on an unordered set: ``reg_tokens`` learned tokens, then numeric, then categorical features.

    A missing value takes its feature's learned "missing" embedding instead of
    its value token. Feature identity is the core's learned position table of
    the unordered grid (one vector per token), which the predictor also uses.

    Args:
        num_numeric: Numeric features.
        cardinalities: Categories of each categorical feature, counting the "other" bucket (index 0).
        reg_tokens: Learned regularization tokens prepended to the features.
        embed_dim: Token width.
    """

    def __init__(self, num_numeric: int, cardinalities: list[int], reg_tokens: int, embed_dim: int) -> None:
        super().__init__()
        features = num_numeric + len(cardinalities)
        self.embed_dim = embed_dim
        self.grid = TokenGrid((reg_tokens + features,), ordered=False, axis_names=("feature",))
        self.weight = nn.Parameter(torch.randn(num_numeric, embed_dim) * 0.02)
        self.bias = nn.Parameter(torch.zeros(num_numeric, embed_dim))
        self.categories = nn.Embedding(max(1, sum(cardinalities)), embed_dim)
        nn.init.normal_(self.categories.weight, std=0.02)
        offsets = torch.tensor([0, *cardinalities], dtype=torch.long).cumsum(0)[: len(cardinalities)]
        self.register_buffer("offsets", offsets, persistent=False)
        self.missing = nn.Parameter(torch.randn(features, embed_dim) * 0.02)
        self.reg = nn.Parameter(torch.randn(reg_tokens, embed_dim) * 0.02)

    def forward(self, batch: Any) -> TokenBatch:
        numeric, codes, missing = batch["numeric"], batch["categorical"], batch["missing"]
        tokens = torch.cat(
            [numeric.unsqueeze(-1) * self.weight + self.bias, self.categories(codes + self.offsets)], dim=1
        )
        tokens = torch.where(missing.unsqueeze(-1), self.missing.to(tokens.dtype), tokens)
        reg = self.reg.to(tokens.dtype).expand(tokens.shape[0], -1, -1)
        return TokenBatch(torch.cat([reg, tokens], dim=1))
