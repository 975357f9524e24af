"""The tabular domain (T-JEPA): CSV / Parquet tables, one token per feature, feature-subset masking.

Heavy imports (torch, pandas, pyarrow, scikit-learn) happen inside the methods, so listing domains stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jepa_platform.plugin import (
    BaselineData, DataConfig, DatasetSplits, DomainPlugin, DownstreamTask, TaskConfig, cache_dir,
)

from .config import TabularDataConfig, TabularTaskConfig


class TabularDomain(DomainPlugin):
    name = "tabular"
    description = "tables (CSV / Parquet): one token per feature, learned missing tokens, feature-subset masks"
    data_config = TabularDataConfig
    task_config = TabularTaskConfig

    def default_recipe(self) -> dict[str, Any]:
        # T-JEPA: encoder width 64, 16 layers, 2 heads, predictor width 16; EMA 0.996 -> 1; MSE loss;
        # a context subset of 20-40% of the features, then 4 target subsets of the rest.
        return {
            "model": {
                "preset": "vit_tiny", "embed_dim": 64, "depth": 16, "num_heads": 2,
                "predictor_dim": 16, "predictor_depth": 4, "predictor_heads": 2,
            },
            "masking": {"strategy": "feature_subsets", "context_share": [0.2, 0.4], "num_targets": 4},
            "objective": {"ema_momentum": [0.996, 1.0], "loss": "mse"},
            "trainer": {"batch_size": 128},
        }

    def demo_recipe(self) -> dict[str, Any]:
        # A few minutes on 2 CPU cores for the demo tables; they hold one to a few batches an epoch,
        # so validation runs every 100 steps rather than every epoch.
        return {
            "model": {"depth": 4, "predictor_depth": 2},
            "optim": {"lr": 1e-3, "start_lr": 1e-4, "warmup_fraction": 0.05},
            "trainer": {
                "max_steps": 300, "batch_size": 64, "num_workers": 0, "checkpoint_every_n_steps": 100,
                "val_every_n_steps": 100,
            },
            "data": {"target": "target"},
        }

    def demo_root(self, cache: Path, data: TabularDataConfig) -> Path:
        return cache / "tabular" / "sklearn-v1" / f"{data.demo_table}.{data.demo_format}"

    def prepare_data(self, data: DataConfig, cache_dir: Path) -> None:
        if data.path is None:
            from .demo import write_demo

            assert isinstance(data, TabularDataConfig)
            write_demo(self.demo_root(cache_dir, data).parent, data.demo_table)

    def build_tokenizer(self, data: DataConfig, embed_dim: int):
        from .dataset import fitted
        from .tokenizer import FeatureTokenizer

        assert isinstance(data, TabularDataConfig)
        encoding = data.encoding
        if encoding is None:  # not read yet (e.g. `jepa-platform masks`): fit it as pretraining would
            self.prepare_data(data, cache_dir())
            encoding = fitted(self.data_root(data, cache_dir()), data)[2].encoding
        cardinalities = [len(f.categories) + 1 for f in encoding.categorical]
        return FeatureTokenizer(len(encoding.numeric), cardinalities, data.reg_tokens, embed_dim)

    def build_datasets(self, data: DataConfig, cache_dir: Path) -> DatasetSplits:
        from .dataset import load_splits

        assert isinstance(data, TabularDataConfig)
        return load_splits(self.data_root(data, cache_dir), data)

    def downstream_task(self, task: TaskConfig, data: DataConfig, cache_dir: Path) -> DownstreamTask:
        """Classify or regress ``data.target`` on the pretraining split's train / val / test rows."""
        from .dataset import build_task

        assert isinstance(task, TabularTaskConfig) and isinstance(data, TabularDataConfig)
        return build_task(self.data_root(data, cache_dir), data, task)

    def baseline_data(self, task: TaskConfig, data: DataConfig, cache_dir: Path) -> BaselineData:
        """The raw columns of :meth:`downstream_task`'s rows, for gradient-boosted trees."""
        from .dataset import baseline_data

        assert isinstance(data, TabularDataConfig)
        return baseline_data(self.data_root(data, cache_dir), data)


plugin = TabularDomain()
