"""What every strategy shares: the :class:`Masks` result, the strategy registry and batched index helpers."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, ClassVar

import torch

from ..domain.tokens import MIN_VALID_TOKENS, TokenGrid
from ..errors import JepaError


@dataclass
class Masks:
    """Flat token indices into the grid's row-major order.

    Args:
        context: ``B × Nc`` indices the context encoder sees.
        targets: ``B × K × Nt`` indices of K target blocks the predictor predicts.
    """

    context: torch.Tensor
    targets: torch.Tensor

    @property
    def num_targets(self) -> int:
        return self.targets.shape[1]


class MaskStrategy(ABC):
    """Samples :class:`Masks` for a batch on a grid, as its recipe section ``config`` says.

    Attributes:
        name: The ``masking.strategy`` name, for messages.
        grid_axes: The ordered grid the strategy needs (``1``: time, ``2``: a plane, ``3``: time × plane),
            or ``None`` for any grid, unordered sets included.
    """

    name: ClassVar[str]
    grid_axes: ClassVar[int | None] = None

    def __init__(self, config: Any) -> None:
        self.config = config

    def sample(
        self, grid: TokenGrid, batch_size: int, generator: torch.Generator, valid: torch.Tensor | None = None
    ) -> Masks:
        """Masks for ``batch_size`` samples; ``valid`` (``B × N`` bool) excludes tokens from both roles."""
        if self.grid_axes is not None and (grid.ndim != self.grid_axes or not grid.ordered):
            kind = {1: "a 1-D time grid", 2: "a 2-D grid", 3: "a 3-D time × height × width grid"}[self.grid_axes]
            raise JepaError(f"masking.strategy '{self.name}' needs {kind}, got grid shape {grid.shape}")
        return self.draw(grid, batch_size, generator, valid)

    @abstractmethod
    def draw(self, grid: TokenGrid, batch_size: int, generator: torch.Generator, valid: torch.Tensor | None) -> Masks:
        """:meth:`sample` on a grid the strategy accepts."""


STRATEGIES: dict[str, Callable[..., MaskStrategy]] = {}


def register_strategy(name: str) -> Callable[[type], type]:
    """Class decorator adding a strategy to :data:`STRATEGIES` under ``name``."""

    def add(cls: type) -> type:
        cls.name = name
        STRATEGIES[name] = cls
        return cls

    return add


def uniforms(ranges: list[tuple[float, float]], generator: torch.Generator, levels: int | None = None) -> list[float]:
    """One value drawn uniformly from each ``(low, high)`` range, with one draw from ``generator``.

    With ``levels``, each value is the middle of the one of ``levels`` equal parts of its range that the
    draw falls in (``masking.size_buckets``): a handful of sizes, the same draws from the generator.
    """
    draws = torch.rand(len(ranges), generator=generator, device=generator.device).tolist()
    if levels is not None:
        draws = [(min(int(u * levels), levels - 1) + 0.5) / levels for u in draws]
    return [low + (high - low) * u for (low, high), u in zip(ranges, draws)]


def all_valid(grid: TokenGrid, batch_size: int, valid: torch.Tensor | None, device: torch.device) -> torch.Tensor:
    """``valid`` on ``device``, or an all-true ``B × N`` mask; checks its shape against the grid."""
    if valid is None:
        return torch.ones(batch_size, grid.num_tokens, dtype=torch.bool, device=device)
    if tuple(valid.shape) != (batch_size, grid.num_tokens):
        expected = f"{batch_size} × {grid.num_tokens}"
        raise JepaError(f"valid mask of shape {tuple(valid.shape)} does not match {expected} tokens")
    return valid.to(device=device, dtype=torch.bool)


def random_composition(total: torch.Tensor, parts: int, generator: torch.Generator) -> torch.Tensor:
    """Split each row's non-negative integer ``total`` (``B``) into ``parts`` random non-negative integers."""
    cuts = torch.rand(total.shape[0], parts - 1, generator=generator, device=total.device).sort(dim=1).values
    cuts = torch.minimum((cuts * (total.unsqueeze(1) + 1)).long(), total.unsqueeze(1))
    edges = torch.cat([torch.zeros_like(total).unsqueeze(1), cuts, total.unsqueeze(1)], dim=1)
    return edges.diff(dim=1)


def valid_first_order(valid: torch.Tensor) -> torch.Tensor:
    """``B × N`` grid indices with each row's valid tokens first, in grid order."""
    return torch.argsort((~valid).to(torch.int8), dim=1, stable=True)


def rows_of(mask: torch.Tensor, count: int) -> torch.Tensor:
    """Ascending indices of the ``True`` entries along the last axis of a mask holding ``count`` in every row."""
    return mask.nonzero()[:, -1].view(*mask.shape[:-1], count)


def first_true(mask: torch.Tensor, count: int) -> torch.Tensor:
    """Indices of the first ``count`` ``True`` entries along the last axis of a mask, ascending."""
    return rows_of(mask & (mask.cumsum(dim=-1) <= count), count)


def random_keys(mask: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random sort keys, those of ``True`` entries below those of ``False`` ones."""
    keys = torch.rand(mask.shape, generator=generator, device=mask.device, dtype=torch.float64)  # ties: ~N / 2**53
    return keys.masked_fill_(~mask, 2.0)


def cut_to_fewest(mask: torch.Tensor, generator: torch.Generator, counts: torch.Tensor | None = None) -> torch.Tensor:
    """Equal-length ascending indices of ``True`` entries of a ``B × N`` mask, as many as the fewest row has.

    A row with more entries keeps a run of them in grid order (wrapping
    around) that starts at a random entry, so every entry is kept with the
    same probability: no position is favoured, unlike keeping the first ones.
    ``counts`` are the rows' entries, when already known.
    """
    counts = mask.sum(dim=1) if counts is None else counts
    length = int(counts.min())
    if length == 0 or bool((counts == length).all()):
        return first_true(mask, length)
    rank = mask.cumsum(dim=1, dtype=torch.int32)  # 1 + rank among the row's entries
    start = random_below(counts, generator).unsqueeze(1).int()
    wrapped = (start + length - counts.unsqueeze(1)).int()  # the run's end past the row's last entry
    run = ((rank > start) & (rank <= start + length)) | (rank <= wrapped)
    return rows_of(mask & run, length)


def valid_counts(valid: torch.Tensor, name: str, targets: int = 1, setting: str = "") -> torch.Tensor:
    """Each sample's valid tokens (``B``), checked to hold ``targets`` target tokens and one context token.

    Raises:
        JepaError: A sample has fewer; below :data:`MIN_VALID_TOKENS` it is the data's doing, otherwise
            ``setting`` (one target token each) is to be lowered.
    """
    counts = valid.sum(dim=1)
    fewest = int(counts.min())
    if fewest < MIN_VALID_TOKENS:
        raise JepaError(
            f"masking: a sample has {fewest} valid token(s), fewer than the {MIN_VALID_TOKENS} any mask needs "
            "(one context and one target token); the data settings must give each sample more valid tokens"
        )
    if fewest < targets + 1:
        raise JepaError(
            f"masking: a sample has {fewest} valid tokens, fewer than the {targets + 1} masking.strategy '{name}' "
            f"needs (one token for each of its {targets} targets, one for the context); lower {setting} to "
            f"{fewest - 1} or less"
        )
    return counts


def context_floor(counts: torch.Tensor, min_context: int, targets: int = 1) -> torch.Tensor:
    """Per sample (``B``), the fewest context tokens: ``min_context``, lowered to leave ``targets`` target tokens."""
    return (counts - targets).clamp(max=min_context)


def indices_to_mask(indices: torch.Tensor, num_tokens: int) -> torch.Tensor:
    """``B × N`` bool mask of the tokens whose indices appear in ``indices`` (``B × ...``)."""
    flat = indices.reshape(indices.shape[0], -1)
    mask = torch.zeros(flat.shape[0], num_tokens, dtype=torch.bool, device=indices.device)
    return mask.scatter_(1, flat, True)


def random_below(high: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Uniform random integers in ``[0, high)``, elementwise for a positive integer tensor ``high``."""
    draws = torch.rand(high.shape, generator=generator, device=high.device, dtype=torch.float64)
    return torch.minimum((draws * high).long(), high - 1)


def mask_seed(seed: int, step: int, rank: int = 0, world_size: int = 1) -> int:
    """The seed of the masks process ``rank`` of ``world_size`` draws at ``step``: one per (run seed, step, rank).

    Each process of a distributed run draws its own masks for its own samples,
    so the global batch sees as many different masks as it has samples; a
    single process draws what it always drew. The values stay distinct within
    32 bits (all a CPU generator's seed keeps) for any realistic step count.
    """
    return seed * 1_000_003 + step * world_size + rank
