"""The networks: the encoder (tokenizer + positions + ViT blocks), the predictor, their sizes and FLOPs."""

from .config import PRESETS, ModelConfig
from .encoder import Encoder, TransformerStack, gather_tokens, key_padding_mask, pooled
from .flops import jepa_step_flops, transformer_forward_flops
from .predictor import Predictor

__all__ = [
    "PRESETS", "Encoder", "ModelConfig", "Predictor", "TransformerStack",
    "gather_tokens", "jepa_step_flops", "key_padding_mask", "pooled", "transformer_forward_flops",
]
