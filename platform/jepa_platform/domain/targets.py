"""The domain target-function contract: hand-made per-token regression targets (e.g. SAR gradients)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import torch
from torch import nn


class TargetFunction(nn.Module, ABC):
    """A domain's hand-made regression target: per-token vectors computed from the raw batch on the device.

    Subclasses set ``self.dim`` (the target width ``Dt``) in ``__init__``; the
    tokens are those of the domain's tokenizer, in its grid order.
    """

    dim: int

    @abstractmethod
    def forward(self, batch: Any) -> torch.Tensor:
        """``B × N × Dt`` targets of a collated batch (no gradient flows through them)."""
