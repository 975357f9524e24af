"""The SAR domain (SAR-JEPA): amplitude chips (GeoTIFF, PNG/JPEG, MSTAR; per-polarization files paired into
one chip), 2-D patch tokens, multi-block masks, multi-scale ratio-gradient targets.

Heavy libraries (torch, rasterio) are imported inside the methods, so listing domains stays fast.
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

from .config import SARDataConfig, SARTaskConfig

__all__ = ["SARDataConfig", "SARTaskConfig", "SARDomain", "plugin"]


class SARDomain(DomainPlugin[SARDataConfig, SARTaskConfig]):
    name = "sar"
    description = "SAR amplitude chips (GeoTIFF, PNG/JPEG, MSTAR); 2-D patches, multi-scale ratio-gradient targets"
    requires = ("rasterio", "PIL")
    install_hint = "pip install 'jepa-platform[sar]'"

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
        # 64-px chips and 8-px patches: about a minute of pretraining on 2 CPU cores; one-band amplitude PNGs.
        # A vehicle covers a few of a chip's 64 tokens: read by their maximum, not averaged into the clutter
        # (docs/sar.md, "Demo numbers"). A predictor of one block rather than two: that probe is ahead on both
        # demo splits (benchmarks/README.md, "SAR's predictor depth").
        return {
            "model": {"pooling": "max", "predictor_depth": 1},
            "masking": {"min_context": 4},
            "trainer": {"max_steps": 200},
            "data": {"size": 64, "patch": 8, "radii": [2, 4, 6], "target_cells": 2, "bands": 1, "unit": "amplitude"},
        }

    def resolve_data(self, data: SARDataConfig, cache_dir: Path) -> SARDataConfig:
        """``data`` with ``bands``, ``unit`` and ``polarizations`` inferred from the data where unset (one log line
        says what and why); unchanged when ``bands`` and ``unit`` are set."""
        if data.bands is not None and data.unit is not None:
            return data
        from lightning.pytorch.utilities import rank_zero_info

        from .dataset import pretraining_roots
        from .infer import infer_data

        roots, _ = pretraining_roots(self.ensure_data(data, cache_dir), data)
        resolved, line = infer_data(data, roots)
        rank_zero_info(line)
        return resolved

    def demo_root(self, cache_dir: Path, data: SARDataConfig) -> Path:
        return cache_dir / "sar" / f"mstar-demo-v2-{data.size}px-{data.demo_per_class}pc-{data.demo_looks}looks-{data.demo_heading_span:g}deg"

    def write_demo(self, root: Path, data: SARDataConfig) -> None:
        from .demo import write_demo

        write_demo(root, data.demo_per_class, data.size, data.demo_looks, data.demo_heading_span)

    def data_root(self, data: SARDataConfig, cache_dir: Path) -> Path | list[Path]:
        """``data.path`` (a file or folder), every path of a list of them, or the demo data."""
        if isinstance(data.path, list):
            return [Path(path).expanduser() for path in data.path]
        return super().data_root(data, cache_dir)

    def build_tokenizer(self, data: SARDataConfig, embed_dim: int):
        from .tokenizer import PatchTokenizer

        return PatchTokenizer(data.resolved_bands(), data.size, data.patch, embed_dim)

    def target_function(self, data: SARDataConfig):
        from .targets import GradientTargets

        return GradientTargets(data.resolved_bands(), data.patch, data.radii, data.target_cells)

    def build_datasets(self, root: Path | list[Path], data: SARDataConfig) -> DatasetSplits:
        from .dataset import load_splits

        return load_splits(root, data)

    def prepare_source(self, root: Path | list[Path], data: SARDataConfig) -> PrepareSource:
        from .prepare import prepare_source

        return prepare_source(root, data)

    def prepare_item(self, item: Any, data: SARDataConfig) -> PreparedSamples:
        from .prepare import prepare_item

        return prepare_item(item, data)

    def shard_settings(self, data: SARDataConfig) -> dict[str, Any]:
        # patch, radii and target_cells shape the tokens and targets, not the stored chips; demo_* name the demo folder
        return data.model_dump(
            mode="json",
            exclude={"path", "patch", "radii", "target_cells", "demo_per_class", "demo_looks", "demo_heading_span"},
        )

    def downstream_task(self, root: Path | list[Path], data: SARDataConfig, task: SARTaskConfig) -> DownstreamTask:
        """Class-folder classification with ``task.shots`` training chips per class (see :class:`SARTaskConfig`)."""
        from .task import build_task

        return build_task(root, data, task)

    def downstream_task_from_shards(
        self, shards: PreparedShards, data: SARDataConfig, task: SARTaskConfig
    ) -> DownstreamTask:
        """The same k-shot task on prepared chips of an MSTAR-like tree."""
        from .task import build_task_from_shards

        return build_task_from_shards(shards, data, task)


plugin = SARDomain()
