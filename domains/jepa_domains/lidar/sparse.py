"""The sparse 3-D voxel encoder (SECOND-style, as AD-L-JEPA's backbone) on spconv.

Submanifold 3 × 3 × 3 convolutions keep the occupied voxels; three strided
sparse convolutions halve every axis each (8× in the plane). The result is made
dense and its z levels are folded into channels: a ``B × C·Z' × H/8 × W/8``
BEV map. On the CPU spconv runs its ``Native`` algorithm, which is used everywhere
here so a model behaves the same on either device.
"""

from __future__ import annotations

import torch
from torch import nn


def after_stride(size: int) -> int:
    """An axis after a stride-2, kernel-3, padding-1 convolution."""
    return (size - 1) // 2 + 1


class SparseBEVEncoder(nn.Module):
    """Voxel features on a ``(Z, H, W)`` grid -> a dense BEV map of ``out_channels`` at 1/8 of ``H × W``.

    Args:
        features: Input features per voxel.
        channels: Width of the last stages (the first ones are a quarter and a half of it).
        grid: ``(Z, H, W)`` voxels.
    """

    STRIDE = 8

    def __init__(self, features: int, channels: int, grid: tuple[int, int, int]) -> None:
        super().__init__()
        import spconv.pytorch as spconv
        from spconv.core import ConvAlgo

        algo = ConvAlgo.Native
        widths = [max(channels // 4, 1), max(channels // 2, 1), channels, channels]

        def stage(cin: int, cout: int, key: str, strided: bool) -> list[nn.Module]:
            conv = (spconv.SparseConv3d(cin, cout, 3, stride=2, padding=1, bias=False, algo=algo) if strided
                    else spconv.SubMConv3d(cin, cout, 3, padding=1, bias=False, indice_key=key, algo=algo))
            return [conv, nn.BatchNorm1d(cout), nn.ReLU()]

        layers = stage(features, widths[0], "subm0", False)
        for index, (cin, cout) in enumerate(zip(widths[:-1], widths[1:]), start=1):
            layers += stage(cin, cout, "", True) + stage(cout, cout, f"subm{index}", False)
        self.net = spconv.SparseSequential(*layers)
        self.grid = grid
        depth = after_stride(after_stride(after_stride(grid[0])))
        self.out_channels = channels * depth

    def forward(self, voxels: torch.Tensor, coords: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """``B × M × F`` features, coords ``B × M × 3`` (z, y, x) of the ``rows`` voxels -> ``B × C·Z' × H' × W'``."""
        import spconv.pytorch as spconv

        batch = torch.nonzero(rows)[:, 0:1].int()
        indices = torch.cat([batch, coords[rows].int()], dim=1)
        x = spconv.SparseConvTensor(voxels[rows].float(), indices, list(self.grid), voxels.shape[0])
        dense = self.net(x).dense()  # B × C × Z' × H' × W'
        return dense.flatten(1, 2)
