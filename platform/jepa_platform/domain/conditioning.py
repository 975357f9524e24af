"""The predictor-conditioning contract: what a domain tells the predictor about each target beyond its position.

seq-JEPA and action-conditioned world models give the predictor the
transformation between the context and the target (e.g. the actions taken in
between), so that the encoder need not guess it. The core stays
domain-agnostic: it hands the module the raw batch and the masks' indices, and adds the
``K × B × Nt × width`` vectors it returns to the predictor's target queries
(the mask token plus the target's position). The module trains with the
predictor and is saved in the checkpoint under ``conditioning.``; it is not
part of the exported encoder.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import torch
from torch import nn


class PredictorConditioning(nn.Module, ABC):
    """Per-target-token vectors added to the predictor's queries."""

    @abstractmethod
    def forward(self, batch: Any, context: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """``K × B × Nt × width`` vectors (``width``: the predictor's), one per target token of each block.

        Args:
            batch: The collated batch on the device.
            context: The step's context, ``B × Nc`` flat indices on the tokenizer's grid.
            targets: The step's target blocks, ``B × K × Nt`` flat grid indices.
        """
