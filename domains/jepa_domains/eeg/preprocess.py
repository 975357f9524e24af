"""Filters, resampling, robust scaling and windowing of one recording (all channels at once)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from jepa_platform.domain import JepaError, fill_linear, resample_missing

if TYPE_CHECKING:
    from .config import EEGDataConfig


LOW_PASS_SHARE = 0.45
"""The highest low-pass as a share of a file's rate: 90 % of Nyquist, room for the filter's transition band."""
NOTCH_TRANSITION = 1.0
"""Hz, the notch's transition band; its stop band is ``freq / 200`` wide (both mne's defaults)."""


def filters_for(rate: float, data: "EEGDataConfig", path: Path) -> tuple[float, float | None]:
    """The low-pass and notch (``None``: none) ``data`` asks for, adapted to a file sampled at ``rate``.

    A low-pass above ``LOW_PASS_SHARE`` x ``rate`` is lowered to it; a notch
    whose stop band would reach the Nyquist frequency is skipped. Each change
    is one warning naming the file and the value used.

    Raises:
        JepaError: ``data.l_freq`` is not below the lowered low-pass.
    """
    nyquist, h_freq, notch = rate / 2, data.h_freq, data.notch_freq
    if h_freq > LOW_PASS_SHARE * rate:
        h_freq = LOW_PASS_SHARE * rate
        warnings.warn(
            f"{path}: sampled at {rate:g} Hz, data.h_freq {data.h_freq:g} Hz is above {LOW_PASS_SHARE:g} x the rate "
            f"(Nyquist {nyquist:g} Hz); low-pass at {h_freq:g} Hz instead",
            stacklevel=2,
        )
    if data.l_freq >= h_freq:
        raise JepaError(f"{path}: sampled at {rate:g} Hz, too slow for the band from data.l_freq {data.l_freq:g} Hz")
    if notch is not None and notch * (1 + 1 / 400) + NOTCH_TRANSITION / 2 >= nyquist:
        notch = None
        warnings.warn(
            f"{path}: sampled at {rate:g} Hz, data.notch_freq {data.notch_freq:g} Hz does not fit below the Nyquist "
            f"frequency ({nyquist:g} Hz); no notch filter",
            stacklevel=2,
        )
    return h_freq, notch


def filter_resample(signal: np.ndarray, rate: float, data: "EEGDataConfig", path: Path) -> np.ndarray:
    """Band-pass and notch at the file's ``rate`` (see :func:`filters_for`), then resample to ``data.sampling_rate``."""
    import mne

    h_freq, notch = filters_for(rate, data, path)
    out = mne.filter.filter_data(signal, rate, data.l_freq or None, h_freq, verbose="error")
    if notch is not None:
        out = mne.filter.notch_filter(
            out, rate, notch, notch_widths=notch / 200, trans_bandwidth=NOTCH_TRANSITION, verbose="error"
        )
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
    """One recording (``channels × samples`` volts at ``rate``) -> float32 windows as ``data`` says, NaN where the
    recording's samples are missing (the filters and the resampler read them linearly bridged)."""
    missing = ~np.isfinite(signal)
    out = filter_resample(fill_linear(signal) if missing.any() else signal, rate, data, path)
    start = round(data.crop_start_seconds * data.sampling_rate)
    stop = out.shape[1] - round(data.crop_end_seconds * data.sampling_rate)
    if data.max_seconds is not None:
        stop = min(stop, start + round(data.max_seconds * data.sampling_rate))
    kept = slice(start, max(stop, start))
    if out[:, kept].shape[1] < data.window_size:
        return np.zeros((0, len(present), data.window_size), dtype=np.float32)
    scaled = robust_scale(out[:, kept], present, data.clip)
    if missing.any():
        scaled[resample_missing(missing, out.shape[1])[:, kept]] = np.nan
    return windows(scaled, data.window_size, data.hop_size).astype(np.float32)
