"""SAR-JEPA's target: multi-scale ratio-of-averages gradients, pooled per patch.

For each radius r, box sums over the two halves of the (2r+1)² window around
a pixel (upper vs lower rows for y, left vs right columns for x) give
``G = log(sum1 / sum2)`` per direction and the magnitude ``sqrt(Gx² + Gy²)``.
A ratio of local sums does not change under a multiplicative gain and is
robust to multiplicative speckle. Everything runs as batched convolutions.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from jepa_platform.domain import TargetFunction

OFFSET = 0.01
"""Added to the mean-normalized amplitude so that dark pixels give finite logs."""


def half_window_kernels(radius: int) -> torch.Tensor:
    """``4 × 1 × (2r+1) × (2r+1)`` box kernels: upper, lower, left and right half-windows (centre line excluded)."""
    size = 2 * radius + 1
    kernels = torch.zeros(4, 1, size, size)
    kernels[0, 0, :radius, :] = 1  # upper rows
    kernels[1, 0, radius + 1 :, :] = 1  # lower rows
    kernels[2, 0, :, :radius] = 1  # left columns
    kernels[3, 0, :, radius + 1 :] = 1  # right columns
    return kernels


def gradient_maps(amplitude: torch.Tensor, radii: tuple[int, ...]) -> torch.Tensor:
    """``B × C × H × W`` amplitude -> ``B × C × R × H × W`` ratio-gradient magnitudes at each radius."""
    batch, channels, height, width = amplitude.shape
    x = amplitude.float().reshape(batch * channels, 1, height, width)
    x = x / x.mean(dim=(-2, -1), keepdim=True).clamp(min=1e-12) + OFFSET
    maps = []
    for radius in radii:
        padded = F.pad(x, (radius,) * 4, mode="reflect")
        sums = F.conv2d(padded, half_window_kernels(radius).to(x), stride=1)  # (B·C) × 4 × H × W
        gy = torch.log(sums[:, 0] / sums[:, 1])
        gx = torch.log(sums[:, 2] / sums[:, 3])
        maps.append(torch.sqrt(gx * gx + gy * gy))
    return torch.stack(maps, dim=1).reshape(batch, channels, len(radii), height, width)


class GradientTargets(TargetFunction):
    """Per-token targets ``B × N × Dt`` from ``batch["amplitude"]``: gradient magnitudes at each radius,
    averaged over ``cells × cells`` cells of each ``patch × patch`` token (``Dt = C·R·cells²``).

    Args:
        channels: Bands of the amplitude images.
        patch: Token size in pixels.
        radii: Window radii in pixels.
        cells: Cells per patch side.
    """

    def __init__(self, channels: int, patch: int, radii: tuple[int, ...], cells: int = 1) -> None:
        super().__init__()
        self.patch, self.radii, self.cells = patch, tuple(radii), cells
        self.dim = channels * len(self.radii) * cells * cells

    def forward(self, batch: Any) -> torch.Tensor:
        maps = gradient_maps(batch["amplitude"], self.radii)  # B × C × R × H × W
        b, c, r, h, w = maps.shape
        pooled = F.avg_pool2d(maps.reshape(b, c * r, h, w), self.patch // self.cells)  # B × CR × (H/p·cells) × ...
        gh, gw = h // self.patch, w // self.patch
        cells = pooled.reshape(b, c * r, gh, self.cells, gw, self.cells)
        return cells.permute(0, 2, 4, 1, 3, 5).reshape(b, gh * gw, self.dim)
