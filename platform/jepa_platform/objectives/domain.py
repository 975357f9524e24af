"""Domain targets: a plugin's hand-made per-token vectors (e.g. SAR multi-scale gradients) as regression targets."""

from __future__ import annotations

from typing import Any

import torch

from ..domain.targets import TargetFunction
from ..errors import JepaError
from ..masking import Masks
from ..model import gather_tokens


class DomainTargets:
    """The target function's vectors at the target tokens, with their shape checked against the grid.

    Args:
        function: The domain's target function (a module, registered by the module that owns it).
        num_tokens: Tokens of the tokenizer's grid.
        grid: The grid's shape, for messages.
    """

    def __init__(self, function: TargetFunction, num_tokens: int, grid: tuple[int, ...]) -> None:
        self.function, self.num_tokens, self.grid = function, num_tokens, grid

    @property
    def dim(self) -> int:
        return self.function.dim

    @torch.no_grad()
    def targets(self, batch: Any, masks: Masks) -> torch.Tensor:
        """``K × B × Nt × Dt`` float32 targets of the target tokens."""
        values = self.function(batch).float()
        if values.shape[1] != self.num_tokens or values.shape[-1] != self.function.dim:
            raise JepaError(
                f"the target function gave {tuple(values.shape)}, expected B × {self.num_tokens} "
                f"× {self.function.dim} (the tokenizer's grid {self.grid})"
            )
        return gather_tokens(values, masks.targets).transpose(0, 1)
