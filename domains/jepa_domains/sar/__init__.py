"""The SAR domain (SAR-JEPA): amplitude chips (GeoTIFF, PNG/JPEG, MSTAR), 2-D patch tokens, multi-block
masks, multi-scale ratio-gradient targets.

Heavy imports (torch, rasterio) happen inside the methods, so listing domains stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jepa_platform.plugin import DataConfig, DatasetSplits, DomainPlugin, DownstreamTask, TaskConfig

from .config import SARDataConfig, SARTaskConfig

__all__ = ["SARDataConfig", "SARTaskConfig", "SARDomain", "plugin"]


class SARDomain(DomainPlugin):
    name = "sar"
    description = "SAR amplitude chips (GeoTIFF, PNG/JPEG, MSTAR); 2-D patches, multi-scale ratio-gradient targets"
    data_config = SARDataConfig
    task_config = SARTaskConfig

    def default_recipe(self) -> dict[str, Any]:
        # SAR-JEPA: ViT-B/16 on 1 channel, gradient targets at radii 5, 9, 13, 17; local block masks.
        return {
            "model": {"preset": "vit_base"},
            "masking": {
                "strategy": "multiblock", "num_blocks": 4, "target_scale": [0.15, 0.2], "context_scale": [0.85, 1.0],
            },
            "objective": {"target": "domain", "loss": "mse"},
            "trainer": {"batch_size": 64},
        }

    def demo_recipe(self) -> dict[str, Any]:
        # 64-px chips and 8-px patches: about a minute of pretraining on 2 CPU cores.
        return {
            "model": {"preset": "vit_tiny", "depth": 4, "predictor_depth": 2},
            "masking": {"min_context": 4},
            "optim": {"lr": 1e-3, "start_lr": 1e-4, "warmup_fraction": 0.05},
            "trainer": {"max_steps": 200, "batch_size": 32, "num_workers": 0, "checkpoint_every_n_steps": 100},
            "data": {"size": 64, "patch": 8, "radii": [2, 4, 6], "target_cells": 2},
        }

    def demo_root(self, cache_dir: Path, data: SARDataConfig) -> Path:
        return cache_dir / "sar" / f"mstar-demo-v2-{data.size}px-{data.demo_per_class}pc-{data.demo_looks}looks-{data.demo_heading_span:g}deg"

    def prepare_data(self, data: DataConfig, cache_dir: Path) -> None:
        if data.path is None:
            from .synthetic import write_demo

            assert isinstance(data, SARDataConfig)
            write_demo(
                self.demo_root(cache_dir, data), data.demo_per_class, data.size, data.demo_looks, data.demo_heading_span
            )

    def build_tokenizer(self, data: DataConfig, embed_dim: int):
        from .tokenizer import PatchTokenizer

        assert isinstance(data, SARDataConfig)
        return PatchTokenizer(data.bands, data.size, data.patch, embed_dim)

    def target_function(self, data: DataConfig):
        from .targets import GradientTargets

        assert isinstance(data, SARDataConfig)
        return GradientTargets(data.bands, data.patch, data.radii, data.target_cells)

    def build_datasets(self, data: DataConfig, cache_dir: Path) -> DatasetSplits:
        from .dataset import load_splits

        assert isinstance(data, SARDataConfig)
        return load_splits(self.data_root(data, cache_dir), data)

    def downstream_task(self, task: TaskConfig, data: DataConfig, cache_dir: Path) -> DownstreamTask:
        """Class-folder classification with ``task.shots`` training chips per class (see :class:`SARTaskConfig`)."""
        from .dataset import build_task

        assert isinstance(task, SARTaskConfig) and isinstance(data, SARDataConfig)
        return build_task(self.data_root(data, cache_dir), data, task)


plugin = SARDomain()
