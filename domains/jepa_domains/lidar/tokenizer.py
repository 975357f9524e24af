"""Voxels -> a BEV feature map -> a 2-D token grid, with a learned token for empty cells.

Two encoders share the same input (the fixed-size voxel arrays of
:mod:`.voxels`) and output (one token per ``token_cells × token_cells`` BEV
cells):

- ``pillars`` (PointPillars-style, dense): a per-voxel linear layer, scattered
  onto a ``B × Z·C × H × W`` canvas (z levels as channels), a 3 × 3 convolution,
  then a strided convolution to the token grid;
- ``sparse`` (SECOND/AD-L-JEPA-style, spconv): submanifold and strided sparse
  3-D convolutions, 8× down in the plane, the z levels folded into channels,
  then a strided convolution to the token grid (see :mod:`.sparse`).

A token whose cells hold no point is replaced by the learned ``empty`` token,
so the predictor can say "nothing here". Every token is valid for masking;
:meth:`BEVTokenizer.target_weights` weighs empty target tokens by
``empty_target_weight`` against occupied ones.
"""

from __future__ import annotations

from typing import Any

import torch
from jepa_platform.domain import TokenBatch, TokenGrid, Tokenizer
from torch import nn

from .config import LidarDataConfig
from .voxels import FEATURES


def spconv_available() -> bool:
    """Whether ``spconv`` imports (the sparse encoder's library)."""
    try:
        import spconv.pytorch  # noqa: F401
    except (ImportError, OSError):
        return False
    return True


def feature_scale(data: LidarDataConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Centre and scale that bring :data:`FEATURES` to about ``[-1, 1]``: positions by the point range,
    offsets by the voxel size."""
    low, high = torch.tensor(data.point_range[:3]), torch.tensor(data.point_range[3:])
    size = torch.tensor(data.voxel_size)
    centre = torch.cat([(low + high) / 2, torch.zeros(5)])
    scale = torch.cat([(high - low) / 2, torch.ones(1), size / 2, torch.ones(1)])
    return centre, scale


class BEVTokenizer(Tokenizer):
    """``batch`` ``{voxels: B × M × 8, coords: B × M × 3 (z, y, x), count: B}`` -> BEV tokens on an ``h × w`` grid.

    Args:
        data: The voxel grid, token cells, channels and empty-target weight.
        embed_dim: Token width.
        sparse: Use the spconv encoder rather than the dense pillar encoder.
    """

    def __init__(self, data: LidarDataConfig, embed_dim: int, sparse: bool = False) -> None:
        super().__init__()
        self.embed_dim = embed_dim
        self.voxel_grid = data.voxel_grid
        self.token_cells = data.token_cells
        self.empty_weight = data.empty_target_weight
        self.grid = TokenGrid(data.token_grid, axis_names=("y", "x"))
        centre, scale = feature_scale(data)
        self.register_buffer("centre", centre, persistent=False)
        self.register_buffer("scale", scale, persistent=False)
        channels, depth = data.channels, self.voxel_grid[0]
        self.sparse = sparse
        if sparse:
            from .sparse import SparseBEVEncoder

            self.backbone = SparseBEVEncoder(len(FEATURES), channels, self.voxel_grid)
            stride = data.token_cells // SparseBEVEncoder.STRIDE
            if stride < 1 or data.token_cells % SparseBEVEncoder.STRIDE:
                raise ValueError(f"the sparse encoder needs token_cells a multiple of {SparseBEVEncoder.STRIDE}")
            self.to_tokens = nn.Conv2d(self.backbone.out_channels, embed_dim, stride, stride)
        else:
            self.cell = nn.Sequential(nn.Linear(len(FEATURES), channels), nn.LayerNorm(channels), nn.ReLU())
            self.mix = nn.Sequential(nn.Conv2d(depth * channels, channels, 3, padding=1), nn.ReLU())
            self.to_tokens = nn.Conv2d(channels, embed_dim, data.token_cells, data.token_cells)
        self.empty = nn.Parameter(torch.randn(embed_dim) * 0.02)

    def rows(self, batch: Any) -> torch.Tensor:
        """``B × M`` bool: which voxel rows hold a voxel (the first ``count``)."""
        voxels = batch["voxels"]
        return torch.arange(voxels.shape[1], device=voxels.device) < batch["count"].unsqueeze(1)

    def occupied(self, batch: Any) -> torch.Tensor:
        """``B × N`` bool: tokens whose cells hold at least one voxel."""
        coords, rows = batch["coords"].long(), self.rows(batch)
        h, w = self.grid.shape
        token = (coords[..., 1] // self.token_cells) * w + coords[..., 2] // self.token_cells
        token = torch.where(rows, token, h * w)  # padding rows land in one extra slot, dropped
        hits = torch.zeros(coords.shape[0], h * w + 1, dtype=torch.bool, device=coords.device)
        return hits.scatter_(1, token, True)[:, :-1]

    def target_weights(self, batch: Any) -> torch.Tensor:
        """``B × N`` loss weights of target tokens: 1 for occupied, ``empty_target_weight`` for empty ones."""
        occupied = self.occupied(batch)
        return torch.where(occupied, 1.0, self.empty_weight).float()

    def bev(self, batch: Any) -> torch.Tensor:
        """The dense pillar encoder's ``B × C × H × W`` BEV feature map."""
        voxels, coords, rows = batch["voxels"], batch["coords"].long(), self.rows(batch)
        depth, height, width = self.voxel_grid
        features = (voxels.to(self.centre.dtype) - self.centre) / self.scale
        cells = self.cell(features.to(self.to_tokens.weight.dtype)) * rows.unsqueeze(-1)
        flat = ((coords[..., 0] * height + coords[..., 1]) * width + coords[..., 2]) * rows
        canvas = cells.new_zeros(cells.shape[0], depth * height * width, cells.shape[-1])
        canvas.scatter_add_(1, flat.unsqueeze(-1).expand_as(cells), cells)
        canvas = canvas.view(-1, depth, height, width, cells.shape[-1]).permute(0, 1, 4, 2, 3)
        return self.mix(canvas.reshape(-1, depth * cells.shape[-1], height, width))

    def forward(self, batch: Any) -> TokenBatch:
        if self.sparse:
            voxels = (batch["voxels"].float() - self.centre) / self.scale
            bev = self.backbone(voxels, batch["coords"], self.rows(batch))
        else:
            bev = self.bev(batch)
        tokens = self.to_tokens(bev.to(self.to_tokens.weight.dtype)).flatten(2).transpose(1, 2)
        occupied = self.occupied(batch).unsqueeze(-1)
        return TokenBatch(torch.where(occupied, tokens, self.empty.to(tokens.dtype)))

