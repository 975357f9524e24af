"""The token-grid contract between domain tokenizers and the domain-agnostic core.

A tokenizer turns a batch of raw samples into ``B × N × D`` tokens laid out on a
grid of 1 to 3 axes (time; lead × time; H × W; T × H × W), flattened row-major,
or on an unordered set (tabular features). Positional embeddings and the
masking engine work from this geometry alone, never from the domain.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

MIN_VALID_TOKENS = 2
"""The fewest valid tokens a sample needs to be masked by any strategy: one context and one target token."""


@dataclass(frozen=True)
class TokenGrid:
    """Geometry of a token sequence.

    Args:
        shape: Size of each grid axis; tokens are the row-major flattening.
        ordered: ``False`` for an unordered set (no adjacency, learned positions).
        axis_names: Optional names of the axes, for plots and error messages.
    """

    shape: tuple[int, ...]
    ordered: bool = True
    axis_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not 1 <= len(self.shape) <= 3 or any(s < 1 for s in self.shape):
            raise ValueError(f"a token grid has 1 to 3 axes of positive size, got {self.shape}")
        if not self.ordered and len(self.shape) != 1:
            raise ValueError("an unordered token set has exactly one axis")
        if self.axis_names and len(self.axis_names) != len(self.shape):
            raise ValueError(f"axis_names {self.axis_names} do not match shape {self.shape}")

    @property
    def num_tokens(self) -> int:
        return math.prod(self.shape)

    @property
    def ndim(self) -> int:
        return len(self.shape)


@dataclass
class TokenBatch:
    """Tokens of a batch on a :class:`TokenGrid`.

    Args:
        tokens: ``B × N × D`` embeddings, before positional embeddings.
        valid: ``B × N`` bool, ``False`` for padding or missing input; ``None`` when all are valid.
    """

    tokens: torch.Tensor
    valid: torch.Tensor | None = None


class Tokenizer(nn.Module, ABC):
    """A domain's input layer: ``batch -> TokenBatch`` on a fixed :attr:`grid`.

    Subclasses set ``self.grid`` and ``self.embed_dim`` in ``__init__``. A
    domain with padding or missing input overrides :meth:`valid_mask`, which
    the core calls on the CPU batch before it moves to the device (masks are
    drawn there, with no device synchronization in the training step).
    """

    grid: TokenGrid
    embed_dim: int

    def valid_mask(self, batch: Any) -> torch.Tensor | None:
        """``B × N`` bool validity of the tokens, from the raw batch alone; ``None`` when all are valid."""
        return None

    def target_weights(self, batch: Any) -> torch.Tensor | None:
        """``B × N`` loss weights of the tokens as prediction targets, on the batch's device; ``None``: all equal.

        The prediction loss is then the weighted mean over target tokens (e.g. LiDAR's empty BEV cells
        weighted below occupied ones).
        """
        return None

    @abstractmethod
    def forward(self, batch: Any) -> TokenBatch:
        """Tokenize a collated batch of samples."""
