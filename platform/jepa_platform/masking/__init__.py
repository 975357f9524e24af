"""Masking engine: for a whole batch at once, context indices and K target blocks on a token grid.

Every strategy returns equal-length index tensors (no padding, no ragged lists),
computed with tensor ops on the generator's device, reproducible from the
generator's seed, and never selects a token the ``valid`` mask excludes.
A sample with few valid tokens gets smaller masks, not an error:
``min_context`` holds while one token per target group still fits, and is
lowered below that; fewer valid tokens than that is one error naming the
setting (or, below :data:`~jepa_platform.domain.MIN_VALID_TOKENS`, the data).
Strategies register themselves by name; a recipe picks one with
``masking.strategy``:

- ``spans``: contiguous target spans on a time axis (ECG-JEPA);
- ``future_chunks``: the recent past as context, the next chunks as targets (action sequences);
- ``multiblock``: 2-D target blocks and a context block (I-JEPA; images, BEV grids);
- ``tubes``: 3-D blocks spanning time (V-JEPA; video, EEG-as-video);
- ``feature_subsets``: random subsets of an unordered set (T-JEPA; tabular features).
"""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import Discriminator, Tag

from .base import STRATEGIES, Masks, MaskStrategy, mask_seed, register_strategy
from .blocks import MultiBlockMasking, MultiBlockMaskingConfig, TubeGeneratorConfig, TubeMasking, TubeMaskingConfig
from .spans import FutureChunkMasking, FutureChunkMaskingConfig, SpanMasking, SpanMaskingConfig
from .subsets import FeatureSubsetMasking, FeatureSubsetMaskingConfig

DEFAULT_STRATEGY = "spans"


def strategy_of(section: Any) -> str | None:
    """The strategy a ``masking`` section names; a mapping without ``strategy`` means the default."""
    if isinstance(section, dict):
        return section.get("strategy", DEFAULT_STRATEGY)
    return getattr(section, "strategy", None)


MaskingConfig = Annotated[
    Union[
        Annotated[SpanMaskingConfig, Tag("spans")],
        Annotated[FutureChunkMaskingConfig, Tag("future_chunks")],
        Annotated[MultiBlockMaskingConfig, Tag("multiblock")],
        Annotated[TubeMaskingConfig, Tag("tubes")],
        Annotated[FeatureSubsetMaskingConfig, Tag("feature_subsets")],
    ],
    Discriminator(
        strategy_of,
        custom_error_type="unknown_strategy",
        custom_error_message="strategy must be one of spans, future_chunks, multiblock, tubes, feature_subsets",
    ),
]
"""The ``masking`` recipe section: the config of the strategy that ``strategy`` names."""


def build_masking(config: MaskingConfig) -> MaskStrategy:
    """The strategy a recipe's ``masking`` section names."""
    return STRATEGIES[config.strategy](config)


__all__ = [
    "DEFAULT_STRATEGY",
    "STRATEGIES",
    "FeatureSubsetMasking",
    "FeatureSubsetMaskingConfig",
    "FutureChunkMasking",
    "FutureChunkMaskingConfig",
    "MaskStrategy",
    "MaskingConfig",
    "Masks",
    "MultiBlockMasking",
    "MultiBlockMaskingConfig",
    "SpanMasking",
    "SpanMaskingConfig",
    "TubeGeneratorConfig",
    "TubeMasking",
    "TubeMaskingConfig",
    "build_masking",
    "mask_seed",
    "register_strategy",
    "strategy_of",
]
