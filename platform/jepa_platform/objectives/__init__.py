"""What the predictor regresses and what keeps the embeddings from collapsing: one component per objective.

- :mod:`.ema`: an EMA teacher, whose layer-normed embeddings are the targets (I-JEPA, V-JEPA).
- :mod:`.sigreg`: no teacher; the encoder's own embeddings, regularized by SIGReg (LeJEPA).
- :mod:`.domain`: a domain plugin's hand-made targets computed from the raw input (SAR gradients).

:class:`ObjectiveConfig` is the recipe's ``objective`` section that picks and sets them.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .config import ObjectiveConfig, SIGRegConfig

if TYPE_CHECKING:
    from .domain import DomainTargets
    from .ema import EMATeacher
    from .loss import LOSSES, prediction_loss
    from .sigreg import sigreg

_LAZY = {"LOSSES": "loss", "prediction_loss": "loss", "DomainTargets": "domain", "EMATeacher": "ema", "sigreg": "sigreg"}
"""The torch-backed names, imported on first use so that reading a recipe needs no torch."""

__all__ = ["LOSSES", "DomainTargets", "EMATeacher", "ObjectiveConfig", "SIGRegConfig", "prediction_loss", "sigreg"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
