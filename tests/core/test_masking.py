"""The masking engine: every strategy equal-length, disjoint, contiguous where it should be, valid-aware,
seeded, inside its configured sizes and covering every position; plus the ``masks`` command."""

from __future__ import annotations

import io
import math
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from jepa_platform.cli import main
from jepa_platform.domain.tokens import TokenGrid
from jepa_platform.errors import JepaError
from jepa_platform.masking import (
    FeatureSubsetMaskingConfig,
    FutureChunkMaskingConfig,
    Masks,
    MultiBlockMaskingConfig,
    SpanMasking,
    SpanMaskingConfig,
    TubeMaskingConfig,
    build_masking,
)
from jepa_platform.masking.plot import (
    INVALID,
    INVALID_LABEL,
    NEITHER_LABEL,
    ROLE_COLOURS,
    draw_masks,
    mask_usage,
    png_bytes,
    token_roles,
    usage_warning,
)
from matplotlib.image import imread

from tests.helpers import run_cli

FAST = settings(max_examples=40, deadline=None, derandomize=True)


def sample(n: int, batch: int, seed: int = 0, valid: torch.Tensor | None = None, **config):
    masking = SpanMasking(SpanMaskingConfig(**config))
    return masking.sample(TokenGrid((n,)), batch, torch.Generator().manual_seed(seed), valid)


def draw(config, shape: tuple[int, ...], batch: int, seed: int = 0, valid=None, ordered: bool = True) -> Masks:
    grid = TokenGrid(shape, ordered=ordered)
    return build_masking(config).sample(grid, batch, torch.Generator().manual_seed(seed), valid)


def runs(indices: list[int]) -> list[int]:
    """Lengths of the runs of consecutive integers in a sorted list."""
    lengths, current = [], 1
    for previous, index in zip(indices, indices[1:]):
        if index == previous + 1:
            current += 1
        else:
            lengths.append(current)
            current = 1
    return lengths + [current]


def ranges(low: float, high: float) -> st.SearchStrategy[tuple[float, float]]:
    """Ordered ``(low, high)`` pairs inside ``[low, high]``."""
    return st.tuples(st.floats(low, high), st.floats(low, high)).map(lambda pair: tuple(sorted(pair)))


def random_valid(batch: int, n: int, seed: int, max_missing: float = 0.2) -> torch.Tensor:
    """Each row misses a random share (up to ``max_missing``) of tokens at random places."""
    g = torch.Generator().manual_seed(seed)
    missing = (torch.rand(batch, 1, generator=g) * max_missing * n).long()
    ranks = torch.rand(batch, n, generator=g).argsort(dim=1).argsort(dim=1)
    return ranks >= missing


def check_masks(masks: Masks, batch: int, n: int, valid: torch.Tensor | None = None) -> None:
    """Shapes, distinct ascending indices, context and targets disjoint, only valid tokens."""
    context, targets = masks.context, masks.targets
    assert context.shape[0] == batch and targets.shape[0] == batch and targets.dim() == 3
    assert context.shape[1] >= 1 and targets.shape[2] >= 1
    assert int(context.min()) >= 0 and int(context.max()) < n
    assert int(targets.min()) >= 0 and int(targets.max()) < n
    assert bool((context.diff(dim=1) > 0).all()), "context indices are distinct and ascending"
    assert bool((targets.diff(dim=2) > 0).all()), "each target block's indices are distinct and ascending"
    in_context = torch.zeros(batch, n, dtype=torch.bool).scatter_(1, context, True)
    assert not bool(in_context.gather(1, targets.flatten(1)).any()), "context and targets are disjoint"
    if valid is not None:
        assert bool(valid.gather(1, context).all()), "invalid tokens are never context"
        assert bool(valid.gather(1, targets.flatten(1)).all()), "invalid tokens are never targets"


def extents(block: torch.Tensor, shape: tuple[int, ...]) -> list[tuple[int, int]]:
    """``(first, last)`` coordinate of a block's tokens along each grid axis."""
    coords = torch.stack(torch.unravel_index(block, shape))
    return [(int(axis.min()), int(axis.max())) for axis in coords]


def assert_box(block: torch.Tensor, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The block fills its bounding box (contiguous along every axis); returns the box size."""
    size = tuple(last - first + 1 for first, last in extents(block, shape))
    assert math.prod(size) == block.numel(), f"block of {block.numel()} tokens does not fill its box {size}"
    return size


def plane_fits(h: int, w: int, n: int, scale: tuple[float, float], aspect: tuple[float, float]) -> bool:
    """Whether some scale and aspect ratio in the ranges round to an ``h × w`` block on ``n`` tokens."""
    low_h, low_w = (h - 0.5 if h > 1 else 0.0), (w - 0.5 if w > 1 else 0.0)
    scales = (low_h * low_w / n, (h + 0.5) * (w + 0.5) / n)
    aspects = (low_h / (w + 0.5), (h + 0.5) / max(low_w, 1e-9))
    overlaps = lambda a, b: a[0] <= b[1] + 1e-9 and b[0] <= a[1] + 1e-9  # noqa: E731
    return overlaps(scales, scale) and overlaps(aspects, aspect)


# ----------------------------------------------------------------------------- spans (1-D)


@FAST
@given(
    n=st.integers(40, 300),
    batch=st.integers(1, 12),
    spans=st.integers(1, 5),
    min_block=st.integers(1, 8),
    keep=st.tuples(st.floats(0.1, 0.5), st.floats(0.0, 0.3)).map(lambda t: (t[0], min(0.9, t[0] + t[1]))),
    seed=st.integers(0, 2**31),
)
def test_span_properties(n, batch, spans, min_block, keep, seed):
    masks = sample(n, batch, seed, keep_ratio=keep, num_spans=spans, min_block=min_block)
    check_masks(masks, batch, n)
    targets, context = masks.targets, masks.context
    assert targets.shape[:2] == (batch, 1)
    total = targets.shape[2]
    # the target share follows the keep ratio (rounding aside)
    assert round((1 - keep[1]) * n) - 1 <= total <= max(round((1 - keep[0]) * n), spans * min_block)
    for row in range(batch):
        # at most `spans` contiguous pieces, each at least min_block (adjacent spans may merge)
        pieces = runs(targets[row, 0].tolist())
        assert len(pieces) <= spans and min(pieces) >= min_block
    # without padding the context is exactly what the targets leave
    assert context.shape[1] == n - total


def test_invalid_tokens_are_never_selected():
    n, batch = 100, 6
    lengths = torch.tensor([100, 90, 75, 60, 100, 80])
    valid = torch.arange(n)[None, :] < lengths[:, None]
    valid[0, 10:20] = False  # a hole, not only trailing padding
    masks = sample(n, batch, 3, valid=valid, keep_ratio=(0.3, 0.4), num_spans=3, min_block=4)
    check_masks(masks, batch, n, valid)
    fewest_context = int(lengths.min()) - masks.targets.shape[2]
    assert masks.context.shape == (batch, fewest_context), "contexts are cut to the batch minimum"


@pytest.mark.parametrize("keep", [(0.15, 0.25), (0.5, 0.6)])
def test_every_position_is_reachable_as_target_and_context(keep):
    n = 50
    seen_target, seen_context = torch.zeros(n, dtype=torch.bool), torch.zeros(n, dtype=torch.bool)
    for seed in range(60):
        masks = sample(n, 32, seed, keep_ratio=keep, num_spans=3, min_block=3)
        seen_target[masks.targets.flatten()] = True
        seen_context[masks.context.flatten()] = True
    assert seen_target.all(), "first and last positions must be sampled too"
    assert seen_context.all(), "no position may be always masked"


def test_non_1d_grid_is_rejected():
    masking = build_masking(SpanMaskingConfig())
    with pytest.raises(JepaError, match="1-D"):
        masking.sample(TokenGrid((4, 50)), 2, torch.Generator().manual_seed(0))


def test_config_rejects_bad_ratio():
    with pytest.raises(ValueError, match="keep_ratio"):
        SpanMaskingConfig(keep_ratio=(0.5, 0.2))


# ----------------------------------------------------------------------------- future chunks (1-D)


@FAST
@given(
    n=st.integers(20, 200),
    batch=st.integers(1, 8),
    chunks=st.integers(1, 3),
    context_share=ranges(0.1, 0.4),
    chunk_share=ranges(0.1, 0.2),
    padded=st.booleans(),
    seed=st.integers(0, 2**31),
)
def test_future_chunk_properties(n, batch, chunks, context_share, chunk_share, padded, seed):
    config = FutureChunkMaskingConfig(context_share=context_share, chunk_share=chunk_share, num_chunks=chunks)
    valid = random_valid(batch, n, seed) if padded else None
    masks = draw(config, (n,), batch, seed, valid)
    check_masks(masks, batch, n, valid)
    fewest = n if valid is None else int(valid.sum(dim=1).min())
    context, chunk = masks.context.shape[1], masks.targets.shape[2]
    assert masks.targets.shape[1] == chunks
    assert int(context_share[0] * fewest) <= context <= int(context_share[1] * fewest)
    assert max(1, int(chunk_share[0] * fewest)) <= chunk <= max(1, int(chunk_share[1] * fewest))
    # in rank among valid tokens: context, then chunk 1, chunk 2, ... back to back
    rank = (valid if valid is not None else torch.ones(batch, n, dtype=torch.bool)).long().cumsum(dim=1) - 1
    window = torch.cat([masks.context, masks.targets.flatten(1)], dim=1)
    assert bool((rank.gather(1, window).diff(dim=1) == 1).all()), "past and future chunks are contiguous and in order"


def test_future_chunks_reach_first_and_last_positions():
    config = FutureChunkMaskingConfig(num_chunks=1)
    seen_context, seen_target = torch.zeros(60, dtype=torch.bool), torch.zeros(60, dtype=torch.bool)
    for seed in range(10):
        masks = draw(config, (60,), 32, seed)
        seen_context[masks.context.flatten()] = True
        seen_target[masks.targets.flatten()] = True
    assert seen_context[0] and seen_target[-1]
    assert (seen_context | seen_target).all()


def test_future_chunks_must_fit_the_sequence():
    with pytest.raises(ValueError, match="exceeds the sequence"):
        FutureChunkMaskingConfig(context_share=(0.5, 0.6), chunk_share=(0.2, 0.3), num_chunks=2)
    with pytest.raises(JepaError, match="1-D time grid"):
        draw(FutureChunkMaskingConfig(), (4, 5, 2), 2)


def test_future_chunks_on_a_time_by_token_grid_take_whole_steps():
    steps, per_step, batch = 16, 3, 6
    valid = torch.ones(batch, steps * per_step, dtype=torch.bool)
    valid[::2, -2 * per_step :] = False  # every other sample ends two steps early (padding)
    masks = draw(FutureChunkMaskingConfig(num_chunks=2), (steps, per_step), batch, 3, valid)
    for index in (masks.context, masks.targets.flatten(1)):
        grouped = index.view(batch, -1, per_step)
        assert torch.equal(grouped % per_step, torch.arange(per_step).expand_as(grouped))  # whole steps
        assert torch.equal(grouped // per_step, (grouped[..., :1] // per_step).expand_as(grouped))
        assert bool(valid.gather(1, index).all())
    context_steps = masks.context.view(batch, -1, per_step)[..., 0] // per_step
    target_steps = masks.targets.view(batch, 2, -1, per_step)[..., 0] // per_step
    assert bool((target_steps.flatten(1).min(dim=1).values > context_steps.max(dim=1).values).all())  # the future


# ----------------------------------------------------------------------------- multi-block (2-D)


@FAST
@given(
    height=st.integers(6, 20),
    width=st.integers(6, 20),
    batch=st.integers(1, 6),
    blocks=st.integers(1, 3),
    target_scale=ranges(0.02, 0.2),
    aspect=ranges(0.3, 3.0),
    context_scale=ranges(0.4, 1.0),
    padded=st.booleans(),
    seed=st.integers(0, 2**31),
)
def test_multiblock_properties(height, width, batch, blocks, target_scale, aspect, context_scale, padded, seed):
    config = MultiBlockMaskingConfig(
        num_blocks=blocks, target_scale=target_scale, target_aspect=aspect, context_scale=context_scale, min_context=1
    )
    n, shape = height * width, (height, width)
    valid = random_valid(batch, n, seed, max_missing=0.3) if padded else None
    masks = draw(config, shape, batch, seed, valid)
    check_masks(masks, batch, n, valid)
    assert masks.targets.shape[1] == blocks
    if valid is not None:  # blocks cut to the valid tokens stay inside a box no larger than the ranges allow
        area = target_scale[1] * n
        largest = area + 0.5 * (math.sqrt(area * aspect[1]) + math.sqrt(area / aspect[0])) + 0.25
        for block in masks.targets.flatten(0, 1):
            assert math.prod(last - first + 1 for first, last in extents(block, shape)) <= largest
        return
    sizes = {assert_box(block, shape) for block in masks.targets.flatten(0, 1)}
    assert len(sizes) == 1, "all target blocks of a batch share one size"
    ((h, w),) = sizes
    if h < height and w < width:  # a block clipped to the grid may leave the ranges
        assert plane_fits(h, w, n, target_scale, aspect), f"{h} x {w} block outside {target_scale}, {aspect}"


def test_multiblock_scale_and_aspect_are_drawn_independently():
    config = MultiBlockMaskingConfig(num_blocks=1, target_scale=(0.05, 0.3), target_aspect=(0.5, 2.0), min_context=1)
    areas, aspects = [], []
    for seed in range(300):
        (h, w) = assert_box(draw(config, (64, 64), 1, seed).targets[0, 0], (64, 64))
        areas.append(math.log(h * w))
        aspects.append(math.log(h / w))
    correlation = np.corrcoef(areas, aspects)[0, 1]
    assert abs(correlation) < 0.25, f"scale and aspect ratio are correlated (r = {correlation:.2f})"
    assert np.std(aspects) > 0.3 and np.std(areas) > 0.3


@pytest.mark.parametrize("seed", [0, 1])
def test_ijepa_setting_covers_every_position_and_central_context(seed):
    """I-JEPA's 14×14 setting at batch 256: the last row and column are targets, centre tokens context."""
    masks = draw(MultiBlockMaskingConfig(), (14, 14), 256, seed)
    check_masks(masks, 256, 196)
    assert masks.context.shape[1] >= 10
    seen_target = torch.zeros(196, dtype=torch.bool)
    seen_target[masks.targets.flatten()] = True
    assert seen_target.all(), f"never a target: {torch.nonzero(~seen_target).flatten().tolist()}"
    seen_context = torch.zeros(196, dtype=torch.bool)
    seen_context[masks.context.flatten()] = True
    assert seen_context.all(), f"never context: {torch.nonzero(~seen_context).flatten().tolist()}"


@pytest.mark.parametrize("shape", [(3, 9), (7, 5), (10, 10)])
def test_multiblock_reaches_every_position_on_small_grids(shape):
    config = MultiBlockMaskingConfig(num_blocks=2, target_scale=(0.1, 0.3), context_scale=(0.6, 0.9), min_context=1)
    n = math.prod(shape)
    seen_target, seen_context = torch.zeros(n, dtype=torch.bool), torch.zeros(n, dtype=torch.bool)
    for seed in range(20):
        masks = draw(config, shape, 32, seed)
        seen_target[masks.targets.flatten()] = True
        seen_context[masks.context.flatten()] = True
    assert seen_target.all() and seen_context.all()


def test_multiblock_context_falls_back_to_the_whole_grid():
    """A context block that the targets nearly cover still leaves min_context tokens."""
    config = MultiBlockMaskingConfig(num_blocks=4, target_scale=(0.2, 0.2), context_scale=(0.3, 0.3), min_context=10)
    for seed in range(5):
        masks = draw(config, (14, 14), 64, seed)
        check_masks(masks, 64, 196)
        assert masks.context.shape[1] >= 10


def test_multiblock_needs_a_2d_grid_and_sane_ranges():
    with pytest.raises(JepaError, match="2-D grid"):
        draw(MultiBlockMaskingConfig(), (8, 14, 14), 2)
    with pytest.raises(ValueError, match="target_scale"):
        MultiBlockMaskingConfig(target_scale=(0.3, 0.2))
    with pytest.raises(ValueError, match="target_aspect"):
        MultiBlockMaskingConfig(target_aspect=(0.0, 1.0))


# ----------------------------------------------------------------------------- tubes (3-D)


@FAST
@given(
    duration=st.integers(1, 6),
    height=st.integers(3, 10),
    width=st.integers(3, 10),
    batch=st.integers(1, 5),
    spatial=ranges(0.05, 0.5),
    temporal=ranges(0.2, 1.0),
    aspect=ranges(0.5, 2.0),
    seed=st.integers(0, 2**31),
)
def test_single_tube_is_a_box_of_the_configured_size(duration, height, width, batch, spatial, temporal, aspect, seed):
    generator = {"spatial_scale": spatial, "temporal_scale": temporal, "aspect": aspect, "num_blocks": 1}
    shape = (duration, height, width)
    masks = draw(TubeMaskingConfig(generators=[generator], min_context=1), shape, batch, seed)
    n = math.prod(shape)
    check_masks(masks, batch, n)
    sizes = {assert_box(block, shape) for block in masks.targets[:, 0]}
    assert len(sizes) == 1, "one tube size per batch"
    ((t, h, w),) = sizes
    low = t - 0.5 if t > 1 else 0.0
    assert low <= temporal[1] * duration + 1e-9 and (t == duration or temporal[0] * duration <= t + 0.5 + 1e-9)
    if h < height and w < width:
        assert plane_fits(h, w, height * width, spatial, aspect)
    assert masks.context.shape[1] == n - t * h * w, "the context is the rest of the grid"


@FAST
@given(
    duration=st.integers(2, 6),
    side=st.integers(4, 10),
    blocks=st.tuples(st.integers(1, 6), st.integers(1, 3)),
    padded=st.booleans(),
    seed=st.integers(0, 2**31),
)
def test_tube_union_properties(duration, side, blocks, padded, seed):
    generators = [
        {"spatial_scale": (0.1, 0.2), "num_blocks": blocks[0]},
        {"spatial_scale": (0.3, 0.4), "num_blocks": blocks[1]},
    ]
    shape, batch = (duration, side, side), 4
    n = math.prod(shape)
    valid = random_valid(batch, n, seed, max_missing=0.3) if padded else None
    masks = draw(TubeMaskingConfig(generators=generators, min_context=3), shape, batch, seed, valid)
    check_masks(masks, batch, n, valid)
    assert masks.targets.shape[1] == 1 and masks.context.shape[1] >= 3
    if valid is None:  # a batch of one keeps the whole union: tubes over the whole clip, the context the rest
        single = draw(TubeMaskingConfig(generators=generators, min_context=1), shape, 1, seed)
        frames = torch.zeros(n, dtype=torch.bool).scatter_(0, single.targets.flatten(), True).view(shape)
        partial = frames.any(dim=0) & ~frames.all(dim=0)
        assert int(partial.sum()) <= 1, "tubes span every frame (one token may go back to an empty context)"
        assert single.context.shape[1] + single.targets.shape[2] == n


def test_tubes_give_context_back_when_targets_cover_everything():
    generators = [{"spatial_scale": (0.9, 0.9), "num_blocks": 4}]
    masks = draw(TubeMaskingConfig(generators=generators, min_context=12), (4, 6, 6), 8, 0)
    check_masks(masks, 8, 144)
    assert masks.context.shape[1] == 12


def test_tubes_reach_every_position():
    generator = {"spatial_scale": (0.1, 0.2), "temporal_scale": (0.3, 0.6), "num_blocks": 2}
    config = TubeMaskingConfig(generators=[generator])
    seen_target, seen_context = torch.zeros(4 * 5 * 7, dtype=torch.bool), torch.zeros(4 * 5 * 7, dtype=torch.bool)
    for seed in range(10):
        masks = draw(config, (4, 5, 7), 32, seed)
        seen_target[masks.targets.flatten()] = True
        seen_context[masks.context.flatten()] = True
    assert seen_target.all() and seen_context.all()


def test_tubes_need_a_3d_grid():
    with pytest.raises(JepaError, match="3-D"):
        draw(TubeMaskingConfig(), (14, 14), 2)
    with pytest.raises(ValueError, match="spatial_scale"):
        TubeMaskingConfig(generators=[{"spatial_scale": (0.0, 0.2)}])


# ----------------------------------------------------------------------------- feature subsets (sets)


@FAST
@given(
    n=st.integers(20, 80),
    batch=st.integers(1, 8),
    targets=st.integers(1, 4),
    context_share=ranges(0.1, 0.3),
    target_share=ranges(0.1, 0.15),
    disjoint=st.booleans(),
    padded=st.booleans(),
    seed=st.integers(0, 2**31),
)
def test_feature_subset_properties(n, batch, targets, context_share, target_share, disjoint, padded, seed):
    config = FeatureSubsetMaskingConfig(
        context_share=context_share, target_share=target_share, num_targets=targets, disjoint_targets=disjoint
    )
    valid = random_valid(batch, n, seed) if padded else None
    masks = draw(config, (n,), batch, seed, valid, ordered=False)
    check_masks(masks, batch, n, valid)
    fewest = n if valid is None else int(valid.sum(dim=1).min())
    assert masks.targets.shape[1] == targets
    assert int(context_share[0] * fewest) <= masks.context.shape[1] <= int(context_share[1] * fewest)
    assert int(target_share[0] * fewest) <= masks.targets.shape[2] <= int(target_share[1] * fewest)
    if disjoint:
        flat = masks.targets.flatten(1)
        assert bool((flat.sort(dim=1).values.diff(dim=1) > 0).all()), "target subsets are disjoint"


def test_overlapping_feature_targets_as_in_tjepa():
    config = FeatureSubsetMaskingConfig(target_share=(0.2, 0.4), disjoint_targets=False)
    masks = draw(config, (30,), 64, 0, ordered=False)
    check_masks(masks, 64, 30)
    flat = masks.targets.flatten(1).sort(dim=1).values
    assert bool((flat.diff(dim=1) == 0).any()), "independent target subsets overlap somewhere"
    with pytest.raises(ValueError, match="exceeds all tokens"):
        FeatureSubsetMaskingConfig(target_share=(0.2, 0.4))


# ----------------------------------------------------------------------------- all strategies

ALL = [
    (SpanMaskingConfig(min_block=3), (64,), True),
    (FutureChunkMaskingConfig(), (64,), True),
    (MultiBlockMaskingConfig(), (14, 14), True),
    (TubeMaskingConfig(), (4, 8, 8), True),
    (FeatureSubsetMaskingConfig(), (40,), False),
]
NAMES = [config.strategy for config, _, _ in ALL]


@pytest.mark.parametrize(("config", "shape", "ordered"), ALL, ids=NAMES)
def test_same_seed_same_masks_other_seed_other_masks(config, shape, ordered):
    a, b, c = (draw(config, shape, 16, seed, ordered=ordered) for seed in (7, 7, 8))
    assert torch.equal(a.targets, b.targets) and torch.equal(a.context, b.context)
    assert not (torch.equal(a.targets, c.targets) and torch.equal(a.context, c.context))


@pytest.mark.parametrize(("config", "shape", "ordered"), ALL, ids=NAMES)
def test_padding_and_holes_are_never_selected(config, shape, ordered):
    n, batch = math.prod(shape), 12
    valid = random_valid(batch, n, 5, max_missing=0.25)
    valid[:, -n // 8 :] &= torch.arange(batch).unsqueeze(1) % 2 == 0  # trailing padding in every other row
    masks = draw(config, shape, batch, 1, valid, ordered=ordered)
    check_masks(masks, batch, n, valid)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize(("config", "shape", "ordered"), ALL, ids=NAMES)
def test_masks_on_a_cuda_generator(config, shape, ordered):
    grid, n = TokenGrid(shape, ordered=ordered), math.prod(shape)
    valid = random_valid(8, n, 2).cuda()
    masks = build_masking(config).sample(grid, 8, torch.Generator("cuda").manual_seed(0), valid)
    assert masks.context.is_cuda and masks.targets.is_cuda
    check_masks(Masks(masks.context.cpu(), masks.targets.cpu()), 8, n, valid.cpu())


# ----------------------------------------------------------------------------- few valid tokens

# (config, grid shape, ordered, target groups of at least one token each, the setting that sets their number)
FEW = [
    (SpanMaskingConfig(), (64,), True, 1, None),
    (FutureChunkMaskingConfig(min_context=10), (64,), True, 2, "masking.num_chunks"),
    (MultiBlockMaskingConfig(), (14, 14), True, 4, "masking.num_blocks"),
    (TubeMaskingConfig(), (10, 5, 5), True, 1, None),
    (FeatureSubsetMaskingConfig(min_context=10), (40,), False, 4, "masking.num_targets"),
]


def keep_only(counts: list[int], n: int, seed: int) -> torch.Tensor:
    """``len(counts) × n`` valid mask: row i keeps ``counts[i]`` tokens at random places."""
    g = torch.Generator().manual_seed(seed)
    ranks = torch.rand(len(counts), n, generator=g).argsort(dim=1).argsort(dim=1)
    return ranks < torch.tensor(counts).unsqueeze(1)


@FAST
@given(few=st.lists(st.integers(0, 12), min_size=1, max_size=5), seed=st.integers(0, 2**31))
@pytest.mark.parametrize(("config", "shape", "ordered", "groups", "setting"), FEW, ids=NAMES)
def test_few_valid_tokens_scale_the_masks_down(config, shape, ordered, groups, setting, few, seed):
    n = math.prod(shape)
    counts = [n] + [groups + 1 + extra for extra in few]  # one whole sample, the others with few valid tokens
    valid = keep_only(counts, n, seed)
    masks = draw(config, shape, len(counts), seed, valid, ordered=ordered)
    check_masks(masks, len(counts), n, valid)  # non-empty context and targets, within the valid tokens
    assert masks.num_targets == groups
    assert masks.context.shape[1] >= min(config.min_context, min(counts) - groups), "min_context lowered only as needed"


def test_one_electrode_window_keeps_one_target_token():
    """EEG's 10 frames of one electrode on the 5 x 5 scalp grid: 10 valid tokens, min_context 10."""
    valid = torch.zeros(4, 10, 25, dtype=torch.bool)
    valid[:, :, 1] = True
    masks = draw(TubeMaskingConfig(), (10, 5, 5), 4, 0, valid.flatten(1))
    check_masks(masks, 4, 250, valid.flatten(1))
    assert masks.context.shape == (4, 9) and masks.targets.shape == (4, 1, 1)


def test_multiblock_blocks_shrink_to_leave_the_context():
    """Four 3 x 3 blocks on a 3 x 3 island of valid tokens keep their first 4 tokens, the other 5 are context."""
    valid = torch.zeros(3, 14, 14, dtype=torch.bool)
    valid[:, 5:8, 5:8] = True
    config = MultiBlockMaskingConfig(target_scale=(9 / 196, 9 / 196), target_aspect=(1.0, 1.0), min_context=10)
    masks = draw(config, (14, 14), 3, 0, valid.flatten(1))
    check_masks(masks, 3, 196, valid.flatten(1))
    assert masks.targets.shape == (3, 4, 4) and masks.context.shape == (3, 5)


@pytest.mark.parametrize(("config", "shape", "ordered", "groups", "setting"), FEW, ids=NAMES)
def test_unmaskable_samples_are_one_clear_error(config, shape, ordered, groups, setting):
    n = math.prod(shape)
    with pytest.raises(JepaError, match="a sample has 1 valid token.*give each sample more valid tokens"):
        draw(config, shape, 3, 0, keep_only([n, 1, n], n, 0), ordered=ordered)
    if setting is not None:
        expected = f"a sample has {groups} valid tokens.*lower {re.escape(setting)} to {groups - 1} or less"
        with pytest.raises(JepaError, match=expected):
            draw(config, shape, 3, 0, keep_only([n, groups, n], n, 0), ordered=ordered)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize(("config", "shape", "ordered", "groups", "setting"), FEW, ids=NAMES)
def test_few_valid_tokens_on_a_cuda_generator(config, shape, ordered, groups, setting):
    n = math.prod(shape)
    valid = keep_only([n, groups + 1, n, groups + 3], n, 0)
    grid, generator = TokenGrid(shape, ordered=ordered), torch.Generator("cuda").manual_seed(0)
    masks = build_masking(config).sample(grid, 4, generator, valid.cuda())
    assert masks.context.is_cuda and masks.targets.is_cuda
    check_masks(Masks(masks.context.cpu(), masks.targets.cpu()), 4, n, valid)


# ----------------------------------------------------------------------------- pictures and the command


@pytest.mark.parametrize(("config", "shape", "ordered"), ALL[2:], ids=NAMES[2:])
def test_drawn_masks_show_context_and_targets(tmp_path, config, shape, ordered):
    grid = TokenGrid(shape, ordered=ordered)
    masks = draw(config, shape, 3, 0, ordered=ordered)
    path = tmp_path / "masks.png"
    path.write_bytes(png_bytes(draw_masks(masks, grid, title="test")))
    image = imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    context = np.array([int(ROLE_COLOURS[2][i : i + 2], 16) / 255 for i in (1, 3, 5)])
    assert (np.abs(image[..., :3] - context).max(axis=-1) < 0.02).sum() > 50, "context colour is drawn"


def test_masks_command_writes_a_png(tmp_path):
    out = tmp_path / "pictures" / "ecg.png"
    result = run_cli(
        "masks", "--domain", "ecg", "--out", str(out), "--count", "3", "--seed", "1",
        "--masking.strategy", "future_chunks", "--masking.num_chunks", "1",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert re.search(r"Wrote 3 samples of a batch of \d+ future_chunks masks", result.stdout)
    image = imread(out)
    assert out.stat().st_size > 1000 and image.ndim == 3 and image.shape[2] in (3, 4) and min(image.shape[:2]) > 50


def test_masks_command_errors_are_clear(tmp_path, capsys):
    def error(*args: str) -> str:
        assert main(["masks", *args]) == 2
        return capsys.readouterr().err

    assert "unknown domain 'nope'" in error("--domain", "nope", "--out", str(tmp_path / "m.png"))
    assert "is a folder" in error("--domain", "ecg", "--out", str(tmp_path))
    (tmp_path / "file").write_text("x")
    assert "is a file, not a folder" in error("--domain", "ecg", "--out", str(tmp_path / "file" / "m.png"))
    assert "must name a .png file" in error("--domain", "ecg", "--out", str(tmp_path / "m.jpg"))
    multiblock = ("--masking.strategy", "multiblock")
    assert "needs a 2-D grid" in error("--domain", "ecg", "--out", str(tmp_path / "m.png"), *multiblock)
    assert not list(tmp_path.glob("*.png"))


def test_invalid_tokens_are_drawn_in_their_own_colour_and_named_on_the_legend(tmp_path):
    grid = TokenGrid((6, 8), axis_names=("row", "column"))
    valid = torch.ones(2, 48, dtype=torch.bool)
    valid[:, :8] = False  # the first row never holds input
    masks = build_masking(MultiBlockMaskingConfig(min_context=4)).sample(grid, 2, torch.Generator().manual_seed(0), valid)
    roles = token_roles(masks, grid.num_tokens, valid)
    assert (roles[:, :8] == INVALID).all() and (roles[:, 8:] != INVALID).all()
    figure = draw_masks(masks, grid, valid)
    labels = [text.get_text() for text in figure.legends[0].get_texts()]
    assert INVALID_LABEL in labels and NEITHER_LABEL in labels
    assert [(axes.get_ylabel(), axes.get_xlabel()) for axes in figure.axes] == [("row", "column")] * 2
    image = imread(io.BytesIO(png_bytes(figure)))
    grey = np.array([int(ROLE_COLOURS[INVALID][i : i + 2], 16) / 255 for i in (1, 3, 5)])
    assert (np.abs(image[..., :3] - grey).max(axis=-1) < 0.02).sum() > 50, "invalid colour is drawn"


def test_a_strategy_that_leaves_most_of_the_grid_unused_is_warned_about():
    generator = torch.Generator().manual_seed(0)
    strip = TokenGrid((8, 25))
    masks = build_masking(MultiBlockMaskingConfig()).sample(strip, 32, generator)
    usage = mask_usage(masks, strip.num_tokens)
    assert usage.valid == 200 and usage.context + usage.targets + usage.neither == pytest.approx(200)
    assert usage.context < 32 and usage.neither > 2 * usage.context  # the square context block covers at most 8 x 8
    warning = usage_warning(usage, "multiblock")
    assert warning is not None and warning.startswith(f"warning: multiblock masks keep {usage.context:.0f} of 200")
    square = TokenGrid((14, 14))
    assert usage_warning(mask_usage(build_masking(MultiBlockMaskingConfig()).sample(square, 32, generator), 196), "") is None


@pytest.mark.parametrize("buckets", [1, 3])
def test_size_buckets_give_at_most_that_many_mask_sizes_on_full_samples(buckets):
    grid, sizes = TokenGrid((200,)), {}
    for config in (SpanMaskingConfig(size_buckets=buckets), FutureChunkMaskingConfig(size_buckets=buckets),
                   FeatureSubsetMaskingConfig(size_buckets=buckets)):
        strategy = build_masking(config)
        shapes = set()
        for seed in range(40):
            masks = strategy.sample(grid, 4, torch.Generator().manual_seed(seed))
            shapes.add((masks.context.shape, masks.targets.shape))
        sizes[config.strategy] = len(shapes)
    assert sizes["spans"] == buckets  # one range drawn: keep_ratio
    assert 1 <= sizes["future_chunks"] <= buckets**2 and 1 <= sizes["feature_subsets"] <= buckets**2  # two ranges
    continuous = build_masking(SpanMaskingConfig())
    drawn = {continuous.sample(grid, 4, torch.Generator().manual_seed(seed)).context.shape for seed in range(40)}
    assert len(drawn) > buckets ** 2  # without buckets, sizes anywhere in the range
