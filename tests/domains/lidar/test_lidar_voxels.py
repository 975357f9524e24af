"""The vectorized voxelizer against the per-point reference, and the BEV tokenizer's empty token and weights."""

from __future__ import annotations

import numpy as np
import torch
from jepa_domains.lidar.config import LidarDataConfig
from jepa_domains.lidar.tokenizer import BEVTokenizer
from jepa_domains.lidar.voxels import voxelize, voxelize_loop

RANGE = (0.0, -4.0, -2.0, 8.0, 4.0, 2.0)


def cloud(n: int, seed: int = 0) -> np.ndarray:
    """Points around and beyond :data:`RANGE`, clustered so voxels hold more than ``max_points``."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform([-1, -5, -3], [9, 5, 3], (n // 8, 3))
    xyz = np.repeat(centres, 8, axis=0) + rng.normal(0, 0.1, (n // 8 * 8, 3))
    return np.column_stack([xyz, rng.random(len(xyz))]).astype(np.float32)


def test_voxelize_matches_the_per_point_reference() -> None:
    points = cloud(2000)
    for size in [(1.0, 1.0, 4.0), (0.5, 0.5, 0.5)]:
        voxels = voxelize(points, RANGE, size, 3, 10_000)
        reference = voxelize_loop(points, RANGE, size, 3)
        assert voxels.count == len(reference) and voxels.voxels_dropped == 0
        inside = ((points[:, :3] >= RANGE[:3]) & (points[:, :3] < RANGE[3:])).all(axis=1)
        assert voxels.points_in_range == int(inside.sum())
        for features, coords in zip(voxels.features[: voxels.count], voxels.coords[: voxels.count]):
            np.testing.assert_allclose(features, reference[tuple(coords)], atol=1e-5)
        assert not voxels.features[voxels.count :].any()


def test_a_frame_without_points_in_range_has_no_voxels() -> None:
    voxels = voxelize(cloud(64) + np.float32(100), RANGE, (0.5, 0.5, 0.5), 5, 16)
    assert (voxels.count, voxels.points_in_range, voxels.voxels_dropped) == (0, 0, 0)
    assert voxels.features.shape == (16, 8) and not voxels.features.any() and not voxels.coords.any()


def test_max_voxels_keeps_the_fullest_voxels() -> None:
    points = cloud(2000, seed=1)
    full = voxelize(points, RANGE, (0.5, 0.5, 0.5), 5, 10_000)
    cut = voxelize(points, RANGE, (0.5, 0.5, 0.5), 5, 20)
    assert cut.count == 20 and cut.voxels_dropped == full.count - 20
    fills = np.sort(full.features[: full.count, 7])[::-1]
    np.testing.assert_allclose(np.sort(cut.features[:20, 7])[::-1], fills[:20])


def test_empty_cells_take_the_learned_empty_token_and_a_lower_weight() -> None:
    data = LidarDataConfig(point_range=RANGE, voxel_size=(0.5, 0.5, 4.0), token_cells=4, max_voxels=64,
                           empty_target_weight=0.25, channels=8)
    voxels = voxelize(np.array([[0.2, -3.8, 0.0, 1.0], [7.9, 3.9, 1.0, 0.5]], np.float32),
                      data.point_range, data.voxel_size, data.max_points_per_voxel, data.max_voxels)
    batch = {"voxels": torch.from_numpy(voxels.features)[None], "coords": torch.from_numpy(voxels.coords)[None],
             "count": torch.tensor([voxels.count])}
    torch.manual_seed(0)
    tokenizer = BEVTokenizer(data, embed_dim=16)
    assert tokenizer.grid.shape == (4, 4)
    occupied = tokenizer.occupied(batch)[0]
    assert occupied.nonzero().flatten().tolist() == [0, 15]  # first row-major token (y low, x low) and the last
    tokens = tokenizer(batch).tokens[0]
    assert torch.equal(tokens[~occupied], tokenizer.empty.expand(14, -1))
    assert not torch.allclose(tokens[0], tokenizer.empty)
    assert tokenizer.target_weights(batch)[0].tolist() == [1.0] + [0.25] * 14 + [1.0]


def test_sparse_encoder_gives_the_same_token_grid_with_the_empty_token() -> None:
    import spconv  # noqa: F401  (the dev extra installs it: a missing spconv fails, never skips)
    data = LidarDataConfig(point_range=RANGE, voxel_size=(0.25, 0.25, 0.5), token_cells=16, max_voxels=512,
                           encoder="sparse", channels=8)
    points = cloud(400, seed=2)
    points = points[points[:, 0] < 4.0]  # the right half of the plane stays empty
    voxels = voxelize(points, data.point_range, data.voxel_size, data.max_points_per_voxel, data.max_voxels)
    batch = {"voxels": torch.from_numpy(voxels.features)[None], "coords": torch.from_numpy(voxels.coords)[None],
             "count": torch.tensor([voxels.count])}
    tokenizer = BEVTokenizer(data, embed_dim=16, sparse=True)
    tokens = tokenizer(batch).tokens
    assert tokenizer.grid.shape == (2, 2) and tokens.shape == (1, 4, 16)
    occupied = tokenizer.occupied(batch)[0]
    assert occupied.tolist() == [True, False, True, False]  # columns are x: x >= 4 m is empty
    assert torch.equal(tokens[0, ~occupied], tokenizer.empty.expand(2, -1))
    tokens.sum().backward()
    assert tokenizer.to_tokens.weight.grad is not None
