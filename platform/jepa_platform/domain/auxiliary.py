"""The auxiliary-loss contract: a domain's supervised term added to the JEPA loss during pretraining.

The core stays domain-agnostic: it hands the module the context encoder's
output, the masks and the raw batch, and adds the scalar it returns to the
loss it minimizes (logged as ``train/auxiliary_loss``). The module's weights
train with the encoder and are saved in the checkpoint under ``auxiliary.``;
downstream tasks use the encoder alone. Example: the action domain regresses
the action chunk that follows the context (ACT-JEPA).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import torch
from torch import nn


class AuxiliaryLoss(nn.Module, ABC):
    """A supervised loss on the context encoder's output, already weighted against the JEPA loss."""

    @abstractmethod
    def forward(self, context: torch.Tensor, context_index: torch.Tensor, batch: Any) -> torch.Tensor:
        """The weighted scalar loss.

        Args:
            context: ``B × Nc × D`` encoder outputs of the context tokens.
            context_index: ``B × Nc`` their flat indices on the tokenizer's grid (the masks' context).
            batch: The collated batch on the device.
        """
