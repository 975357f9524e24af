"""Points -> voxels (or pillars) with per-cell features, vectorized in numpy (no per-point Python loop).

Each occupied voxel averages its first ``max_points`` points (in scan order, as
OpenPCDet's voxel generator keeps them) into :data:`FEATURES`: the mean x, y, z
and intensity, the mean's offset from the voxel centre, and the share of
``max_points`` it holds. A frame keeps at most ``max_voxels`` voxels, those with
the most points, and stores them as a fixed-size array with a count, so frames
batch and shard without ragged lists.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FEATURES = ("x", "y", "z", "intensity", "dx", "dy", "dz", "fill")


@dataclass
class Voxels:
    """One frame's voxels, padded to ``max_voxels`` rows.

    Args:
        features: ``max_voxels × 8`` float32 (:data:`FEATURES`, metres and intensity), zeros past ``count``.
        coords: ``max_voxels × 3`` int32 voxel indices (z, y, x), zeros past ``count``.
        count: Occupied voxels kept.
        points_in_range: Points inside the point range.
        voxels_dropped: Occupied voxels beyond ``max_voxels`` (the ones with the fewest points).
    """

    features: np.ndarray
    coords: np.ndarray
    count: int
    points_in_range: int
    voxels_dropped: int


def voxelize(
    points: np.ndarray,
    point_range: tuple[float, ...],
    voxel_size: tuple[float, float, float],
    max_points: int,
    max_voxels: int,
) -> Voxels:
    """Voxels of ``points`` (``N × 4``: x, y, z, intensity) on the grid of ``point_range`` and ``voxel_size``."""
    low = np.asarray(point_range[:3], np.float32)
    high = np.asarray(point_range[3:], np.float32)
    size = np.asarray(voxel_size, np.float32)
    dims = np.round((high - low) / size).astype(np.int64)  # x, y, z
    inside = np.ones(len(points), bool)
    for axis in range(3):
        inside &= (points[:, axis] >= low[axis]) & (points[:, axis] < high[axis])
    kept = points[inside]
    index = np.minimum(((kept[:, :3] - low) / size).astype(np.int64), dims - 1)
    keys = (index[:, 2] * dims[1] + index[:, 1]) * dims[0] + index[:, 0]
    # One sort of (voxel key, point number) packed in int64: grouped by voxel, scan order within each.
    shift = max(1, int(len(keys)).bit_length())
    order = np.sort((keys << shift) | np.arange(len(keys))) & ((1 << shift) - 1)
    keys, kept = keys[order], kept[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    unique, totals = keys[starts], np.diff(np.r_[starts, len(keys)])
    voxel = np.repeat(np.arange(len(unique)), totals)
    use = np.arange(len(keys)) - starts[voxel] < max_points
    counts = np.minimum(totals, max_points)
    sums = np.stack([np.bincount(voxel[use], kept[use, c], len(unique)) for c in range(4)], axis=1)
    means = sums / counts[:, None]
    chosen = np.arange(len(unique)) if len(unique) <= max_voxels else np.sort(
        np.argsort(-counts, kind="stable")[:max_voxels]  # most points first, then grid order
    )
    cells = unique[chosen]
    coords = np.stack([cells // (dims[0] * dims[1]), cells // dims[0] % dims[1], cells % dims[0]], axis=1)
    centres = low + (coords[:, ::-1] + 0.5) * size
    features = np.concatenate(
        [means[chosen], means[chosen, :3] - centres, (counts[chosen] / max_points)[:, None]], axis=1
    )
    out_features = np.zeros((max_voxels, len(FEATURES)), np.float32)
    out_coords = np.zeros((max_voxels, 3), np.int32)
    out_features[: len(chosen)] = features
    out_coords[: len(chosen)] = coords
    return Voxels(out_features, out_coords, len(chosen), int(inside.sum()), len(unique) - len(chosen))


def voxelize_loop(
    points: np.ndarray,
    point_range: tuple[float, ...],
    voxel_size: tuple[float, float, float],
    max_points: int,
) -> dict[tuple[int, int, int], np.ndarray]:
    """The straightforward per-point reference of :func:`voxelize` (no ``max_voxels``): voxel (z, y, x) -> features.

    Used by the tests and the benchmark only.
    """
    cells: dict[tuple[int, int, int], list[np.ndarray]] = {}
    for point in points:
        if not all(point_range[a] <= point[a] < point_range[a + 3] for a in range(3)):
            continue
        ix, iy, iz = (min(int((point[a] - point_range[a]) / voxel_size[a]),
                          round((point_range[a + 3] - point_range[a]) / voxel_size[a]) - 1) for a in range(3))
        members = cells.setdefault((iz, iy, ix), [])
        if len(members) < max_points:
            members.append(point.astype(np.float64))
    result = {}
    for (iz, iy, ix), members in cells.items():
        mean = np.mean(members, axis=0)
        centre = [point_range[a] + ((ix, iy, iz)[a] + 0.5) * voxel_size[a] for a in range(3)]
        result[(iz, iy, ix)] = np.array([*mean, *(mean[:3] - centre), len(members) / max_points])
    return result
