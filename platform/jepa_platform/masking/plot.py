"""Pictures of sampled masks on a token grid: context, each target block, and tokens in neither role.

1-D grids and unordered sets are drawn as one row per sample, 2-D grids as
one image per sample, 3-D grids as a strip of time frames per sample.
"""

from __future__ import annotations

import io

import numpy as np
import torch
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ..domain.tokens import TokenGrid
from .base import Masks

INVALID, IGNORED, CONTEXT, FIRST_TARGET = 0, 1, 2, 3
ROLE_COLOURS = ("#4d4d4d", "#e8e8e8", "#3b75af")  # invalid, ignored, context
TARGET_COLOURS = ("#d62728", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf")


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
        figure = Figure(figsize=(2.6 * count, 3.0), layout="constrained")
        for b, axes in enumerate(figure.subplots(1, count, squeeze=False)[0]):
            axes.imshow(roles[b].reshape(grid.shape), **shown)
            axes.set(title=f"sample {b}", xticks=[], yticks=[])
    else:
        duration, height, width = grid.shape
        strip_width = duration * (width + 1) - 1
        figure = Figure(figsize=(min(16.0, 1.5 + 0.08 * strip_width), 0.6 + count * (0.5 + 0.08 * height)))
        figure.set_layout_engine("constrained")
        for b, axes in enumerate(figure.subplots(count, 1, squeeze=False)[:, 0]):
            axes.imshow(_frames_strip(roles[b], grid.shape), **shown)
            axes.set(xticks=[(t + 0.5) * (width + 1) - 1 for t in range(duration)], yticks=[])
            axes.set_xticklabels([f"t={t}" for t in range(duration)], fontsize="small")
            axes.set_ylabel(f"sample {b}")
    legend = [Patch(color=ROLE_COLOURS[CONTEXT], label="context")]
    legend += [Patch(color=colour, label=f"target {k + 1}") for k, colour in enumerate(targets)]
    legend.append(Patch(color=ROLE_COLOURS[IGNORED], label="neither"))
    if valid is not None:
        legend.append(Patch(color=ROLE_COLOURS[INVALID], label="invalid"))
    figure.legend(handles=legend, loc="outside lower center", ncols=min(len(legend), 6), fontsize="small")
    if title:
        figure.suptitle(title)
    return figure


def png_bytes(figure: Figure, dpi: int = 110) -> bytes:
    """``figure`` as the bytes of a PNG file."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()
