"""The NaN policy: what becomes of windows holding missing values (NaN), the same in every domain.

A recipe's ``data.nan_policy`` (see :class:`~.contract.DataConfig`) says:

- ``interpolate``: in each window, a channel with at most ``data.max_nan_fraction`` of its values
  missing has them filled (linearly within the window for signals); a channel with more is marked
  absent where the domain has absent channels (ECG leads, EEG electrodes), else it drops the
  window; a window left without a present channel is dropped. Nothing is made from nothing: a
  window with no valid value is never training data.
- ``drop``: a window holding any NaN is dropped.
- ``fail``: the first NaN stops the run with one error naming the file, channel and position
  (:func:`check_nan`, called on a file's values as read).

Domains cut windows with NaN where values are missing, pass them through
:func:`apply_nan_policy` and count the outcome per file in a :class:`NanReport`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from ..errors import JepaError

NanPolicy = Literal["interpolate", "drop", "fail"]
NanFill = Literal["linear", "median"]


def check_nan(
    values: np.ndarray,
    policy: NanPolicy,
    source: str | Sequence[str],
    channels: Sequence[str],
    rate: float | None = None,
) -> None:
    """Under ``fail``, raise for the first NaN of ``channels × ...`` values (a file's values as read).

    Args:
        values: ``C × T`` samples (a signal) or ``C × H × W`` pixels (a raster).
        policy: The recipe's ``data.nan_policy``; any other than ``fail`` returns at once.
        source: The file, or the file of each channel; the error names it.
        channels: What the error calls each channel (``lead V1``, ``band VV``).
        rate: Samples per second of a signal, to give the position in seconds too.

    Raises:
        JepaError: ``values`` hold a NaN (or infinite value): naming the file, channel and position,
            the earliest in time of a signal, the first in row order of a raster.
    """
    if policy != "fail":
        return
    missing = ~np.isfinite(values)
    if not missing.any():
        return
    by_position = np.moveaxis(missing, 0, -1).reshape(-1, len(missing))  # the earliest position first
    row = int(by_position.any(axis=1).argmax())
    channel, position = int(by_position[row].argmax()), [int(i) for i in np.unravel_index(row, missing.shape[1:])]
    if len(position) == 2:
        where = f"row {position[0]}, column {position[1]}"
    else:
        where = f"sample {position[0]}" + (f" ({position[0] / rate:.3f} s)" if rate else "")
    file = source if isinstance(source, str) else source[channel]
    raise JepaError(
        f"{file}: NaN in {channels[channel]} at {where} ({int(missing.sum())} missing values in all); "
        "data.nan_policy is fail (interpolate or drop would skip or fill such windows)"
    )


def fill_linear(values: np.ndarray) -> np.ndarray:
    """``values`` (``... × L``) with each NaN linearly interpolated along the last axis between its valid
    neighbours (held at the nearest one at either end); a row without a valid value becomes zeros."""
    finite = np.isfinite(values)
    length = values.shape[-1]
    index = np.arange(length)
    before = np.maximum.accumulate(np.where(finite, index, -1), axis=-1)
    after = np.flip(np.minimum.accumulate(np.flip(np.where(finite, index, length), -1), axis=-1), -1)
    low = np.where(before < 0, after, before).clip(0, length - 1)
    high = np.where(after >= length, before, after).clip(0, length - 1)
    safe = np.where(finite, values, 0.0)
    left, right = np.take_along_axis(safe, low, -1), np.take_along_axis(safe, high, -1)
    weight = np.divide(index - low, high - low, out=np.zeros(low.shape), where=high > low)
    return np.where(finite, values, left + weight * (right - left)).astype(values.dtype, copy=False)


def fill_median(values: np.ndarray) -> np.ndarray:
    """``values`` (``... × L``) with each NaN replaced by the median valid value of its row (zeros without one)."""
    finite = np.isfinite(values)
    rows = finite.any(axis=-1)
    median = np.zeros((*values.shape[:-1], 1))
    median[rows] = np.nanmedian(np.where(finite, values, np.nan)[rows], axis=-1, keepdims=True)
    return np.where(finite, values, median).astype(values.dtype, copy=False)


def resample_missing(missing: np.ndarray, length: int) -> np.ndarray:
    """Where ``... × T`` missing samples lie once the signal is resampled to ``length`` samples: a new sample is
    missing when an original sample within half a new sample of it is (else the nearest one), so gaps keep
    their extent."""
    total = missing.shape[-1]
    ratio = total / length
    centre = np.arange(length) * ratio
    low, high = np.ceil(centre - ratio / 2).astype(int), np.ceil(centre + ratio / 2).astype(int)
    empty = high <= low
    low = np.where(empty, np.floor(centre + 0.5).astype(int), low).clip(0, total - 1)
    high = np.clip(np.where(empty, low + 1, high), low + 1, total)
    counts = np.concatenate([np.zeros((*missing.shape[:-1], 1), int), np.cumsum(missing, axis=-1)], axis=-1)
    return counts[..., high] > counts[..., low]


@dataclass
class NanWindows:
    """The windows :func:`apply_nan_policy` kept, NaN filled, and what it did.

    Args:
        keep: ``N`` bool: which input windows were kept.
        windows: ``K × C × L``: the kept windows, every value finite.
        present: ``K × C`` channel presence of the kept windows (channels over the limit are absent).
        lengths: ``K`` valid lengths of the kept windows (``None`` when none were given).
        dropped: Windows dropped for NaN.
        filled: Kept windows that held NaN (filled, or a channel marked absent).
    """

    keep: np.ndarray
    windows: np.ndarray
    present: np.ndarray
    lengths: np.ndarray | None
    dropped: int
    filled: int


def apply_nan_policy(
    windows: np.ndarray,
    policy: NanPolicy,
    max_fraction: float,
    present: np.ndarray | None = None,
    lengths: np.ndarray | None = None,
    fill: NanFill = "linear",
) -> NanWindows:
    """Drop or fill the windows holding NaN as ``policy`` says (see the module), for a whole batch at once.

    Args:
        windows: ``N × C × L`` values, NaN where missing.
        policy: ``interpolate`` or ``drop``; ``fail`` expects no NaN here (see :func:`check_nan`).
        max_fraction: Under ``interpolate``, the largest share of a channel's values in a window that is filled.
        present: ``N × C`` channel presence, when the domain marks channels absent (absent ones hold zeros);
            ``None``: every channel counts, and one over the limit drops its window.
        lengths: ``N`` valid lengths when windows end in padding (ignored: positions from the length on).
        fill: ``linear`` (along ``L``, for signals) or ``median`` (of the channel's valid values, for rasters).

    Raises:
        ValueError: ``policy`` is ``fail`` and a window holds NaN (the caller skipped :func:`check_nan`).
    """
    count, _, size = windows.shape
    valid = np.ones((count, 1, size), bool) if lengths is None else np.arange(size) < lengths[:, None, None]
    missing = ~np.isfinite(windows) & valid
    holds = missing.any(axis=(1, 2))
    if policy == "fail" and holds.any():
        raise ValueError("data.nan_policy fail: check_nan must refuse the file's values before windows are cut")
    channels = np.ones(windows.shape[:2], bool) if present is None else present.astype(bool)
    fraction = missing.sum(axis=2) / np.maximum(valid.sum(axis=2), 1)
    over = channels & (fraction > max_fraction)
    if policy == "drop":
        keep = ~holds
    elif present is None:
        keep = ~over.any(axis=1)
    else:
        channels = channels & ~over
        keep = channels.any(axis=1)
    kept, channels, valid = windows[keep], channels[keep], valid[keep]
    if holds[keep].any():
        filler = fill_linear if fill == "linear" else fill_median
        kept = np.where(valid & channels[..., None], filler(np.where(valid, kept, np.nan)), 0.0).astype(kept.dtype)
    return NanWindows(
        keep=keep,
        windows=kept,
        present=channels,
        lengths=None if lengths is None else lengths[keep],
        dropped=int((~keep).sum()),
        filled=int(holds[keep].sum()),
    )


@dataclass
class NanReport:
    """Windows dropped and filled for NaN, per file, over one data set (see :func:`apply_nan_policy`)."""

    policy: NanPolicy
    max_fraction: float
    files: int = 0
    counts: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Per file holding NaN: windows dropped, windows filled."""

    def add(self, source: str, result: NanWindows) -> None:
        """Count one file's outcome (every file read, so the line can say how many held NaN)."""
        self.files += 1
        if result.dropped or result.filled:
            self.counts[source] = (result.dropped, result.filled)

    @property
    def dropped(self) -> int:
        return sum(dropped for dropped, _ in self.counts.values())

    @property
    def filled(self) -> int:
        return sum(filled for _, filled in self.counts.values())

    def stats(self) -> dict[str, int]:
        """The totals, as :attr:`~.contract.DatasetSplits.stats` carries them to the run's tracker."""
        return {"windows_dropped_nan": self.dropped, "windows_filled_nan": self.filled}

    def line(self, what: str, files: str = "files", windows: str = "windows", worst: int = 3) -> str | None:
        """One line: how many ``files`` of ``what`` held NaN, the ``windows`` dropped and filled, and the ``worst``
        files; ``None`` when no file held NaN."""
        if not self.counts:
            return None
        ranked = sorted(self.counts.items(), key=lambda item: (-item[1][0], -item[1][1], item[0]))[:worst]
        named = "; ".join(f"{source} ({dropped} dropped, {filled} filled)" for source, (dropped, filled) in ranked)
        more = f" and {len(self.counts) - worst} more" if len(self.counts) > worst else ""
        return (
            f"{what}: NaN in {len(self.counts)} of {self.files} {files}: {self.dropped} {windows} dropped, "
            f"{self.filled} filled (data.nan_policy {self.policy}, data.max_nan_fraction {self.max_fraction:g}): "
            f"{named}{more}"
        )
