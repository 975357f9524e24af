"""The ``data`` and ``task`` sections of EEG recipes; defaults follow the published TUAB preprocessing."""

from __future__ import annotations

from typing import Literal

from jepa_platform.domain import DataConfig, TaskConfig
from pydantic import field_validator, model_validator

from .channels import CHANNELS_1020


class EEGDataConfig(DataConfig):
    """How EDF/BDF recordings become windows (defaults: LaBraM/BIOT's TUAB preprocessing).

    Filters run at the file's own rate (band-pass ``l_freq``-``h_freq`` Hz, notch at
    ``notch_freq`` Hz unless ``None``), then the signal is resampled to
    ``sampling_rate``, ``crop_start_seconds``/``crop_end_seconds`` are cut, at most
    ``max_seconds`` kept, each channel robustly scaled (median / IQR) and clipped
    at ``clip``, and ``window_seconds`` windows taken every ``hop_seconds``.
    """

    channels: tuple[str, ...] = CHANNELS_1020
    sampling_rate: float = 200.0
    l_freq: float = 0.1
    h_freq: float = 75.0
    notch_freq: float | None = 50.0
    crop_start_seconds: float = 0.0
    crop_end_seconds: float = 0.0
    max_seconds: float | None = None
    clip: float = 20.0
    window_seconds: float = 10.0
    hop_seconds: float = 10.0
    frame_seconds: float = 1.0
    """Time extent of one token (a tubelet: one frame of one scalp-grid cell)."""
    val_percent: float = 20.0
    """Patients of the training recordings held out for validation (by a hash of the patient id)."""
    demo_patients: int = 96

    @field_validator("channels")
    @classmethod
    def _known(cls, channels: tuple[str, ...]) -> tuple[str, ...]:
        if not channels or any(c not in CHANNELS_1020 for c in channels) or len(set(channels)) != len(channels):
            raise ValueError(f"channels must be distinct names among {list(CHANNELS_1020)}, got {list(channels)}")
        return channels

    @model_validator(mode="after")
    def _check(self) -> "EEGDataConfig":
        if not 0 <= self.l_freq < self.h_freq < self.sampling_rate / 2:
            raise ValueError(f"need 0 <= l_freq < h_freq < sampling_rate / 2, got {self.l_freq}, {self.h_freq}")
        if min(self.window_seconds, self.hop_seconds, self.frame_seconds, self.clip) <= 0:
            raise ValueError("window_seconds, hop_seconds, frame_seconds and clip must be positive")
        if min(self.crop_start_seconds, self.crop_end_seconds) < 0 or not 0 <= self.val_percent < 100:
            raise ValueError("need crop_start/end_seconds >= 0 and 0 <= val_percent < 100")
        for key in ("window_seconds", "hop_seconds", "frame_seconds"):
            samples = getattr(self, key) * self.sampling_rate
            if abs(samples - round(samples)) > 1e-6:
                raise ValueError(f"{key}={getattr(self, key)} is not a whole number of samples at {self.sampling_rate} Hz")
        if self.window_size % self.frame_size:
            raise ValueError(f"window_seconds={self.window_seconds} is not a whole number of {self.frame_seconds} s frames")
        return self

    @property
    def window_size(self) -> int:
        return round(self.window_seconds * self.sampling_rate)

    @property
    def hop_size(self) -> int:
        return round(self.hop_seconds * self.sampling_rate)

    @property
    def frame_size(self) -> int:
        return round(self.frame_seconds * self.sampling_rate)


class EEGTaskConfig(TaskConfig):
    """TUAB abnormal-vs-normal: official ``train``/``eval`` split, patient-wise validation from train.

    A recording's score is the average of its windows' logits; the reported
    metrics include balanced accuracy and AUROC (``macro_auc`` for two classes).
    """

    name: Literal["abnormal"]
    metric: Literal["balanced_accuracy", "macro_auc"] = "balanced_accuracy"
