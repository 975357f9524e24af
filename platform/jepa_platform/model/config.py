"""Encoder and predictor sizes: ViT presets, any key given explicitly overriding the preset."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import model_validator

from ..config import Section

Pooling = Literal["mean", "mean_std", "max"]
"""How a sample's tokens become one embedding: see :attr:`ModelConfig.pooling`."""


def pooled_width(dim: int, pooling: Pooling) -> int:
    """Width of ``dim``-wide tokens pooled by ``pooling``: twice ``dim`` for ``mean_std``."""
    return dim * 2 if pooling == "mean_std" else dim

PRESETS: dict[str, dict[str, int]] = {
    "vit_tiny": dict(embed_dim=192, depth=12, num_heads=3, predictor_dim=96, predictor_depth=6, predictor_heads=3),
    "vit_small": dict(embed_dim=384, depth=12, num_heads=6, predictor_dim=192, predictor_depth=6, predictor_heads=6),
    "vit_base": dict(embed_dim=768, depth=12, num_heads=12, predictor_dim=384, predictor_depth=12, predictor_heads=12),
    "vit_large": dict(embed_dim=1024, depth=24, num_heads=16, predictor_dim=384, predictor_depth=12, predictor_heads=12),
}


class ModelConfig(Section):
    """Encoder and predictor sizes: a preset, with any key given explicitly overriding it."""

    preset: Literal["vit_tiny", "vit_small", "vit_base", "vit_large"] = "vit_small"
    embed_dim: int
    depth: int
    num_heads: int
    predictor_dim: int
    predictor_depth: int
    predictor_heads: int
    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    drop_path: float = 0.0
    activation_checkpointing: bool = False
    """Recompute each transformer block's activations in the backward pass instead of keeping them
    (encoder and predictor): less memory per sample, so larger batches or models, for more compute."""
    pooling: Pooling = "mean"
    """How a sample's valid tokens become its embedding, wherever one row per sample is read (the monitor's
    probe and RankMe, the downstream ``linear`` and ``mlp`` heads, ``embed()``): their ``mean``; their mean
    and standard deviation concatenated (``mean_std``, twice the width); or each feature's maximum
    (``max``: a few informative tokens among many uninformative ones)."""

    @model_validator(mode="before")
    @classmethod
    def _fill_from_preset(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        preset = data.get("preset", "vit_small")
        if preset not in PRESETS:
            return data  # the Literal check reports the bad name
        return {**PRESETS[preset], **{k: v for k, v in data.items() if v is not None}}

    @model_validator(mode="after")
    def _check_heads(self) -> "ModelConfig":
        for dim, heads, name in [
            (self.embed_dim, self.num_heads, "embed_dim/num_heads"),
            (self.predictor_dim, self.predictor_heads, "predictor_dim/predictor_heads"),
        ]:
            if heads < 1 or dim % heads:
                raise ValueError(f"{name}: {dim} is not divisible by {heads} heads")
        return self
