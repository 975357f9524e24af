"""The choices of a downstream recipe that modules holding torch code also name (no torch import)."""

from typing import Literal

HeadKind = Literal["linear", "mlp", "attentive"]
Which = Literal["target", "context"]
"""``target``: the EMA teacher (I-JEPA evaluates it), or the encoder itself for objectives without one;
``context``: the student."""
