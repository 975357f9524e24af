"""Span masking: equal-length, disjoint, contiguous, valid-aware, seeded, covering every position."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from jepa_platform.errors import JepaError
from jepa_platform.masking import SpanMasking, SpanMaskingConfig, build_masking
from jepa_platform.tokens import TokenGrid


def sample(n: int, batch: int, seed: int = 0, valid: torch.Tensor | None = None, **config):
    masking = SpanMasking(SpanMaskingConfig(**config))
    return masking.sample(TokenGrid((n,)), batch, torch.Generator().manual_seed(seed), valid)


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


@settings(max_examples=60, deadline=None)
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
    targets, context = masks.targets, masks.context
    assert targets.shape[:2] == (batch, 1) and context.shape[0] == batch
    total = targets.shape[2]
    # the target share follows the keep ratio (rounding aside)
    assert round((1 - keep[1]) * n) - 1 <= total <= max(round((1 - keep[0]) * n), spans * min_block)
    for row in range(batch):
        chosen = targets[row, 0].tolist()
        assert chosen == sorted(set(chosen)), "target indices are distinct and ordered"
        # at most `spans` contiguous pieces, each at least min_block (adjacent spans may merge)
        pieces = runs(chosen)
        assert len(pieces) <= spans and min(pieces) >= min_block
        assert not set(chosen) & set(context[row].tolist())
    assert int(targets.max()) < n and int(context.max()) < n
    # without padding the context is exactly what the targets leave
    assert context.shape[1] == n - total


def test_invalid_tokens_are_never_selected():
    n, batch = 100, 6
    lengths = torch.tensor([100, 90, 75, 60, 100, 80])
    valid = torch.arange(n)[None, :] < lengths[:, None]
    valid[0, 10:20] = False  # a hole, not only trailing padding
    masks = sample(n, batch, 3, valid=valid, keep_ratio=(0.3, 0.4), num_spans=3, min_block=4)
    for row in range(batch):
        allowed = set(torch.nonzero(valid[row]).flatten().tolist())
        assert set(masks.targets[row].flatten().tolist()) <= allowed
        assert set(masks.context[row].tolist()) <= allowed
    fewest_context = int(lengths.min()) - masks.targets.shape[2]
    assert masks.context.shape == (batch, fewest_context), "contexts are cut to the batch minimum"


def test_same_seed_same_masks_other_seed_other_masks():
    a, b, c = sample(200, 8, 7), sample(200, 8, 7), sample(200, 8, 8)
    assert torch.equal(a.targets, b.targets) and torch.equal(a.context, b.context)
    assert not torch.equal(a.targets, c.targets)


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


def test_spans_that_cannot_fit_are_a_clear_error():
    with pytest.raises(JepaError, match="num_spans"):
        sample(6, 2, num_spans=4, min_context=4)


def test_non_1d_grid_is_rejected():
    masking = build_masking(SpanMaskingConfig())
    with pytest.raises(JepaError, match="1-D"):
        masking.sample(TokenGrid((4, 50)), 2, torch.Generator().manual_seed(0))


def test_config_rejects_bad_ratio():
    with pytest.raises(ValueError, match="keep_ratio"):
        SpanMaskingConfig(keep_ratio=(0.5, 0.2))
