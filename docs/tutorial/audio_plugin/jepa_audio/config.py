"""The recipe's `data` section of the audio domain: how WAV files become clips, and clips become tokens."""

from __future__ import annotations

from jepa_platform.domain import DataConfig
from pydantic import Field, PositiveInt, ValidationInfo, field_validator


class AudioData(DataConfig):
    sample_rate: PositiveInt = 16000
    """Hz; files at another rate are resampled to it."""
    clip_seconds: float = Field(default=1.0, gt=0)
    """Each file is cut into clips of this length (one sample each); a shorter tail is left out."""
    n_mels: PositiveInt = 64
    hop_ms: float = Field(default=10.0, gt=0)
    win_ms: float = Field(default=25.0, gt=0)
    mels_per_patch: PositiveInt = Field(default=8, validate_default=True)
    frames_per_patch: PositiveInt = Field(default=10, validate_default=True)
    val_percent: float = Field(default=10.0, ge=0, lt=100)
    """Share of the files held out for validation, by a hash of the file name."""
    demo_files_per_class: PositiveInt = 24

    @field_validator("mels_per_patch")
    @classmethod
    def _mels_hold_a_patch(cls, mels: int, info: ValidationInfo) -> int:
        n_mels = info.data.get("n_mels")
        if n_mels is not None and n_mels < mels:
            raise ValueError(f"data.n_mels {n_mels} is fewer than one patch of data.mels_per_patch {mels} bands")
        return mels

    @field_validator("frames_per_patch")
    @classmethod
    def _clip_holds_a_patch(cls, frames: int, info: ValidationInfo) -> int:
        if {"sample_rate", "clip_seconds", "hop_ms"} <= info.data.keys():
            data = AudioData.model_construct(**info.data)
            if spectrogram_frames(data) < frames:
                raise ValueError(
                    f"data.clip_seconds {data.clip_seconds} gives {spectrogram_frames(data)} spectrogram frames "
                    f"(data.hop_ms {data.hop_ms}), fewer than one patch of data.frames_per_patch {frames}"
                )
        return frames


def clip_samples(data: AudioData) -> int:
    return round(data.clip_seconds * data.sample_rate)


def hop_samples(data: AudioData) -> int:
    return max(1, round(data.hop_ms * data.sample_rate / 1000))


def spectrogram_frames(data: AudioData) -> int:
    """Frames of a clip's centred spectrogram."""
    return 1 + clip_samples(data) // hop_samples(data)
