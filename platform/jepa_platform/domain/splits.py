"""The hash holdout: a deterministic validation split by name, the same on every machine and run."""

from __future__ import annotations

import zlib
from collections.abc import Iterable

import numpy as np


def in_holdout(name: str, percent: float) -> bool:
    """Whether ``name`` (a record, a patient) falls in the ``percent``% holdout: a CRC32 of the name."""
    return zlib.crc32(name.encode()) % 10_000 < percent * 100


def holdout_mask(names: Iterable[str], percent: float) -> np.ndarray:
    """:func:`in_holdout` of each name, as a bool array."""
    return np.array([in_holdout(name, percent) for name in names], dtype=bool)
