"""The 19 channels of the 10-20 system, channel-name normalization, and their 2-D scalp grid.

Scalp grid: the electrodes' 3-D positions in mne's ``colin27_1020`` montage
(the former ``standard_1020``) are projected orthographically onto the
horizontal plane (x: left -> right, y: back -> front) and each axis is scaled
to ``[0, size - 1]`` over the 19 electrodes. The row is the rounded y; within
a row, electrodes are snapped to distinct columns by the assignment of least
total squared x distance (Hungarian algorithm), so no two share a cell. On
the 5 x 5 grid row 0 is the front (Fp1/Fp2) and row 4 the back (O1/O2); the 6
empty cells are always invalid tokens::

    .   Fp1  .   Fp2  .
    F7  F3   Fz  F4   F8
    T3  C3   Cz  C4   T4
    T5  P3   Pz  P4   T6
    .   O1   .   O2   .
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np

CHANNELS_1020: tuple[str, ...] = (
    "Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T3", "C3", "Cz",
    "C4", "T4", "T5", "P3", "Pz", "P4", "T6", "O1", "O2",
)  # fmt: skip
"""The 19 channels, with the older temporal names TUAB uses (T3/T4/T5/T6 = T7/T8/P7/P8)."""

GRID_SIZE = 5
_ALIASES = {"T7": "T3", "T8": "T4", "P7": "T5", "P8": "T6"}
_BY_UPPER = {name.upper(): name for name in CHANNELS_1020} | {k.upper(): v for k, v in _ALIASES.items()}
_PREFIX = re.compile(r"^(EEG|EEG:)\s*", re.IGNORECASE)


def normalize_channel(name: str) -> str | None:
    """The 10-20 name of a recorded channel (``EEG FP1-REF``, ``Fp1``, ``FP1-LE``, ``T7`` -> ``Fp1``/``T3``), or ``None``."""
    bare = _PREFIX.sub("", name.strip()).split("-")[0].strip()
    return _BY_UPPER.get(bare.upper())


@lru_cache(maxsize=1)
def _positions() -> np.ndarray:
    import mne

    montage = mne.channels.make_standard_montage("colin27_1020")
    positions = montage.get_positions()["ch_pos"]
    new_names = {v: k for k, v in _ALIASES.items()}
    return np.stack([positions[new_names.get(name, name)] for name in CHANNELS_1020])


def scalp_cells(size: int = GRID_SIZE) -> np.ndarray:
    """``19 × 2`` (row, column) cells of :data:`CHANNELS_1020` on a ``size × size`` grid (see the module doc).

    Raises:
        ValueError: A row of the grid would hold more than ``size`` electrodes.
    """
    from scipy.optimize import linear_sum_assignment

    xy = _positions()[:, :2]
    scaled = (xy - xy.min(axis=0)) / (xy.max(axis=0) - xy.min(axis=0)) * (size - 1)
    rows = np.rint((size - 1) - scaled[:, 1]).astype(np.int64)  # row 0 at the front
    cols = np.empty_like(rows)
    for row in np.unique(rows):
        members = np.flatnonzero(rows == row)
        if len(members) > size:
            raise ValueError(f"{len(members)} electrodes fall into row {row} of a {size} x {size} scalp grid")
        cost = (scaled[members, 0, None] - np.arange(size)[None, :]) ** 2
        picked, chosen = linear_sum_assignment(cost)
        cols[members[picked]] = chosen
    return np.stack([rows, cols], axis=1)


def grid_picture(size: int = GRID_SIZE) -> str:
    """The scalp grid as text, one row a line (``.`` for an empty cell)."""
    rows = [["." for _ in range(size)] for _ in range(size)]
    for name, (row, col) in zip(CHANNELS_1020, scalp_cells(size)):
        rows[row][col] = name
    return "\n".join(" ".join(f"{cell:<4}" for cell in row).rstrip() for row in rows)
