"""Masking engine: for a whole batch at once, context indices and K target blocks on a token grid.

Every strategy returns equal-length index tensors (no padding, no ragged lists),
computed with tensor ops on the generator's device, reproducible from the
generator's seed. Strategies register themselves by name; a recipe picks one
with ``masking.strategy``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, Literal

import torch
from pydantic import model_validator

from .errors import JepaError
from .schema import Section
from .tokens import TokenGrid


@dataclass
class Masks:
    """Flat token indices into the grid's row-major order.

    Args:
        context: ``B × Nc`` indices the context encoder sees.
        targets: ``B × K × Nt`` indices of K target blocks the predictor predicts.
    """

    context: torch.Tensor
    targets: torch.Tensor

    @property
    def num_targets(self) -> int:
        return self.targets.shape[1]


class MaskStrategy(ABC):
    """Samples :class:`Masks` for a batch on a grid."""

    @abstractmethod
    def sample(
        self,
        grid: TokenGrid,
        batch_size: int,
        generator: torch.Generator,
        valid: torch.Tensor | None = None,
    ) -> Masks:
        """Masks for ``batch_size`` samples; ``valid`` (``B × N`` bool) excludes tokens from both roles."""


STRATEGIES: dict[str, Callable[..., MaskStrategy]] = {}


def register_strategy(name: str) -> Callable[[type], type]:
    """Class decorator adding a strategy to :data:`STRATEGIES` under ``name``."""

    def add(cls: type) -> type:
        STRATEGIES[name] = cls
        return cls

    return add


class SpanMaskingConfig(Section):
    """Contiguous target spans on a 1-D time grid; the context is what the spans leave.

    Defaults follow ECG-JEPA: keep 15-25% of the tokens as context, the rest in
    ``num_spans`` spans of at least ``min_block`` tokens.
    """

    strategy: Literal["spans"] = "spans"
    keep_ratio: tuple[float, float] = (0.15, 0.25)
    num_spans: int = 4
    min_block: int = 10
    min_context: int = 4

    @model_validator(mode="after")
    def _check(self) -> "SpanMaskingConfig":
        lo, hi = self.keep_ratio
        if not 0.0 < lo <= hi < 1.0:
            raise ValueError(f"keep_ratio must satisfy 0 < low <= high < 1, got {self.keep_ratio}")
        if self.num_spans < 1 or self.min_block < 1 or self.min_context < 1:
            raise ValueError("num_spans, min_block and min_context must be at least 1")
        return self


def _uniform(low: float, high: float, generator: torch.Generator) -> float:
    return low + (high - low) * torch.rand((), generator=generator, device=generator.device).item()


def random_composition(total: torch.Tensor, parts: int, generator: torch.Generator) -> torch.Tensor:
    """Split each row's non-negative integer ``total`` (``B``) into ``parts`` random non-negative integers."""
    cuts = torch.rand(total.shape[0], parts - 1, generator=generator, device=total.device).sort(dim=1).values
    cuts = torch.minimum((cuts * (total.unsqueeze(1) + 1)).long(), total.unsqueeze(1))
    edges = torch.cat([torch.zeros_like(total).unsqueeze(1), cuts, total.unsqueeze(1)], dim=1)
    return edges.diff(dim=1)


def valid_first_order(valid: torch.Tensor) -> torch.Tensor:
    """``B × N`` grid indices with each row's valid tokens first, in grid order."""
    return torch.argsort((~valid).to(torch.int8), dim=1, stable=True)


def first_true(mask: torch.Tensor, count: int) -> torch.Tensor:
    """Indices of the first ``count`` ``True`` entries of each row of a ``B × N`` mask, ascending."""
    return torch.argsort((~mask).to(torch.int8), dim=1, stable=True)[:, :count]


def complement_context(
    eligible: torch.Tensor, generator: torch.Generator, min_context: int
) -> torch.Tensor:
    """Equal-length context indices from a ``B × N`` eligibility mask.

    Rows with more eligible tokens than the batch minimum keep a random subset,
    so every row has the same length (as I-JEPA cuts contexts to the batch minimum).
    """
    counts = eligible.sum(dim=1)
    length = int(counts.min())
    if length < min_context:
        raise JepaError(
            f"masking leaves {length} context tokens, fewer than masking.min_context={min_context}; "
            "raise masking.keep_ratio"
        )
    if bool((counts == counts[0]).all()):
        return first_true(eligible, length)
    key = (~eligible).float() * 2 + torch.rand(eligible.shape, generator=generator, device=eligible.device)
    return torch.argsort(key, dim=1)[:, :length].sort(dim=1).values


@register_strategy("spans")
class SpanMasking(MaskStrategy):
    """``num_spans`` disjoint contiguous spans per sample, together one target group.

    The number of target tokens is drawn once per batch from ``keep_ratio``
    (so all rows have equal length); per row, span lengths (each at least
    ``min_block``) and the gaps between spans are random compositions, so
    every position, the first and last included, can be target or context.
    The spans are predicted in one pass, as ECG-JEPA does. With a ``valid``
    mask, spans and context use valid tokens only; spans shrink below
    ``min_block`` only when a padded sample has too few valid tokens for them.
    """

    def __init__(self, config: SpanMaskingConfig) -> None:
        self.config = config

    def sample(
        self,
        grid: TokenGrid,
        batch_size: int,
        generator: torch.Generator,
        valid: torch.Tensor | None = None,
    ) -> Masks:
        if grid.ndim != 1 or not grid.ordered:
            raise JepaError(f"masking.strategy 'spans' needs a 1-D time grid, got grid shape {grid.shape}")
        cfg, device, n = self.config, generator.device, grid.num_tokens
        if valid is None:
            valid = torch.ones(batch_size, n, dtype=torch.bool, device=device)
        num_valid = valid.sum(dim=1)
        fewest = int(num_valid.min())
        spans = cfg.num_spans
        block = min(cfg.min_block, (fewest - cfg.min_context) // spans)
        if block < 1:
            raise JepaError(
                f"masking: {spans} spans and {cfg.min_context} context tokens do not fit in {fewest} valid tokens; "
                "lower masking.num_spans or masking.min_context"
            )
        keep = _uniform(*cfg.keep_ratio, generator)
        total = round((1.0 - keep) * fewest)
        total = min(max(total, spans * block), fewest - cfg.min_context)
        extra = torch.full((batch_size,), total - spans * block, device=device)
        lengths = block + random_composition(extra, spans, generator)  # B × S, each row sums to total
        gaps = random_composition(num_valid - total, spans + 1, generator)[:, :spans]  # before each span
        starts = gaps.cumsum(dim=1) + lengths.cumsum(dim=1) - lengths  # rank among valid tokens
        marks = torch.zeros(batch_size, n + 1, dtype=torch.long, device=device)
        marks.scatter_add_(1, starts, torch.ones_like(starts))
        marks.scatter_add_(1, starts + lengths, -torch.ones_like(starts))
        in_span = marks.cumsum(dim=1)[:, :n] > 0  # by valid rank
        order = valid_first_order(valid)
        is_target = torch.zeros_like(valid).scatter_(1, order, in_span)
        targets = first_true(is_target, total).unsqueeze(1)  # B × 1 × total
        context = complement_context(valid & ~is_target, generator, cfg.min_context)
        return Masks(context=context, targets=targets)


MaskingConfig = SpanMaskingConfig


def build_masking(config: MaskingConfig) -> MaskStrategy:
    """The strategy a recipe's ``masking`` section names."""
    return STRATEGIES[config.strategy](config)

