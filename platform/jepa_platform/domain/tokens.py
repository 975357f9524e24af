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

from ..errors import JepaError

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
        if not 1 <= len(self.shape) <= 3:
            raise ValueError(f"a token grid has 1 to 3 axes, got {self.shape}")
        if self.axis_names and len(self.axis_names) != len(self.shape):
            raise ValueError(f"axis_names {self.axis_names} do not match shape {self.shape}")
        empty = [i for i, size in enumerate(self.shape) if size < 1]
        if empty:  # the data settings leave no room for one token: the user's settings, not the plugin's code
            axis = f"'{self.axis_names[empty[0]]}'" if self.axis_names else f"{empty[0]}"
            raise JepaError(
                f"the token grid {self.shape} has no token along axis {axis}: the data settings that size it "
                "(e.g. a sample length or image size against the patch size) leave no room for one token; "
                "check the recipe's data section (--print-config shows it)"
            )
        if not self.ordered and len(self.shape) != 1:
            raise ValueError("an unordered token set has exactly one axis")

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

    def static_valid_mask(self) -> torch.Tensor | None:
        """``N`` bool: the tokens that can be valid at all, whatever the sample (``False`` e.g. for grid cells that
        no input ever fills); ``None`` when every token can be. :meth:`valid_mask` is ``False`` wherever this is;
        ``jepa-platform masks`` draws these tokens invalid, as training never masks them."""
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
