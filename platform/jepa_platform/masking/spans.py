"""Strategies on a 1-D time axis: contiguous target spans (ECG) and future chunks (action sequences).

Both place their blocks by rank among a sample's valid tokens, so padding
and holes are skipped and every row gets blocks of equal length.
"""

from __future__ import annotations

import torch

from ..domain.tokens import TokenGrid
from ..errors import JepaError
from .base import (
    Masks,
    MaskStrategy,
    all_valid,
    cut_to_fewest,
    first_true,
    random_below,
    random_composition,
    register_strategy,
    uniforms,
    valid_counts,
    valid_first_order,
)


@register_strategy("spans")
class SpanMasking(MaskStrategy):
    """``num_spans`` disjoint contiguous spans per sample, together one target group.

    The number of target tokens is drawn once per batch from ``keep_ratio``
    (so all rows have equal length); per row, span lengths (each at least
    ``min_block``) and the gaps between spans are random compositions, so
    every position, the first and last included, can be target or context.
    The spans are predicted in one pass, as ECG-JEPA does. With a ``valid``
    mask, spans and context use valid tokens only. When the batch's fewest
    valid tokens leave too little room besides ``min_context``, spans shrink
    below ``min_block``, then fewer spans are drawn, down to one target token;
    a sample with ``min_context`` valid tokens or fewer keeps one target token
    and the rest as context.
    """

    grid_axes = 1

    def draw(self, grid: TokenGrid, batch_size: int, generator: torch.Generator, valid: torch.Tensor | None) -> Masks:
        cfg, device, n, padded = self.config, generator.device, grid.num_tokens, valid is not None
        valid = all_valid(grid, batch_size, valid, device)
        num_valid = valid_counts(valid, self.name)
        fewest = int(num_valid.min())
        room = fewest - min(cfg.min_context, fewest - 1)  # target tokens that leave the context its floor
        spans = min(cfg.num_spans, room)
        block = min(cfg.min_block, room // spans)
        (keep,) = uniforms([cfg.keep_ratio], generator, cfg.size_buckets)
        total = round((1.0 - keep) * fewest)
        total = min(max(total, spans * block), room)
        extra = torch.full((batch_size,), total - spans * block, device=device)
        lengths = block + random_composition(extra, spans, generator)  # B × S, each row sums to total
        gaps = random_composition(num_valid - total, spans + 1, generator)[:, :spans]  # before each span
        starts = gaps.cumsum(dim=1) + lengths.cumsum(dim=1) - lengths  # rank among valid tokens
        marks = torch.zeros(batch_size, n + 1, dtype=torch.long, device=device)
        marks.scatter_add_(1, starts, torch.ones_like(starts))
        marks.scatter_add_(1, starts + lengths, -torch.ones_like(starts))
        in_span = marks.cumsum(dim=1)[:, :n] > 0  # by valid rank
        is_target = torch.zeros_like(valid).scatter_(1, valid_first_order(valid), in_span) if padded else in_span
        targets = first_true(is_target, total).unsqueeze(1)  # B × 1 × total
        return Masks(context=cut_to_fewest(valid & ~is_target, generator), targets=targets)


@register_strategy("future_chunks")
class FutureChunkMasking(MaskStrategy):
    """Context = ``L`` consecutive valid tokens; target k = the k-th run of ``C`` valid tokens after them.

    ``L`` and ``C`` are drawn once per batch; each sample places the window
    (``L + num_chunks * C`` tokens) uniformly among its valid tokens, so the
    first token can be context and the last a target. When the batch's fewest
    valid tokens leave too little room, chunks shrink (to one token) before
    the context goes below ``min_context``.

    On a 2-D ``time × tokens-per-step`` grid (e.g. a step's image patches beside
    its state token) the runs are of whole steps: every token of a chosen step
    is context or target together, and a step is valid when all its tokens are.
    """

    def draw(self, grid: TokenGrid, batch_size: int, generator: torch.Generator, valid: torch.Tensor | None) -> Masks:
        if grid.ndim > 2 or not grid.ordered:
            raise JepaError(
                f"masking.strategy '{self.name}' needs a 1-D time grid or a 2-D time × tokens-per-step grid, "
                f"got grid shape {grid.shape}"
            )
        if grid.ndim == 1:
            return self._draw_steps(grid, batch_size, generator, valid)
        steps, per_step = grid.shape
        if valid is not None:
            valid = all_valid(grid, batch_size, valid, generator.device).view(batch_size, steps, per_step).all(dim=2)
        masks = self._draw_steps(TokenGrid((steps,)), batch_size, generator, valid)
        offsets = torch.arange(per_step, device=generator.device)

        def tokens(step_index: torch.Tensor) -> torch.Tensor:  # each step index -> its per_step token indices
            return (step_index.unsqueeze(-1) * per_step + offsets).flatten(-2)

        return Masks(context=tokens(masks.context), targets=tokens(masks.targets))

    def _draw_steps(
        self, grid: TokenGrid, batch_size: int, generator: torch.Generator, valid: torch.Tensor | None
    ) -> Masks:
        cfg, device, padded = self.config, generator.device, valid is not None
        valid = all_valid(grid, batch_size, valid, device)
        num_valid = valid_counts(valid, self.name, cfg.num_chunks, "masking.num_chunks")
        fewest = int(num_valid.min())
        context_share, chunk_share = uniforms([cfg.context_share, cfg.chunk_share], generator, cfg.size_buckets)
        floor = min(cfg.min_context, fewest - cfg.num_chunks)
        chunk = max(1, min(int(chunk_share * fewest), (fewest - floor) // cfg.num_chunks))
        context = min(max(floor, int(context_share * fewest)), fewest - cfg.num_chunks * chunk)
        window = context + cfg.num_chunks * chunk
        start = random_below(num_valid - window + 1, generator)  # rank among valid tokens
        ranks = start.unsqueeze(1) + torch.arange(window, device=device)
        tokens = valid_first_order(valid).gather(1, ranks) if padded else ranks
        targets = tokens[:, context:].reshape(batch_size, cfg.num_chunks, chunk)
        return Masks(context=tokens[:, :context], targets=targets)
