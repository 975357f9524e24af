"""Validation splits: the hash holdout by name (the same on every machine and run), and the window holdout that
takes over when the data is too small to hold out a whole recording."""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np


def in_holdout(name: str, percent: float) -> bool:
    """Whether ``name`` (a record, a patient) falls in the ``percent``% holdout: a CRC32 of the name."""
    return zlib.crc32(name.encode()) % 10_000 < percent * 100


def holdout_mask(names: Iterable[str], percent: float) -> np.ndarray:
    """:func:`in_holdout` of each name, as a bool array."""
    return np.array([in_holdout(name, percent) for name in names], dtype=bool)


@dataclass
class Holdout:
    """Which windows train and which validate (windows in neither are left out), and a line saying how when
    validation is not whole recordings (``None`` otherwise, and when nothing could be held out)."""

    train: np.ndarray
    val: np.ndarray
    note: str | None = None


def split_holdout(
    keys: Iterable[str], recordings: np.ndarray, starts: np.ndarray, size: int, percent: float, unit: str
) -> Holdout:
    """The ``percent``% hash holdout of ``keys`` (whole records or patients); when that leaves the training or
    the validation split empty, the last ``percent``% of each recording's windows instead.

    Held-out windows are the last of their recording (at least one, when it has two or more); training
    keeps the windows that end before the first of them, so no sample is in both splits.

    Args:
        keys: Per window, the name the hash holdout draws (a record, a patient).
        recordings: Per window, its recording (any integer id).
        starts: Per window, its first sample in the recording.
        size: Samples per window.
        percent: Share held out: of the keys, else of each recording's windows; 0 holds out nothing.
        unit: What a key is, for the note (``record``, ``patient``).
    """
    keys = list(keys)
    by_key = holdout_mask(keys, percent)
    if by_key.any() and not by_key.all() or percent <= 0:
        return Holdout(~by_key, by_key)
    group = np.unique(recordings, return_inverse=True)[1]
    counts = np.bincount(group)
    order = np.lexsort((-starts, group))  # each recording's windows, last first
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order)) - np.repeat(np.cumsum(counts) - counts, counts)
    taken = np.where(counts >= 2, np.clip(np.ceil(counts * percent / 100), 1, counts - 1), 0)
    val = rank < taken[group]
    first = np.full(len(counts), np.inf)
    np.minimum.at(first, group[val], starts[val])
    train = ~val & (starts + size <= first[group])
    if not val.any():
        return Holdout(train, val)
    keyed, gap = len(set(keys)), int((~val & ~train).sum())
    return Holdout(
        train,
        val,
        f"validation: the last {percent:g}% of each recording's windows ({int(val.sum())} of {len(val)}"
        + (f"; {gap} overlapping them left out of training" if gap else "")
        + f"), as holding out {percent:g}% of the {keyed} {unit}{'s' * (keyed != 1)} (data.val_percent) leaves no "
        + f"{unit} for {'training' if by_key.all() else 'validation'}",
    )
