"""Deterministic synthetic EEG written as EDF files in the TUAB layout, for the demo.

``<root>/train|eval/normal|abnormal/<patient>/<patient>_s00k_t000.edf``, 60 s
at 200 Hz, TUAB channel names (``EEG FP1-REF``; some patients ``EEG FP1-LE``)
plus an ECG channel the reader ignores. Every recording has pink background
noise mixed between neighbouring electrodes, a posterior alpha rhythm of
waxing and waning amplitude, eye blinks, temporal muscle bursts and per-patient
channel gains. Abnormal recordings differ as clinical abnormal EEG does, but
only partly and with overlap: a slower posterior rhythm (7.5-10 Hz against
8.5-11 Hz), more diffuse delta (1-3.5 Hz), and for some of them focal delta
or sharp transients over a random region.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from .channels import CHANNELS_1020, scalp_cells

RATE = 200
SECONDS = 60
SEED = 20260417


def _band_noise(rng: np.random.Generator, rows: int, low: float, high: float, exponent: float = 0.0) -> np.ndarray:
    """``rows × samples`` Gaussian noise keeping ``low``-``high`` Hz with a ``1/f**exponent`` amplitude, unit std."""
    n = RATE * SECONDS
    freqs = np.fft.rfftfreq(n, 1 / RATE)
    shape = ((freqs >= low) & (freqs <= high)) / np.maximum(freqs, 0.5) ** exponent
    spectrum = np.fft.rfft(rng.standard_normal((rows, n)), axis=1) * shape
    out = np.fft.irfft(spectrum, n, axis=1)
    return out / out.std(axis=1, keepdims=True)


def _recording(rng: np.random.Generator, abnormal: bool, mixing: np.ndarray, posterior: np.ndarray) -> np.ndarray:
    """``19 × samples`` volts of one synthetic recording."""
    c, n = len(CHANNELS_1020), RATE * SECONDS
    t = np.arange(n) / RATE
    background = mixing @ _band_noise(rng, c, 0.5, 45, exponent=1.0)
    alpha_freq = rng.uniform(7.5, 10.0) if abnormal else rng.uniform(8.5, 11.0)
    drift = np.cumsum(rng.normal(0, 0.02, n)) / RATE  # slow phase wander
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.05, 0.2) * t + rng.uniform(0, 6.3))
    alpha = np.sin(2 * np.pi * alpha_freq * (t + drift)) * envelope
    signal = background + rng.uniform(0.5, 2.0) * posterior[:, None] * alpha[None]
    delta_gain = rng.uniform(0.2, 1.0) if abnormal else rng.uniform(0.0, 0.8)
    signal += delta_gain * (mixing @ _band_noise(rng, c, 1.0, 3.5))
    focus = mixing[rng.integers(c)]  # a region around a random electrode
    if abnormal and rng.random() < 0.4:
        signal += rng.uniform(0.5, 1.5) * focus[:, None] * _band_noise(rng, 1, 1.0, 3.0)
    if abnormal and rng.random() < 0.3:  # sharp transients of ~80 ms
        spikes = np.zeros(n)
        spikes[rng.integers(0, n, int(rng.uniform(3, 12)))] = rng.uniform(2, 4)
        spikes = np.convolve(spikes, np.bartlett(17), mode="same")
        signal += focus[:, None] * spikes[None]
    blinks = np.zeros(n)
    blinks[rng.integers(0, n, rng.integers(2, 15))] = rng.uniform(3, 8)
    frontal = np.array([name in ("Fp1", "Fp2", "F7", "F8", "F3", "F4", "Fz") for name in CHANNELS_1020], float)
    signal += frontal[:, None] * np.convolve(blinks, np.hanning(60), mode="same")[None]
    temporal = np.array([name in ("T3", "T4", "T5", "T6", "F7", "F8") for name in CHANNELS_1020], float)
    bursts = (_band_noise(rng, 1, 0.05, 0.3) > 1.0) * _band_noise(rng, 1, 20, 45)
    signal += rng.uniform(0, 1.0) * temporal[:, None] * bursts
    gains = rng.lognormal(0.0, 0.3, (c, 1))
    return signal * gains * rng.uniform(10e-6, 40e-6) + rng.normal(0, 1e-6, (c, n))


def _scalp_mixing() -> tuple[np.ndarray, np.ndarray]:
    """Row-normalized mixing between electrodes by grid distance, and the posterior weight of each electrode."""
    cells = scalp_cells().astype(float)
    distance = np.linalg.norm(cells[:, None] - cells[None], axis=2)
    mixing = np.exp(-distance)
    posterior = 1 / (1 + np.exp(-2.5 * (cells[:, 0] - 2.5)))
    return mixing / mixing.sum(axis=1, keepdims=True) * 2, posterior


def write_demo(root: Path, patients: int) -> None:
    """Write the demo set under ``root`` unless complete; a quarter of the patients form the ``eval`` split."""
    import mne

    done = root / ".complete"
    if done.exists():
        return
    if root.exists():
        shutil.rmtree(root)
    mixing, posterior = _scalp_mixing()
    for patient in range(patients):
        rng = np.random.default_rng([SEED, patient])
        split = "eval" if (patient // 2) % 4 == 3 else "train"
        abnormal = bool(patient % 2)
        reference = "LE" if patient % 3 == 0 else "REF"
        names = [f"EEG {name.upper()}-{reference}" for name in CHANNELS_1020] + ["EKG1-REF"]
        pid = f"p{patient:05d}"
        folder = root / split / ("abnormal" if abnormal else "normal") / pid
        folder.mkdir(parents=True, exist_ok=True)
        for session in range(1 + int(rng.random() < 0.5)):
            volts = _recording(rng, abnormal, mixing, posterior)
            ecg = 1e-4 * np.sin(2 * np.pi * 1.2 * np.arange(volts.shape[1]) / RATE)
            info = mne.create_info(names, RATE, ["eeg"] * len(CHANNELS_1020) + ["ecg"])
            raw = mne.io.RawArray(np.vstack([volts, ecg[None]]), info, verbose="error")
            mne.export.export_raw(folder / f"{pid}_s{session + 1:03d}_t000.edf", raw, fmt="edf", verbose="error")
    done.touch()
