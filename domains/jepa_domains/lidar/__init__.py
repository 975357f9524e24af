"""The LiDAR domain (AD-L-JEPA): KITTI velodyne ``.bin`` (+ ``label_2``, ``calib``), PCD and PLY scans,
voxels or pillars to bird's-eye-view tokens with a learned empty token, BEV block masks.

Heavy libraries (torch, open3d, spconv) are imported inside the methods, so listing domains stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jepa_platform.domain import (
    DatasetSplits,
    DomainPlugin,
    DownstreamTask,
    PreparedSamples,
    PreparedShards,
    PrepareSource,
)

from .config import LidarDataConfig, LidarTaskConfig

__all__ = ["LidarDataConfig", "LidarTaskConfig", "LidarDomain", "plugin"]


class LidarDomain(DomainPlugin[LidarDataConfig, LidarTaskConfig]):
    name = "lidar"
    description = "LiDAR scans (KITTI .bin + label_2/calib, PCD, PLY); BEV voxel/pillar tokens, empty token, BEV blocks"
    requires = ()
    install_hint = "pip install 'jepa-platform[lidar]'"

    def default_recipe(self) -> dict[str, Any]:
        # AD-L-JEPA on KITTI: 0.05 × 0.05 × 0.1 m voxels, 5 points each, EMA 0.996 -> 1; BEV blocks over
        # occupied and empty cells, empty targets weighted 0.25 against 0.75 (data.empty_target_weight 1/3).
        return {
            "model": {"preset": "vit_small"},
            "masking": {
                "strategy": "multiblock", "num_blocks": 4, "target_scale": [0.1, 0.15], "context_scale": [0.85, 1.0],
            },
            "objective": {"ema_momentum": [0.996, 1.0]},
            "trainer": {"batch_size": 16, "val_every_n_steps": 100},
        }

    def demo_recipe(self) -> dict[str, Any]:
        # A 48 m × 48 m range of 0.5 m pillars, 4 m tokens (12 × 12), the dense pillar encoder; a quarter of
        # the sweeps validate the online per-token probe. A width-64, depth-2 encoder with SIGReg (lambda 0.1,
        # lr 3e-3) learns in 300 steps on a CPU; the EMA teacher collapsed (docs/lidar.md, "Numbers on the demo").
        return {
            "model": {"embed_dim": 64, "depth": 2, "num_heads": 4, "predictor_dim": 32, "predictor_depth": 2,
                      "predictor_heads": 4},
            "objective": {"kind": "sigreg", "sigreg": {"weight": 0.1}},
            "optim": {"lr": 3e-3},
            "masking": {"min_context": 4},
            "trainer": {"batch_size": 16, "val_every_n_steps": 100},
            "data": {
                "point_range": [0.0, -24.0, -3.0, 48.0, 24.0, 1.0], "voxel_size": [0.5, 0.5, 4.0],
                "max_points_per_voxel": 16, "max_voxels": 4000, "token_cells": 8, "encoder": "pillars",
                "channels": 16, "val_fraction": 0.25,
            },
        }

    def resolve_data(self, data: LidarDataConfig, cache_dir: Path) -> LidarDataConfig:
        """``data`` with ``encoder: auto`` made ``sparse`` when spconv imports, else ``pillars`` (so the run's
        recipe and checkpoint name the encoder they hold)."""
        if data.encoder != "auto":
            return data
        from .tokenizer import spconv_available

        return data.model_copy(update={"encoder": "sparse" if spconv_available() else "pillars"})

    def demo_root(self, cache_dir: Path, data: LidarDataConfig) -> Path:
        return cache_dir / "lidar" / f"kitti-demo-v1-{data.demo_frames}frames"

    def write_demo(self, root: Path, data: LidarDataConfig) -> None:
        from .demo import write_demo

        write_demo(root, data.demo_frames)

    def build_tokenizer(self, data: LidarDataConfig, embed_dim: int):
        from .tokenizer import BEVTokenizer

        return BEVTokenizer(data, embed_dim, sparse=self.resolve_data(data, Path()).encoder == "sparse")

    def build_datasets(self, root: Path, data: LidarDataConfig) -> DatasetSplits:
        from .dataset import load_splits

        return load_splits(root, data)

    def prepare_source(self, root: Path, data: LidarDataConfig) -> PrepareSource:
        from .prepare import prepare_source

        return prepare_source(root, data)

    def prepare_item(self, item: Any, data: LidarDataConfig) -> PreparedSamples:
        from .prepare import prepare_item

        return prepare_item(item, data)

    def shard_settings(self, data: LidarDataConfig) -> dict[str, Any]:
        # encoder, channels and the target weight shape the model, not the stored voxels (token_cells shapes the
        # stored token labels)
        return data.model_dump(mode="json", exclude={"path", "encoder", "channels", "empty_target_weight", "demo_frames"})

    def downstream_task(self, root: Path, data: LidarDataConfig, task: LidarTaskConfig) -> DownstreamTask:
        """Per BEV token cell, background or the class of the ``label_2`` boxes covering most of it."""
        from .task import build_task

        return build_task(root, data, task)

    def downstream_task_from_shards(
        self, shards: PreparedShards, data: LidarDataConfig, task: LidarTaskConfig
    ) -> DownstreamTask:
        """The same BEV task on prepared scans."""
        from .task import build_task_from_shards

        return build_task_from_shards(shards, data, task)


plugin = LidarDomain()
