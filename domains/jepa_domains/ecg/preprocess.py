"""Signal preprocessing: resampling (NaN kept where samples are missing), windowing and per-lead normalization."""

from __future__ import annotations

import math

import numpy as np
import torch
import torchaudio.functional as AF
from jepa_platform.domain import fill_linear, resample_missing


def resample(signal: np.ndarray, fs: float, rate: int) -> np.ndarray:
    """``leads × T`` at ``fs`` Hz -> ``leads × T'`` at ``rate`` Hz (band-limited sinc resampling).

    NaN (missing samples) stay NaN: the resampler reads the gaps linearly bridged, and the new
    samples within half a new sample of a missing one are NaN again (see :func:`resample_missing`).
    """
    if abs(fs - rate) < 1e-9:
        return signal
    missing = ~np.isfinite(signal)
    orig, new = round(fs * 100), rate * 100  # WFDB rates may be fractional; keep two decimals
    common = math.gcd(orig, new)
    bridged = fill_linear(signal) if missing.any() else signal
    out = AF.resample(torch.from_numpy(np.ascontiguousarray(bridged)), orig // common, new // common).numpy()
    if missing.any():
        out[resample_missing(missing, out.shape[1])] = np.nan
    return out


def cut_windows(signal: np.ndarray, window: int, min_length: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut ``leads × T`` into ``n × leads × window`` and the valid length of each.

    Records at least a window long give their whole windows (a shorter tail is
    dropped); shorter records of at least ``min_length`` samples give one
    zero-padded window; shorter ones give none.
    """
    leads, length = signal.shape
    if length >= window:
        count = length // window
        windows = signal[:, : count * window].reshape(leads, count, window).transpose(1, 0, 2)
        return np.ascontiguousarray(windows), np.full(count, window, dtype=np.int64)
    if length >= min_length:
        padded = np.zeros((1, leads, window), dtype=signal.dtype)
        padded[0, :, :length] = signal
        return padded, np.array([length], dtype=np.int64)
    return np.zeros((0, leads, window), dtype=signal.dtype), np.zeros(0, dtype=np.int64)


def normalize_windows(windows: np.ndarray, lengths: np.ndarray, clip: float) -> np.ndarray:
    """Per-window, per-lead z-score over the valid samples, clipped to ``±clip``; flat leads stay zero."""
    valid = np.arange(windows.shape[2])[None, None, :] < lengths[:, None, None]
    count = lengths[:, None, None].astype(np.float64)
    mean = np.where(valid, windows, 0.0).sum(axis=2, keepdims=True) / count
    centred = np.where(valid, windows - mean, 0.0)
    std = np.sqrt((centred**2).sum(axis=2, keepdims=True) / count)
    scaled = np.divide(centred, std, out=np.zeros_like(centred), where=std > 1e-6)
    return np.clip(scaled, -clip, clip).astype(np.float32)
