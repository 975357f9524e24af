"""The networks: the encoder (tokenizer + positions + ViT blocks), the predictor, their sizes and FLOPs."""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .config import PRESETS, ModelConfig, Pooling, pooled_width

if TYPE_CHECKING:
    from .encoder import Encoder, TransformerStack, gather_tokens, key_padding_mask, pooled
    from .flops import jepa_step_flops, transformer_forward_flops
    from .predictor import Predictor

_LAZY = {
    "Encoder": "encoder", "TransformerStack": "encoder", "gather_tokens": "encoder", "key_padding_mask": "encoder",
    "pooled": "encoder", "jepa_step_flops": "flops", "transformer_forward_flops": "flops", "Predictor": "predictor",
}
"""The torch-backed names, imported on first use so that reading a recipe needs no torch."""

__all__ = [
    "PRESETS", "Encoder", "ModelConfig", "Pooling", "Predictor", "TransformerStack",
    "gather_tokens", "jepa_step_flops", "key_padding_mask", "pooled", "pooled_width", "transformer_forward_flops",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
