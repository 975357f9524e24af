"""The choices of a downstream recipe that modules holding torch code also name (no torch import)."""

from typing import Literal

HeadKind = Literal["linear", "mlp", "attentive", "last"]
"""``last``: an MLP on the last valid token, for tokens in time order (a policy reads the latest step)."""
Which = Literal["target", "context"]
"""``target``: the EMA teacher (I-JEPA evaluates it), or the encoder itself for objectives without one;
``context``: the student."""
