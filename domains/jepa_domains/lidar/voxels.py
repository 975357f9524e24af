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
    xyz = np.ascontiguousarray(points[:, :3].T)  # one row per axis: the passes below run over contiguous memory
    inside = (xyz[0] >= low[0]) & (xyz[0] < high[0]) & (xyz[1] >= low[1]) & (xyz[1] < high[1])
    inside &= (xyz[2] >= low[2]) & (xyz[2] < high[2])
    rows = np.flatnonzero(inside)  # the in-range points
    in_range = np.take(xyz, rows, axis=1)  # np.take copies far faster than fancy indexing
    keys = np.zeros(len(rows), np.int64)  # linear voxel index, x fastest
    for axis in (2, 1, 0):  # float32 as the reference
        index = ((in_range[axis] - low[axis]) / size[axis]).astype(np.int64)
        keys = keys * dims[axis] + np.minimum(index, dims[axis] - 1)
    # One sort of (voxel key, point number) packed in int64: grouped by voxel, scan order within each.
    shift = max(1, len(keys).bit_length())
    packed = np.sort((keys << shift) | np.arange(len(keys)))
    order, keys = packed & ((1 << shift) - 1), packed >> shift
    first = np.ones(len(keys), bool)  # first sorted position of each voxel
    np.not_equal(keys[1:], keys[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    unique, totals = keys[starts], np.diff(np.r_[starts, len(keys)])
    counts = np.minimum(totals, max_points)
    # A point's rank within its voxel is its sorted position less its voxel's start; keep ranks < max_points.
    used = np.flatnonzero(np.arange(len(keys)) - np.repeat(starts, totals) < max_points)
    members = np.take(points, rows[order[used]], axis=0)
    voxel = np.repeat(np.arange(len(unique)), counts)
    sums = [np.bincount(voxel, members[:, c], len(unique)) for c in range(4)]  # float64, x y z intensity
    chosen = np.arange(len(unique)) if len(unique) <= max_voxels else np.sort(
        np.argsort(-counts, kind="stable")[:max_voxels]  # most points first, then grid order
    )
    # Features column by column, on the kept voxels only, written straight into the padded arrays.
    out_features = np.zeros((max_voxels, len(FEATURES)), np.float32)
    out_coords = np.zeros((max_voxels, 3), np.int32)
    features, coords = out_features[: len(chosen)], out_coords[: len(chosen)]
    cells, kept_counts = unique[chosen], counts[chosen]
    for axis in range(3):  # x, y, z; coords are z, y, x
        above = cells // dims[axis]
        index, cells = cells - above * dims[axis], above  # cells % dims, without the slow int64 modulo
        coords[:, 2 - axis] = index
        features[:, axis] = mean = sums[axis][chosen] / kept_counts
        features[:, 4 + axis] = mean - (low[axis] + (index + 0.5) * size[axis])  # offset from the voxel centre
    features[:, 3] = sums[3][chosen] / kept_counts
    features[:, 7] = kept_counts / max_points
    return Voxels(out_features, out_coords, len(chosen), len(rows), len(unique) - len(chosen))


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
