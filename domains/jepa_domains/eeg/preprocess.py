"""Filters, resampling, robust scaling and windowing of one recording (all channels at once)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from jepa_platform.domain import JepaError

if TYPE_CHECKING:
    from .config import EEGDataConfig


def filter_resample(signal: np.ndarray, rate: float, data: "EEGDataConfig", path: Path) -> np.ndarray:
    """Band-pass (and notch) at the file's ``rate``, then resample to ``data.sampling_rate``.

    Raises:
        JepaError: A filter frequency is at or above the file's Nyquist frequency.
    """
    import mne

    nyquist = rate / 2
    if data.h_freq >= nyquist or (data.notch_freq is not None and data.notch_freq >= nyquist):
        raise JepaError(
            f"{path}: sampled at {rate} Hz, too slow for data.h_freq {data.h_freq} / data.notch_freq {data.notch_freq}"
        )
    out = mne.filter.filter_data(signal, rate, data.l_freq or None, data.h_freq, verbose="error")
    if data.notch_freq is not None:
        out = mne.filter.notch_filter(out, rate, data.notch_freq, verbose="error")
    if rate != data.sampling_rate:
        out = mne.filter.resample(out, up=data.sampling_rate / rate, verbose="error")
    return out


def robust_scale(signal: np.ndarray, present: np.ndarray, clip: float) -> np.ndarray:
    """Per channel ``(x - median) / (IQR / 1.349)``, clipped to ``±clip``; absent channels stay zero."""
    median = np.median(signal, axis=1, keepdims=True)
    q25, q75 = np.percentile(signal, [25, 75], axis=1, keepdims=True)
    scale = np.where(q75 - q25 > 0, (q75 - q25) / 1.349, 1.0)
    return np.clip((signal - median) / scale, -clip, clip) * present[:, None]


def windows(signal: np.ndarray, size: int, hop: int) -> np.ndarray:
    """``count × channels × size`` windows every ``hop`` samples (none when the signal is shorter)."""
    if signal.shape[1] < size:
        return np.zeros((0, signal.shape[0], size), dtype=signal.dtype)
    view = np.lib.stride_tricks.sliding_window_view(signal, size, axis=1)[:, ::hop]  # C × count × size
    return np.ascontiguousarray(view.transpose(1, 0, 2))


def preprocess(signal: np.ndarray, present: np.ndarray, rate: float, data: "EEGDataConfig", path: Path) -> np.ndarray:
    """One recording (``channels × samples`` volts at ``rate``) -> float32 windows as ``data`` says."""
    out = filter_resample(signal, rate, data, path)
    start = round(data.crop_start_seconds * data.sampling_rate)
    stop = out.shape[1] - round(data.crop_end_seconds * data.sampling_rate)
    if data.max_seconds is not None:
        stop = min(stop, start + round(data.max_seconds * data.sampling_rate))
    out = out[:, start:max(stop, start)]
    if out.shape[1] < data.window_size:
        return np.zeros((0, len(present), data.window_size), dtype=np.float32)
    return windows(robust_scale(out, present, data.clip), data.window_size, data.hop_size).astype(np.float32)
