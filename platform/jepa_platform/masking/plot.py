"""Pictures of sampled masks on a token grid: context, each target block, tokens in neither role, invalid tokens.

The masks are drawn as training draws them: on the tokenizer's static valid
mask (tokens no sample ever fills are invalid, never context or target).
1-D grids and unordered sets are drawn as one row per sample, 2-D grids as
one image per sample, 3-D grids as a strip of time frames per sample.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ..domain.tokens import TokenGrid, Tokenizer
from .base import Masks, MaskStrategy

INVALID, IGNORED, CONTEXT, FIRST_TARGET = 0, 1, 2, 3
ROLE_COLOURS = ("#4d4d4d", "#e8e8e8", "#3b75af")  # invalid, ignored, context
TARGET_COLOURS = ("#d62728", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf")
NEITHER_LABEL = "neither: valid, left out by the strategy"
INVALID_LABEL = "invalid: no input, never context or target"
UNUSED_WARNING = 2 / 3
"""Share of the tokens outside the targets left out of the context above which :func:`usage_warning` warns.

Strategies differ in how much of the grid the targets take (span masks: most of it, by design); a
context that leaves out most of the rest means its block does not fit the grid, e.g. the default
square context block of ``multiblock`` on an 8 × 25 grid keeps about 23 of 200 tokens."""


def sample_masks(
    strategy: MaskStrategy, tokenizer: Tokenizer, count: int, generator: torch.Generator
) -> tuple[Masks, torch.Tensor | None]:
    """``count`` samples of masks as training draws them, and the validity they were drawn on: the tokenizer's
    static valid mask (``None`` when every token can be valid)."""
    static = tokenizer.static_valid_mask()
    valid = None if static is None else static.cpu().bool().expand(count, -1)
    return strategy.sample(tokenizer.grid, count, generator, valid), valid


@dataclass(frozen=True)
class MaskUsage:
    """Tokens per sample in each role, averaged over the samples drawn."""

    tokens: int
    valid: float
    context: float
    targets: float
    neither: float


def mask_usage(masks: Masks, num_tokens: int, valid: torch.Tensor | None = None) -> MaskUsage:
    """How many tokens the masks give each role, on average (a token in several target blocks counts once)."""
    roles = token_roles(masks, num_tokens, valid)
    valid_, context, targets, neither = (
        float(chosen.sum(axis=1).mean())
        for chosen in (roles != INVALID, roles == CONTEXT, roles >= FIRST_TARGET, roles == IGNORED)
    )
    return MaskUsage(num_tokens, valid_, context, targets, neither)


def usage_warning(usage: MaskUsage, strategy: str) -> str | None:
    """A line when the context leaves out most of the valid tokens that are not targets; ``None`` otherwise."""
    outside = usage.context + usage.neither
    if outside == 0 or usage.neither <= UNUSED_WARNING * outside:
        return None
    return (
        f"warning: {strategy} masks keep {usage.context:.0f} of {usage.valid:.0f} valid tokens as context and "
        f"{usage.targets:.0f} as targets, leaving {usage.neither:.0f} ({usage.neither / usage.valid:.0%}) in neither "
        "role: the context block may not fit this grid, or the batch's contexts are cut to its fewest (see the "
        "strategy's masking.* block scales and aspect ratios)"
    )


def token_roles(masks: Masks, num_tokens: int, valid: torch.Tensor | None = None) -> np.ndarray:
    """``B × N`` role codes: invalid, ignored, context, then target block k as ``FIRST_TARGET + k``.

    Where target blocks overlap, the later block's code wins.
    """
    batch_size = masks.context.shape[0]
    roles = torch.full((batch_size, num_tokens), IGNORED, dtype=torch.long)
    if valid is not None:
        roles[~valid.cpu()] = INVALID
    roles.scatter_(1, masks.context.cpu(), CONTEXT)
    for k in range(masks.num_targets):
        roles.scatter_(1, masks.targets[:, k].cpu(), FIRST_TARGET + k)
    return roles.numpy()


def _frames_strip(roles: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``T × H × W`` codes side by side as ``H × (T·(W+1) - 1)``, frames separated by a blank (NaN) column."""
    duration, height, width = shape
    strip = np.full((height, duration * (width + 1) - 1), np.nan)
    for t, frame in enumerate(roles.reshape(shape)):
        strip[:, t * (width + 1) : t * (width + 1) + width] = frame
    return strip


def draw_masks(masks: Masks, grid: TokenGrid, valid: torch.Tensor | None = None, title: str = "") -> Figure:
    """A figure of every sample's masks on ``grid`` with a legend of the roles."""
    roles = token_roles(masks, grid.num_tokens, valid).astype(float)
    count, num_targets = roles.shape[0], masks.num_targets
    targets = [TARGET_COLOURS[k % len(TARGET_COLOURS)] for k in range(num_targets)]
    colours = ListedColormap([*ROLE_COLOURS, *targets]).with_extremes(bad="white")  # bad: between frames
    norm = BoundaryNorm(np.arange(len(colours.colors) + 1) - 0.5, len(colours.colors))
    shown = {"cmap": colours, "norm": norm, "interpolation": "nearest"}
    if grid.ndim == 1:
        width = min(14.0, max(6.0, 2.0 + 0.06 * grid.num_tokens))
        figure = Figure(figsize=(width, 1.4 + 0.35 * count), layout="constrained")
        axes = figure.subplots()
        axes.imshow(roles, aspect="auto", **shown)
        axes.set_yticks(range(count), [f"sample {b}" for b in range(count)])
        name = grid.axis_names[0] if grid.axis_names else "token"
        axes.set_xlabel(name if grid.ordered else f"{name} (unordered set)")
        if not grid.ordered:
            axes.vlines(np.arange(grid.num_tokens - 1) + 0.5, -0.5, count - 0.5, colors="white", linewidth=1)
    elif grid.ndim == 2:
        rows, columns = grid.axis_names or ("axis 0", "axis 1")
        aspect = grid.shape[1] / grid.shape[0]
        figure = Figure(figsize=(min(16.0, (1.2 + 2.2 * max(1.0, aspect)) * count), 3.2), layout="constrained")
        for b, axes in enumerate(figure.subplots(1, count, squeeze=False)[0]):
            axes.imshow(roles[b].reshape(grid.shape), **shown)
            axes.set(title=f"sample {b}", xticks=[], yticks=[], xlabel=columns, ylabel=rows)
    else:
        duration, height, width = grid.shape
        strip_width = duration * (width + 1) - 1
        figure = Figure(figsize=(min(16.0, max(7.5, 1.5 + 0.08 * strip_width)), 1.2 + count * (0.5 + 0.08 * height)))
        figure.set_layout_engine("constrained")
        for b, axes in enumerate(figure.subplots(count, 1, squeeze=False)[:, 0]):
            axes.imshow(_frames_strip(roles[b], grid.shape), **shown)
            time, rows, columns = grid.axis_names or ("t", "axis 1", "axis 2")
            axes.set(xticks=[(t + 0.5) * (width + 1) - 1 for t in range(duration)], yticks=[])
            axes.set_xticklabels([f"{time}={t}" for t in range(duration)], fontsize="small")
            axes.set_ylabel(f"sample {b}\n{rows}", fontsize="small")
            if b == count - 1:
                axes.set_xlabel(f"{time} frames, each {rows} (down) x {columns} (across)")
    legend = [Patch(color=ROLE_COLOURS[CONTEXT], label="context")]
    legend += [Patch(color=colour, label=f"target {k + 1}") for k, colour in enumerate(targets)]
    legend.append(Patch(color=ROLE_COLOURS[IGNORED], label=NEITHER_LABEL))
    if valid is not None and not bool(valid.all()):
        legend.append(Patch(color=ROLE_COLOURS[INVALID], label=INVALID_LABEL))
    figure.legend(handles=legend, loc="outside lower center", ncols=min(len(legend), 3), fontsize="small")
    if title:
        figure.suptitle(title)
    return figure


def png_bytes(figure: Figure, dpi: int = 110) -> bytes:
    """``figure`` as the bytes of a PNG file."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()
