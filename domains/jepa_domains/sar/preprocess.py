"""From file values to model inputs: linear amplitude, missing pixels filled, square crop, resize, log-normalization."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from jepa_platform.domain import JepaError

from .config import SARDataConfig


def to_amplitude(values: np.ndarray, unit: str) -> np.ndarray:
    """Linear amplitude from amplitude, intensity (amplitude²) or dB (10·log10 intensity) values."""
    if unit == "db":
        return np.power(10.0, values / 20.0, dtype=np.float32)
    if unit == "intensity":
        return np.sqrt(np.clip(values, 0, None))
    return np.abs(values)


def amplitude_chip(values: np.ndarray, data: SARDataConfig, path: Path) -> np.ndarray:
    """``bands × H × W`` file values -> ``bands × size × size`` linear amplitude, missing pixels filled.

    A missing pixel (NaN) takes its band's median valid amplitude. The chip is
    centre-cropped to a square and resized (area average) to ``data.size``.
    """
    if values.shape[0] != data.bands:
        raise JepaError(f"{path}: {values.shape[0]} bands, but data.bands is {data.bands} (unsupported band count)")
    amplitude = to_amplitude(values.astype(np.float32), data.unit)
    missing = ~np.isfinite(amplitude)
    if missing.all(axis=(1, 2)).any():
        raise JepaError(f"{path}: a band has no valid pixel (all NaN / nodata)")
    if missing.any():
        fill = np.nanmedian(np.where(missing, np.nan, amplitude), axis=(1, 2), keepdims=True)
        amplitude = np.where(missing, fill, amplitude)
    height, width = amplitude.shape[1:]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = torch.from_numpy(np.ascontiguousarray(amplitude[:, top : top + side, left : left + side]))
    if side != data.size:
        mode = "area" if side > data.size else "bilinear"
        square = F.interpolate(square[None], size=(data.size, data.size), mode=mode)[0]
    return square.numpy()


def log_normalize(amplitude: torch.Tensor) -> torch.Tensor:
    """Per image and band: log amplitude, standardized to zero mean and unit variance (``N × C × H × W``)."""
    scale = amplitude.mean(dim=(-2, -1), keepdim=True).clamp(min=1e-12)
    logged = torch.log(amplitude / scale + 1e-3)
    mean = logged.mean(dim=(-2, -1), keepdim=True)
    std = logged.std(dim=(-2, -1), keepdim=True).clamp(min=1e-6)
    return (logged - mean) / std
