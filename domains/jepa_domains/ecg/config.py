"""The ``data`` and ``task`` sections of ECG recipes: sampling, windows, leads, and a PTB-XL label set."""

from __future__ import annotations

from typing import Literal

from jepa_platform.domain import DataConfig, TaskConfig
from pydantic import field_validator, model_validator

from .leads import STANDARD_LEADS


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


LabelSet = Literal["all", "diagnostic", "subdiagnostic", "superdiagnostic", "form", "rhythm"]


class ECGTaskConfig(TaskConfig):
    """A PTB-XL label set (Strodthoff et al.) with ECG-JEPA's crops.

    Training sees one random ``crop_seconds`` crop of each record per epoch;
    evaluation averages the logits of crops every ``eval_stride_seconds`` over
    the record. ``min_samples``: classes in at most this many records (all
    folds) are dropped, as the benchmarking code does (never for ``diagnostic``).
    """

    name: LabelSet
    crop_seconds: float = 2.5
    eval_stride_seconds: float = 1.25
    train_folds: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8)
    val_folds: tuple[int, ...] = (9,)
    test_folds: tuple[int, ...] = (10,)
    min_samples: int = 0

    @model_validator(mode="after")
    def _check(self) -> "ECGTaskConfig":
        if self.crop_seconds <= 0 or self.eval_stride_seconds <= 0 or self.min_samples < 0:
            raise ValueError("need crop_seconds > 0, eval_stride_seconds > 0 and min_samples >= 0")
        folds = [self.train_folds, self.val_folds, self.test_folds]
        if not all(folds) or len(set().union(*folds)) != sum(len(f) for f in folds):
            raise ValueError(
                f"train_folds {list(self.train_folds)}, val_folds {list(self.val_folds)} and "
                f"test_folds {list(self.test_folds)} must be non-empty and disjoint"
            )
        return self
