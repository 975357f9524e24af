"""The ``masking`` recipe section: one config per strategy, chosen by ``strategy`` (no torch import)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, Discriminator, PositiveInt, Tag, model_validator

from ..config import Section


def _range_within(low: float, high: float) -> AfterValidator:
    def check(value: tuple[float, float]) -> tuple[float, float]:
        if not low < value[0] <= value[1] <= high:
            raise ValueError(f"must satisfy {low:g} < low <= high <= {high:g}")
        return value

    return AfterValidator(check)


Share = Annotated[tuple[float, float], _range_within(0.0, 1.0)]
"""A ``(low, high)`` range of shares of a grid or sequence: ``0 < low <= high <= 1``."""
Positive = Annotated[tuple[float, float], _range_within(0.0, float("inf"))]
"""A ``(low, high)`` range of positive values (aspect ratios): ``0 < low <= high``."""


class MaskingSection(Section):
    """What every strategy's section holds."""

    size_buckets: PositiveInt | None = None
    """Draw each size range's value (share, scale, ratio, aspect) from this many evenly spaced levels instead
    of continuously; ``1``: the middle of every range. Steps then repeat a few mask sizes, which a compiled
    step (CUDA graphs above all) runs without new shapes; ``null``: any size in the ranges."""


class SpanMaskingConfig(MaskingSection):
    """Contiguous target spans on a 1-D time grid; the context is what the spans leave.

    Defaults follow ECG-JEPA: keep 15-25% of the tokens as context, the rest in
    ``num_spans`` spans of at least ``min_block`` tokens.
    """

    strategy: Literal["spans"] = "spans"
    keep_ratio: tuple[float, float] = (0.15, 0.25)
    num_spans: PositiveInt = 4
    min_block: PositiveInt = 10
    min_context: PositiveInt = 4

    @model_validator(mode="after")
    def _check(self) -> "SpanMaskingConfig":
        lo, hi = self.keep_ratio
        if not 0.0 < lo <= hi < 1.0:
            raise ValueError(f"keep_ratio must satisfy 0 < low <= high < 1, got {self.keep_ratio}")
        return self


class FutureChunkMaskingConfig(MaskingSection):
    """The recent past as context, the next ``num_chunks`` chunks on the time axis as targets.

    Shares are of the batch's fewest valid tokens, drawn once per batch and
    rounded down. No published JEPA code fixes these values (ACT-JEPA's is
    not public); the defaults keep context and chunks within the sequence.
    """

    strategy: Literal["future_chunks"] = "future_chunks"
    context_share: Share = (0.25, 0.5)
    chunk_share: Share = (0.125, 0.25)
    num_chunks: PositiveInt = 2
    min_context: PositiveInt = 1

    @model_validator(mode="after")
    def _check(self) -> "FutureChunkMaskingConfig":
        if self.context_share[1] + self.num_chunks * self.chunk_share[1] > 1.0:
            raise ValueError(
                f"context_share {self.context_share[1]} + num_chunks {self.num_chunks} x chunk_share "
                f"{self.chunk_share[1]} exceeds the sequence"
            )
        return self


class MultiBlockMaskingConfig(MaskingSection):
    """I-JEPA multi-block masks on a 2-D grid (defaults: the released ViT-H/14 config).

    ``num_blocks`` target blocks of ``target_scale`` of the grid at aspect ratio
    (height / width) ``target_aspect``, scale and aspect drawn independently;
    one context block of ``context_scale`` at ``context_aspect``, with the
    targets removed; at least ``min_context`` context tokens, fewer where a
    sample has too few valid tokens (see :class:`MultiBlockMasking`).
    """

    strategy: Literal["multiblock"] = "multiblock"
    num_blocks: PositiveInt = 4
    target_scale: Share = (0.15, 0.2)
    target_aspect: Positive = (0.75, 1.5)
    context_scale: Share = (0.85, 1.0)
    context_aspect: Positive = (1.0, 1.0)
    min_context: PositiveInt = 10


class TubeGeneratorConfig(Section):
    """``num_blocks`` blocks of ``spatial_scale`` of the plane at ``aspect``, over ``temporal_scale`` of the time."""

    spatial_scale: Share = (0.15, 0.15)
    temporal_scale: Share = (1.0, 1.0)
    aspect: Positive = (0.75, 1.5)
    num_blocks: PositiveInt = 8


class TubeMaskingConfig(MaskingSection):
    """V-JEPA 3-D multi-block masks on a ``time × height × width`` grid.

    The union of every generator's tubes is the target set, the rest the
    context. The default is V-JEPA's short-range generator (8 blocks of
    spatial scale 0.15 over the whole clip, leaving about a quarter of the
    tokens as context); V-JEPA's long-range one (2 blocks of 0.7) masks about
    90 % alone, so together they leave only a few percent.
    """

    strategy: Literal["tubes"] = "tubes"
    generators: list[TubeGeneratorConfig] = [TubeGeneratorConfig()]
    min_context: PositiveInt = 10

    @model_validator(mode="after")
    def _check(self) -> "TubeMaskingConfig":
        if not self.generators or self.min_context < 1:
            raise ValueError("tubes need at least one generator and min_context of at least 1")
        return self


class FeatureSubsetMaskingConfig(MaskingSection):
    """A random context subset, then ``num_targets`` random target subsets of the other tokens.

    Shares are of the batch's fewest valid tokens, drawn once per batch.
    Context share and number of targets follow T-JEPA (0.2-0.4, 4). T-JEPA
    draws each target from all non-context features (targets may overlap,
    target share 0.2-0.4): ``disjoint_targets: false`` does the same. With
    disjoint targets (the default) the shares must fit together:
    ``context_share`` high + ``num_targets`` x ``target_share`` high <= 1.
    """

    strategy: Literal["feature_subsets"] = "feature_subsets"
    context_share: Share = (0.2, 0.4)
    target_share: Share = (0.1, 0.15)
    num_targets: PositiveInt = 4
    disjoint_targets: bool = True
    min_context: PositiveInt = 1

    @model_validator(mode="after")
    def _check(self) -> "FeatureSubsetMaskingConfig":
        parts = self.num_targets if self.disjoint_targets else 1
        if self.context_share[1] + parts * self.target_share[1] > 1.0:
            raise ValueError(
                f"context_share {self.context_share[1]} + {parts} x target_share {self.target_share[1]} exceeds "
                "all tokens"
            )
        return self


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
