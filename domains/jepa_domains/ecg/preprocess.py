"""Signal preprocessing: NaN-run interpolation, resampling, windowing and per-lead normalization."""

from __future__ import annotations

import math

import numpy as np
import torch
import torchaudio.functional as AF


def interpolate_nans(signal: np.ndarray, present: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fill NaN runs of each lead linearly from their neighbours; all-NaN leads become absent zeros."""
    signal, present = signal.copy(), present.copy()
    for row in np.flatnonzero(np.isnan(signal).any(axis=1)):
        good = ~np.isnan(signal[row])
        if not good.any():
            signal[row], present[row] = 0.0, False
            continue
        positions = np.arange(signal.shape[1])
        signal[row, ~good] = np.interp(positions[~good], positions[good], signal[row, good])
    return signal, present


def resample(signal: np.ndarray, fs: float, rate: int) -> np.ndarray:
    """``leads × T`` at ``fs`` Hz -> ``leads × T'`` at ``rate`` Hz (band-limited sinc resampling)."""
    if abs(fs - rate) < 1e-9:
        return signal
    orig, new = round(fs * 100), rate * 100  # WFDB rates may be fractional; keep two decimals
    common = math.gcd(orig, new)
    out = AF.resample(torch.from_numpy(np.ascontiguousarray(signal)), orig // common, new // common)
    return out.numpy()


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
