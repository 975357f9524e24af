"""What the predictor regresses and what keeps the embeddings from collapsing: one component per objective.

- :mod:`.ema`: an EMA teacher, whose layer-normed embeddings are the targets (I-JEPA, V-JEPA).
- :mod:`.sigreg`: no teacher; the encoder's own embeddings, regularized by SIGReg (LeJEPA).
- :mod:`.domain`: a domain plugin's hand-made targets computed from the raw input (SAR gradients).

:class:`ObjectiveConfig` is the recipe's ``objective`` section that picks and sets them.
"""

from .config import LOSSES, ObjectiveConfig, prediction_loss
from .domain import DomainTargets
from .ema import EMATeacher
from .sigreg import SIGRegConfig, sigreg

__all__ = ["LOSSES", "DomainTargets", "EMATeacher", "ObjectiveConfig", "SIGRegConfig", "prediction_loss", "sigreg"]
