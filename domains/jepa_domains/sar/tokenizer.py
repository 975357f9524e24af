"""2-D patch tokens of SAR chips (a strided convolution over the log-normalized image)."""

from __future__ import annotations

from typing import Any

from jepa_platform.domain import TokenBatch, TokenGrid, Tokenizer
from torch import nn


class PatchTokenizer(Tokenizer):
    """``batch["image"]`` (``B × C × S × S``) -> one token per ``patch × patch`` square, row-major on a 2-D grid."""

    def __init__(self, channels: int, size: int, patch: int, embed_dim: int) -> None:
        super().__init__()
        self.embed_dim = embed_dim
        self.grid = TokenGrid((size // patch, size // patch), axis_names=("row", "column"))
        self.proj = nn.Conv2d(channels, embed_dim, kernel_size=patch, stride=patch)

    def forward(self, batch: Any) -> TokenBatch:
        image = batch["image"]
        return TokenBatch(self.proj(image.to(self.proj.weight.dtype)).flatten(2).transpose(1, 2))
