"""The tabular domain (T-JEPA): CSV / Parquet tables, one token per feature, feature-subset masking.

Heavy libraries (torch, pandas, pyarrow, scikit-learn) are imported inside the methods, so listing domains stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jepa_platform.domain import BaselineData, DatasetSplits, DomainPlugin, DownstreamTask, JepaError

from .config import TabularDataConfig, TabularTaskConfig


class TabularDomain(DomainPlugin[TabularDataConfig, TabularTaskConfig]):
    name = "tabular"
    description = "tables (CSV / Parquet): one token per feature, learned missing tokens, feature-subset masks"
    requires = ("pandas",)
    install_hint = "pip install 'jepa-platform[tabular]'"

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
        # On the core's small demo model (width 64 here): a step over 18 feature tokens is cheap, so 1,000 steps
        # fit in the other demos' time. SIGReg (lambda 0.1, lr 3e-3) rather than the EMA teacher, which
        # collapses on small tables within the budget (RankMe 3.3 on the mixtures table, probe 0.58 against
        # 0.56 at random init; benchmarks/README.md). Validation every 100 steps: an epoch is a few batches.
        return {
            "objective": {"kind": "sigreg", "sigreg": {"weight": 0.1}},
            "optim": {"lr": 3e-3},
            "trainer": {"max_steps": 1000, "batch_size": 64, "val_every_n_steps": 100},
            "data": {"target": "target"},
        }

    def demo_root(self, cache: Path, data: TabularDataConfig) -> Path:
        return cache / "tabular" / "demo-v2" / f"{data.demo_table}.{data.demo_format}"

    def write_demo(self, root: Path, data: TabularDataConfig) -> None:
        from .demo import write_demo

        write_demo(root.parent, data.demo_table)

    def resolve_data(self, data: TabularDataConfig, cache_dir: Path) -> TabularDataConfig:
        """``data`` with ``encoding`` fitted on the training rows (means, stds, vocabularies, the target's classes)."""
        if data.encoding is not None:
            return data
        from .dataset import fitted

        return fitted(self.ensure_data(data, cache_dir), data)[2]

    def build_tokenizer(self, data: TabularDataConfig, embed_dim: int):
        from .tokenizer import FeatureTokenizer

        if data.encoding is None:
            raise JepaError("data.encoding is not set: resolve the recipe (it fits the encoding on the training rows)")
        cardinalities = [len(f.categories) + 1 for f in data.encoding.categorical]
        return FeatureTokenizer(len(data.encoding.numeric), cardinalities, data.reg_tokens, embed_dim)

    def build_datasets(self, root: Path, data: TabularDataConfig) -> DatasetSplits:
        from .dataset import load_splits

        return load_splits(root, data)

    def read_file(self, path: Path, data: TabularDataConfig) -> dict[str, Any]:
        from .dataset import file_rows

        return file_rows(path, data)

    def downstream_task(self, root: Path, data: TabularDataConfig, task: TabularTaskConfig) -> DownstreamTask:
        """Classify or regress ``data.target`` on the pretraining split's train / val / test rows."""
        from .task import build_task

        return build_task(root, data, task)

    def baseline_data(self, root: Path, data: TabularDataConfig, task: TabularTaskConfig) -> BaselineData:
        """The raw columns of :meth:`downstream_task`'s rows, for gradient-boosted trees."""
        from .task import baseline_data

        return baseline_data(root, data)


plugin = TabularDomain()
