"""The ``data`` and ``task`` sections of LiDAR recipes: point range, voxel grid, token cells, encoder."""

from __future__ import annotations

from typing import Literal

from jepa_platform.domain import DataConfig, TaskConfig
from pydantic import model_validator

CLASSES = ("Car", "Pedestrian", "Cyclist")
"""The KITTI classes the BEV task and the scene labels use (other label types, DontCare included, are ignored)."""


class LidarDataConfig(DataConfig):
    """Point clouds: where they are, which points are kept, and how they become voxels and BEV tokens.

    Coordinates are the sensor's (KITTI velodyne: x forward, y left, z up, metres).
    ``point_range`` is ``[x_min, y_min, z_min, x_max, y_max, z_max]``; points outside are dropped.
    ``voxel_size`` ``[dx, dy, dz]`` divides it into a ``Z × H × W`` voxel grid (a ``dz`` of the whole
    height range gives pillars); each voxel averages at most ``max_points_per_voxel`` points and a frame
    keeps at most ``max_voxels`` voxels (those holding the most points). ``token_cells`` BEV cells on a
    side make one token. ``encoder`` ``auto`` is the sparse 3-D encoder when spconv is installed, else
    the dense pillar encoder. ``empty_target_weight`` weighs an empty target token against an occupied one
    (AD-L-JEPA: 0.25 against 0.75).
    """

    point_range: tuple[float, float, float, float, float, float] = (0.0, -40.0, -3.0, 70.4, 40.0, 1.0)
    voxel_size: tuple[float, float, float] = (0.05, 0.05, 0.1)
    max_points_per_voxel: int = 5
    max_voxels: int = 16000
    token_cells: int = 32
    encoder: Literal["auto", "pillars", "sparse"] = "auto"
    channels: int = 64
    empty_target_weight: float = 1 / 3
    classes: tuple[str, ...] = CLASSES
    val_fraction: float = 0.1
    demo_frames: int = 240

    @model_validator(mode="after")
    def _check(self) -> "LidarDataConfig":
        low, high = self.point_range[:3], self.point_range[3:]
        if any(h <= lo for lo, h in zip(low, high)) or any(v <= 0 for v in self.voxel_size):
            raise ValueError(f"point_range needs min < max on every axis and voxel_size > 0, got "
                             f"{list(self.point_range)} and {list(self.voxel_size)}")
        for axis, lo, h, size in zip("xyz", low, high, self.voxel_size):
            cells = (h - lo) / size
            if abs(cells - round(cells)) > 1e-3:
                raise ValueError(f"the {axis} extent of point_range ({h - lo:g} m) is not a whole number of "
                                 f"voxel_size ({size:g} m)")
        z, height, width = self.voxel_grid
        if self.token_cells < 1 or height % self.token_cells or width % self.token_cells:
            raise ValueError(f"token_cells ({self.token_cells}) must divide the BEV grid {height} × {width}")
        if self.max_points_per_voxel < 1 or self.max_voxels < 2 or self.channels < 1:
            raise ValueError("need max_points_per_voxel >= 1, max_voxels >= 2 and channels >= 1")
        if self.empty_target_weight < 0 or not 0 <= self.val_fraction < 1 or self.demo_frames < 8:
            raise ValueError("need empty_target_weight >= 0, 0 <= val_fraction < 1 and demo_frames >= 8")
        if not self.classes or len(set(self.classes)) < len(self.classes):
            raise ValueError(f"classes must be distinct and not empty, got {list(self.classes)}")
        return self

    @property
    def voxel_grid(self) -> tuple[int, int, int]:
        """``(Z, H, W)``: voxels along z, y and x."""
        counts = [round((self.point_range[a + 3] - self.point_range[a]) / self.voxel_size[a]) for a in range(3)]
        return counts[2], counts[1], counts[0]

    @property
    def token_grid(self) -> tuple[int, int]:
        """``(h, w)``: BEV tokens along y and x."""
        _, height, width = self.voxel_grid
        return height // self.token_cells, width // self.token_cells


class LidarTaskConfig(TaskConfig):
    """The BEV object task: per token cell, background or the class of the ``label_2`` boxes covering most
    of it. ``val_fraction`` and ``test_fraction`` of the labelled frames (seeded by ``seed``) select and test."""

    name: Literal["bev"] = "bev"
    seed: int = 0
    val_fraction: float = 0.15
    test_fraction: float = 0.25

    @model_validator(mode="after")
    def _check(self) -> "LidarTaskConfig":
        if self.val_fraction <= 0 or self.test_fraction <= 0 or self.val_fraction + self.test_fraction >= 1:
            raise ValueError("need val_fraction > 0, test_fraction > 0 and val_fraction + test_fraction < 1")
        return self
