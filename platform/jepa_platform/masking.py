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
    spans of at least 10 tokens.
    """

    strategy: Literal["spans"] = "spans"
    keep_ratio: tuple[float, float] = (0.15, 0.25)
    num_targets: int = 4
    min_block: int = 10
    min_context: int = 4

    @model_validator(mode="after")
    def _check(self) -> "SpanMaskingConfig":
        lo, hi = self.keep_ratio
        if not 0.0 < lo <= hi < 1.0:
            raise ValueError(f"keep_ratio must satisfy 0 < low <= high < 1, got {self.keep_ratio}")
        if self.num_targets < 1 or self.min_block < 1 or self.min_context < 1:
            raise ValueError("num_targets, min_block and min_context must be at least 1")
        return self


def _uniform(low: float, high: float, generator: torch.Generator) -> float:
    return low + (high - low) * torch.rand((), generator=generator, device=generator.device).item()


def valid_first_order(valid: torch.Tensor) -> torch.Tensor:
    """``B × N`` grid indices with each row's valid tokens first, in grid order."""
    return torch.argsort((~valid).to(torch.int8), dim=1, stable=True)


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
            "raise masking.keep_ratio or lower masking.num_targets"
        )
    key = (~eligible).float()
    if bool((counts != counts[0]).any()):
        key = key * 2 + torch.rand(eligible.shape, generator=generator, device=eligible.device)
    chosen = torch.argsort(key, dim=1, stable=True)[:, :length]
    return chosen.sort(dim=1).values


@register_strategy("spans")
class SpanMasking(MaskStrategy):
    """K disjoint contiguous target spans per sample, placed uniformly at random.

    The span length is drawn once per batch from ``keep_ratio`` (so all rows
    have equal length); positions are drawn per row by splitting the free
    tokens into K+1 random gaps, so every position, the last included, can be
    a target. With a ``valid`` mask, spans run over the valid tokens only.
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
        k = cfg.num_targets
        keep = _uniform(*cfg.keep_ratio, generator)
        fewest = int(num_valid.min())
        span = max(cfg.min_block, round((1.0 - keep) * fewest / k))
        span = min(span, (fewest - cfg.min_context) // k)
        if span < 1:
            raise JepaError(
                f"masking: {k} target spans and {cfg.min_context} context tokens do not fit in "
                f"{fewest} valid tokens; lower masking.num_targets or masking.min_context"
            )
        free = (num_valid - k * span).unsqueeze(1)  # B × 1 tokens outside the spans
        gaps = torch.rand(batch_size, k, generator=generator, device=device).sort(dim=1).values
        offsets = torch.minimum((gaps * (free + 1)).long(), free)
        starts = offsets + torch.arange(k, device=device) * span  # rank among valid tokens
        ranks = starts.unsqueeze(2) + torch.arange(span, device=device)  # B × K × span
        order = valid_first_order(valid)
        targets = torch.gather(order, 1, ranks.reshape(batch_size, -1)).reshape(batch_size, k, span)
        is_target = torch.zeros_like(valid)
        is_target.scatter_(1, targets.reshape(batch_size, -1), True)
        context = complement_context(valid & ~is_target, generator, cfg.min_context)
        return Masks(context=context, targets=targets)


MaskingConfig = SpanMaskingConfig


def build_masking(config: MaskingConfig) -> MaskStrategy:
    """The strategy a recipe's ``masking`` section names."""
    return STRATEGIES[config.strategy](config)

