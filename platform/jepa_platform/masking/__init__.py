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

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .config import (
    DEFAULT_STRATEGY,
    FeatureSubsetMaskingConfig,
    FutureChunkMaskingConfig,
    MaskingConfig,
    MultiBlockMaskingConfig,
    SpanMaskingConfig,
    TubeGeneratorConfig,
    TubeMaskingConfig,
    strategy_of,
)

if TYPE_CHECKING:
    from .base import STRATEGIES, Masks, MaskStrategy, mask_seed, register_strategy
    from .blocks import MultiBlockMasking, TubeMasking
    from .spans import FutureChunkMasking, SpanMasking
    from .subsets import FeatureSubsetMasking

_LAZY = {
    "STRATEGIES": "base", "Masks": "base", "MaskStrategy": "base", "mask_seed": "base", "register_strategy": "base",
    "MultiBlockMasking": "blocks", "TubeMasking": "blocks", "FutureChunkMasking": "spans", "SpanMasking": "spans",
    "FeatureSubsetMasking": "subsets",
}
"""The torch-backed names, imported on first use so that reading a recipe needs no torch."""


def _strategies() -> dict[str, Any]:
    """:data:`STRATEGIES` with every built-in strategy registered."""
    for module in ("blocks", "spans", "subsets"):
        import_module(f".{module}", __name__)
    return import_module(".base", __name__).STRATEGIES


def build_masking(config: MaskingConfig) -> MaskStrategy:
    """The strategy a recipe's ``masking`` section names."""
    return _strategies()[config.strategy](config)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        _strategies()
        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

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
