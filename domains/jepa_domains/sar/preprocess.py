"""From file values to model inputs: linear amplitude, missing pixels by the NaN policy, square crop, resize,
log-normalization."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from jepa_platform.domain import JepaError, NanReport, apply_nan_policy, check_nan

from .config import SARDataConfig

NEGATIVE_TOLERANCE = 0.01
"""Share of a band's pixels that may be negative in amplitude or intensity (thermal-noise removal leaves a
few below zero; they read as 0). More means the values are something else, most often dB."""


def to_amplitude(values: np.ndarray, unit: str) -> np.ndarray:
    """Linear amplitude from amplitude, intensity (amplitude²) or dB (10·log10 intensity) values."""
    if unit == "db":
        with np.errstate(over="ignore"):  # values no dB can be overflow: amplitude_chip refuses them
            return np.power(10.0, values / 20.0, dtype=np.float32)
    if unit == "intensity":
        return np.sqrt(np.clip(values, 0, None))
    return np.clip(values, 0, None)


def band_source(files: tuple[Path, ...], band: int) -> str:
    """The file of ``band`` (``files``: one per band), and which band of it when the file holds several."""
    return f"{files[band]} band {band + 1}" if files.count(files[band]) > 1 else str(files[band])


def check_values(values: np.ndarray, unit: str, files: tuple[Path, ...]) -> None:
    """Refuse negative values (beyond the tolerance) as amplitude or intensity.

    ``files`` names the file of each band of ``values`` (``bands × H × W``).
    """
    if unit == "db":
        return
    negative = (values < 0).sum(axis=(1, 2)) / np.maximum(np.isfinite(values).sum(axis=(1, 2)), 1)
    bad = np.flatnonzero(negative > NEGATIVE_TOLERANCE)
    if bad.size:
        band = int(bad[0])
        raise JepaError(
            f"{band_source(files, band)}: {negative[band]:.0%} of the values are negative (down to "
            f"{np.nanmin(values[band]):.4g}), which {unit} cannot be; if they are dB, set data.unit db "
            f"(read as {unit}, dB would train on an inverted image)"
        )


def band_names(count: int, data: SARDataConfig) -> list[str]:
    """What errors call each band: its polarization when ``data`` names them, else its number."""
    names = data.polarizations or [str(band + 1) for band in range(count)]
    return [f"band {name}" for name in names]


def amplitude_chip(
    values: np.ndarray, data: SARDataConfig, source: Path | Sequence[Path], report: NanReport | None = None
) -> np.ndarray | None:
    """``bands × H × W`` file values -> ``bands × size × size`` linear amplitude, missing pixels filled;
    ``None`` when ``data.nan_policy`` drops the chip.

    ``source`` is the file, or the file of each band; errors name it. Values
    ``data.unit`` cannot hold are refused (:func:`check_values`, and dB that
    overflows). Missing pixels (NaN, nodata) follow the NaN policy with the chip as the window:
    under ``interpolate`` a band with at most ``data.max_nan_fraction`` of them missing has them
    take its median valid amplitude, and a band with more drops the chip; ``report`` counts the
    chip. The chip is centre-cropped to a square and resized (area average) to ``data.size``.
    """
    files = (source,) * len(values) if isinstance(source, Path) else tuple(source)
    if values.shape[0] != data.resolved_bands():
        raise JepaError(f"{files[0]}: {values.shape[0]} bands, but data.bands is {data.bands} (unsupported band count)")
    values = values.astype(np.float32)
    check_nan(values, data.nan_policy, [str(file) for file in files], band_names(len(values), data))
    check_values(values, data.unit, files)
    amplitude = to_amplitude(values, data.unit)
    overflow = np.flatnonzero((np.isinf(amplitude) & np.isfinite(values)).any(axis=(1, 2)))
    if overflow.size:
        band = int(overflow[0])
        raise JepaError(f"{band_source(files, band)}: values up to {np.nanmax(values[band]):.4g} are not dB")
    flat = amplitude.reshape(1, len(amplitude), -1)
    kept = apply_nan_policy(flat, data.nan_policy, data.max_nan_fraction, fill="median")
    if report is not None:
        report.add(str(files[0]), kept)
    if not kept.keep[0]:
        return None
    amplitude = kept.windows[0].reshape(amplitude.shape)
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
