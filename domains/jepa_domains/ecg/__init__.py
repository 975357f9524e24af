"""The ECG domain: 12-lead WFDB records (PTB-XL layout or any folder), time-patch tokens, span masking.

Heavy imports (torch, wfdb) happen inside the methods, so listing domains stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import field_validator, model_validator

from jepa_platform.plugin import (
    DataConfig,
    DatasetSplits,
    DomainPlugin,
    DownstreamTask,
    PreparedSamples,
    PrepareSource,
    TaskConfig,
)

from .leads import STANDARD_LEADS
from .task import ECGTaskConfig


class ECGDataConfig(DataConfig):
    """The ``data`` section of an ECG recipe."""

    sampling_rate: int = 500
    window_seconds: float = 10.0
    min_seconds: float = 2.0
    patch_ms: float = 50.0
    leads: tuple[str, ...] = STANDARD_LEADS
    clip: float = 5.0
    train_folds: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8)
    val_folds: tuple[int, ...] = (9,)
    val_percent: float = 5.0
    demo_records: int = 1200

    @field_validator("leads")
    @classmethod
    def _known_leads(cls, leads: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [lead for lead in leads if lead not in STANDARD_LEADS]
        if unknown or not leads or len(set(leads)) != len(leads):
            raise ValueError(f"leads must be distinct names among {list(STANDARD_LEADS)}, got {list(leads)}")
        return leads

    @model_validator(mode="after")
    def _check_sizes(self) -> "ECGDataConfig":
        if self.sampling_rate < 1 or self.window_seconds <= 0 or not 0 < self.min_seconds <= self.window_seconds:
            raise ValueError("need sampling_rate >= 1 and 0 < min_seconds <= window_seconds")
        patch = self.patch_ms * self.sampling_rate / 1000
        window = self.window_seconds * self.sampling_rate
        if abs(patch - round(patch)) > 1e-6 or round(patch) < 1:
            raise ValueError(f"patch_ms={self.patch_ms} is not a whole number of samples at {self.sampling_rate} Hz")
        if abs(window - round(window)) > 1e-6 or round(window) % round(patch):
            raise ValueError(f"window_seconds={self.window_seconds} is not a whole number of {self.patch_ms} ms patches")
        return self

    @property
    def patch_size(self) -> int:
        return round(self.patch_ms * self.sampling_rate / 1000)

    @property
    def window_size(self) -> int:
        return round(self.window_seconds * self.sampling_rate)


class ECGDomain(DomainPlugin):
    name = "ecg"
    description = "12-lead ECG (WFDB: PTB-XL layout or any record folder); time-patch tokens, contiguous span masks"
    data_config = ECGDataConfig
    task_config = ECGTaskConfig

    def default_recipe(self) -> dict[str, Any]:
        # ECG-JEPA (Weimann & Conrad): ViT-S of depth 8, 50 ms tokens at 500 Hz, EMA 0.998 -> 0.9995, L1 loss.
        return {
            "model": {"preset": "vit_small", "depth": 8, "predictor_depth": 8},
            "masking": {"strategy": "spans", "keep_ratio": [0.15, 0.25], "num_spans": 4, "min_block": 10},
            "objective": {"ema_momentum": [0.998, 0.9995], "loss": "l1"},
            "trainer": {"batch_size": 64},
        }

    def demo_recipe(self) -> dict[str, Any]:
        # Small enough to pretrain in about two minutes on 2 CPU cores.
        return {
            "model": {"preset": "vit_tiny", "depth": 4, "predictor_depth": 2},
            "masking": {"min_block": 5},
            "optim": {"lr": 1e-3, "start_lr": 1e-4, "warmup_fraction": 0.05},
            "trainer": {"max_steps": 300, "batch_size": 32, "num_workers": 0, "checkpoint_every_n_steps": 100},
            "data": {"sampling_rate": 100, "patch_ms": 100.0},
        }

    def demo_root(self, cache_dir: Path, data: ECGDataConfig) -> Path:
        return cache_dir / "ecg" / f"ptbxl-demo-v4-{data.demo_records}rec-{data.sampling_rate}hz"

    def prepare_data(self, data: DataConfig, cache_dir: Path) -> None:
        if data.path is None:
            from .synthetic import write_demo

            assert isinstance(data, ECGDataConfig)
            write_demo(self.demo_root(cache_dir, data), data.demo_records, data.sampling_rate)

    def build_tokenizer(self, data: DataConfig, embed_dim: int):
        from .tokenizer import ECGPatchTokenizer

        assert isinstance(data, ECGDataConfig)
        return ECGPatchTokenizer(len(data.leads), data.window_size, data.patch_size, embed_dim)

    def build_datasets(self, data: DataConfig, cache_dir: Path) -> DatasetSplits:
        from .sources import load_splits

        assert isinstance(data, ECGDataConfig)
        return load_splits(self.data_root(data, cache_dir), data)

    def prepare_source(self, data: DataConfig, cache_dir: Path) -> PrepareSource:
        from .prepare import prepare_source

        assert isinstance(data, ECGDataConfig)
        return prepare_source(self.data_root(data, cache_dir), data)

    def prepare_item(self, item: Any, data: DataConfig) -> PreparedSamples:
        from .prepare import prepare_item

        assert isinstance(data, ECGDataConfig)
        return prepare_item(item, data)

    def shard_settings(self, data: DataConfig) -> dict[str, Any]:
        # patch_ms shapes the tokens, not the stored windows; demo_records only names the demo folder
        return data.model_dump(mode="json", exclude={"path", "patch_ms", "demo_records"})

    def downstream_task(self, task: TaskConfig, data: DataConfig, cache_dir: Path) -> DownstreamTask:
        """A PTB-XL label set (``task.name``) on ``data``'s records, split by ``strat_fold``."""
        from .downstream import build_task

        assert isinstance(task, ECGTaskConfig) and isinstance(data, ECGDataConfig)
        return build_task(self.data_root(data, cache_dir), data, task, demo=data.path is None)


plugin = ECGDomain()
