"""Box-shaped targets: 2-D multi-block (I-JEPA; images, BEV grids) and 3-D tubes (V-JEPA; video, EEG-as-video).

Block sizes are drawn once per batch, so every sample's blocks have the
same shape and the index tensors need no padding. A block's top-left corner
is uniform over every position where it fits, the last row and column
included. With a ``valid`` mask, a block is placed uniformly among the
positions where it covers only valid tokens (where a sample has none,
among those where it covers the most).
"""

from __future__ import annotations

import functools
import math

import torch

from ..domain.tokens import TokenGrid
from .base import (
    Masks,
    MaskStrategy,
    all_valid,
    context_floor,
    cut_to_fewest,
    first_true,
    indices_to_mask,
    random_below,
    random_keys,
    register_strategy,
    uniforms,
    valid_counts,
)


def plane_size(scale: float, aspect: float, height: int, width: int) -> tuple[int, int]:
    """Height and width of a block covering ``scale`` of a ``height × width`` plane at ``aspect`` = height / width.

    Both are rounded and clipped to the plane (a block may span a whole axis).
    """
    area = scale * height * width
    h = min(max(round(math.sqrt(area * aspect)), 1), height)
    w = min(max(round(math.sqrt(area / aspect)), 1), width)
    return h, w


def _strides(shape: tuple[int, ...]) -> list[int]:
    return [math.prod(shape[axis + 1 :]) for axis in range(len(shape))]


def window_sums(x: torch.Tensor, size: tuple[int, ...]) -> torch.Tensor:
    """Sums of ``x`` (``B × *shape``) over every window of ``size``: ``B × *(shape - size + 1)``."""
    for axis, extent in enumerate(size, start=1):
        sums = x.cumsum(axis)
        sums = torch.cat([torch.zeros_like(sums.narrow(axis, 0, 1)), sums], dim=axis)
        positions = x.shape[axis] - extent + 1
        x = sums.narrow(axis, extent, positions) - sums.narrow(axis, 0, positions)
    return x


@functools.lru_cache(maxsize=64)
def _box_layout(
    size: tuple[int, ...], shape: tuple[int, ...], device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Flat grid index of every place a box of ``size`` fits (its first corner), and of its tokens from there."""

    def points(extents: list[int]) -> torch.Tensor:
        axes = torch.meshgrid(*(torch.arange(extent, device=device) for extent in extents), indexing="ij")
        return sum(axis * stride for axis, stride in zip(axes, _strides(shape))).flatten()

    return points([axis - extent + 1 for axis, extent in zip(shape, size)]), points(list(size))


def place_boxes(
    size: tuple[int, ...],
    shape: tuple[int, ...],
    batch_size: int,
    count: int,
    generator: torch.Generator,
    valid: torch.Tensor | None,
) -> torch.Tensor:
    """``B × count × prod(size)`` ascending flat indices of boxes of ``size``, placed as the module docstring says."""
    corners, offsets = _box_layout(size, shape, generator.device)
    if valid is None:
        place = torch.randint(len(corners), (batch_size, count), generator=generator, device=generator.device)
    else:
        covered = window_sums(valid.reshape(batch_size, *shape).int(), size).flatten(1)
        best = (covered == covered.amax(dim=1, keepdim=True)).cumsum(dim=1)
        pick = random_below(best[:, -1:].expand(batch_size, count), generator)
        place = torch.searchsorted(best, pick + 1)
    return corners[place].unsqueeze(-1) + offsets


def fitting_length(
    targets: torch.Tensor, inside: torch.Tensor, room: torch.Tensor, keep: int, num_tokens: int
) -> int:
    """How many first valid tokens (1 to ``keep``) each block may keep for every sample's union to fit its ``room``.

    Args:
        targets: ``B × K × S`` ascending indices of the blocks.
        inside: ``B × K × S`` whether each of them is valid.
        room: ``B``, the most target tokens each sample may hold (one per block at least).
        keep: The most tokens a block keeps.
        num_tokens: The grid's tokens.
    """
    rank = torch.where(inside, inside.cumsum(dim=2) - 1, keep).flatten(1)  # among the block's valid tokens
    first = torch.full((targets.shape[0], num_tokens), keep, device=targets.device)
    first = first.scatter_reduce(1, targets.flatten(1), rank, "amin")  # a token's lowest rank in any block
    lengths = torch.arange(1, keep + 1, device=targets.device)
    union = (first.unsqueeze(2) < lengths).sum(dim=1)  # B × keep: union sizes at each length
    return int((union <= room.unsqueeze(1)).all(dim=0).nonzero().max()) + 1


@register_strategy("multiblock")
class MultiBlockMasking(MaskStrategy):
    """K target blocks (one group each, they may overlap) and a context block that excludes them.

    All target blocks of a batch share one drawn size; with padding, each is
    cut to the batch's fewest valid tokens in a block. Where the blocks leave
    a sample fewer than ``min_context`` context tokens (lowered to leave one
    target token per block when the sample has few valid tokens), every block
    keeps fewer of its first valid tokens, as many as let each sample keep
    that context. A sample whose context block keeps too few tokens takes its
    context from the whole grid instead; contexts are cut to the batch
    minimum (see :func:`cut_to_fewest`).
    """

    grid_axes = 2

    def draw(self, grid: TokenGrid, batch_size: int, generator: torch.Generator, valid: torch.Tensor | None) -> Masks:
        cfg, (height, width), n = self.config, grid.shape, grid.num_tokens
        place_on = None if valid is None else all_valid(grid, batch_size, valid, generator.device)
        valid = place_on if place_on is not None else all_valid(grid, batch_size, None, generator.device)
        counts = valid_counts(valid, self.name, cfg.num_blocks, "masking.num_blocks")
        floor = context_floor(counts, cfg.min_context, cfg.num_blocks)
        target_scale, target_aspect, context_scale, context_aspect = uniforms(
            [cfg.target_scale, cfg.target_aspect, cfg.context_scale, cfg.context_aspect], generator, cfg.size_buckets
        )
        target_size = plane_size(target_scale, target_aspect, height, width)
        targets = place_boxes(target_size, grid.shape, batch_size, cfg.num_blocks, generator, place_on)
        inside = valid.gather(1, targets.flatten(1)).view_as(targets)
        keep = int(inside.sum(dim=2).min())  # at least 1: blocks go where they cover the most valid tokens
        free = valid & ~indices_to_mask(targets, n)  # whole blocks, also where cut below
        short = bool((free.sum(dim=1) < floor).any())
        if short:
            keep = fitting_length(targets, inside, counts - floor, keep, n)
        if place_on is not None or short:
            targets = targets.gather(2, first_true(inside, keep))
        if short:
            free = valid & ~indices_to_mask(targets, n)
        context_size = plane_size(context_scale, context_aspect, height, width)
        block = place_boxes(context_size, grid.shape, batch_size, 1, generator, place_on)
        eligible = indices_to_mask(block, n) & free
        eligible |= free & (eligible.sum(dim=1) < floor).unsqueeze(1)  # too small: the whole grid
        return Masks(context=cut_to_fewest(eligible, generator), targets=targets)


@register_strategy("tubes")
class TubeMasking(MaskStrategy):
    """One target group: the union of the tubes, cut to the batch minimum (see :func:`cut_to_fewest`).

    Each generator draws its tube size once per batch. A sample whose tubes
    leave fewer than ``min_context`` context tokens gives random target tokens
    back to the context; a sample with ``min_context`` valid tokens or fewer
    keeps one target token and gives back the rest. Contexts are cut to the
    batch minimum the same way.
    """

    grid_axes = 3

    def draw(self, grid: TokenGrid, batch_size: int, generator: torch.Generator, valid: torch.Tensor | None) -> Masks:
        cfg, (duration, height, width), n = self.config, grid.shape, grid.num_tokens
        place_on = None if valid is None else all_valid(grid, batch_size, valid, generator.device)
        valid = place_on if place_on is not None else all_valid(grid, batch_size, None, generator.device)
        floor = context_floor(valid_counts(valid, self.name), cfg.min_context)
        union = torch.zeros_like(valid)
        for tube in cfg.generators:
            temporal, spatial, aspect = uniforms(
                [tube.temporal_scale, tube.spatial_scale, tube.aspect], generator, cfg.size_buckets
            )
            size = (min(max(round(temporal * duration), 1), duration), *plane_size(spatial, aspect, height, width))
            union |= indices_to_mask(place_boxes(size, grid.shape, batch_size, tube.num_blocks, generator, place_on), n)
        union &= valid  # at least one token per sample: tubes go where they cover the most valid tokens
        deficit = (floor - (valid & ~union).sum(dim=1)).clamp_min(0)
        most = int(deficit.max())
        if most > 0:  # give random target tokens back to the context
            chosen = torch.argsort(random_keys(union, generator), dim=1)[:, :most]
            given = torch.arange(most, device=union.device) < deficit.unsqueeze(1)
            union &= ~torch.zeros_like(union).scatter_(1, chosen, given)
        targets = cut_to_fewest(union, generator)
        context = cut_to_fewest(valid & ~union, generator)
        return Masks(context=context, targets=targets.unsqueeze(1))
