"""jepa-platform: Joint-Embedding Predictive Architecture pretraining, one core and a plugin per domain."""

from typing import Any

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """``jepa_platform.load_encoder``, imported on first use (the command line stays fast without torch)."""
    if name == "load_encoder":
        from .downstream.pretrained import load_encoder

        return load_encoder
    raise AttributeError(f"module 'jepa_platform' has no attribute {name!r}")
