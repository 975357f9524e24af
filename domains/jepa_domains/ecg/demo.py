"""A deterministic, physiological synthetic 12-lead ECG set written in the PTB-XL layout.

Each beat is a sum of Gaussian waves (P, septal q, R, S, two-part T, and per
class an R' notch, an injury current or f-waves), each wave a 3-D cardiac
dipole direction. Lead voltages are projections of the dipole on lead vectors
(Einthoven and Goldberger relations hold exactly), so morphology differs by
lead as on a real ECG. Classes differ in rhythm (sinus, atrial fibrillation,
brady/tachycardia) and morphology (left bundle-branch block, anterior
infarction with ST elevation). Heart rate variability, heart-axis rotation
and amplitude vary per record, and so do the artifacts PTB-XL annotates
(baseline drift, static noise, muscle-noise bursts, electrode motion): from
clean to noisy records, so that telling classes apart takes the waveform's
structure, not its energy.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import wfdb

from .leads import STANDARD_LEADS
from .readers import DATABASE, STATEMENTS


def lead_vectors() -> np.ndarray:
    """``12 × 3`` lead directions in (left, inferior, anterior) body coordinates."""
    lead_i, lead_ii = np.array([1.0, 0.0, 0.0]), np.array([0.5, np.sqrt(3) / 2, 0.0])
    limb = [lead_i, lead_ii, lead_ii - lead_i, -(lead_i + lead_ii) / 2, lead_i - lead_ii / 2, lead_ii - lead_i / 2]
    chest = [1.3 * np.array([np.cos(np.radians(a)), 0.15, np.sin(np.radians(a))]) for a in (115, 95, 75, 55, 30, 5)]
    return np.stack(limb + chest)


def electrode_leads() -> np.ndarray:
    """``12 × 9`` lead voltages from the electrode potentials (RA, LA, LL, V1-V6): Einthoven's limb
    leads, Goldberger's augmented leads and the chest leads against Wilson's terminal (RA + LA + LL) / 3."""
    limb = np.array([[-1, 1, 0], [-1, 0, 1], [0, -1, 1], [1, -0.5, -0.5], [-0.5, 1, -0.5], [-0.5, -0.5, 1]])
    chest = np.hstack([np.full((6, 3), -1 / 3), np.eye(6)])
    return np.vstack([np.hstack([limb, np.zeros((6, 6))]), chest])


def _unit(*xyz: float) -> np.ndarray:
    v = np.array(xyz, dtype=np.float64)
    return v / np.linalg.norm(v)


@dataclass
class Wave:
    """One dipole wave of a beat: offset from the R peak (s), width (s), amplitude (mV), direction."""

    offset: float
    width: float
    amplitude: float
    direction: np.ndarray
    scales_with_qt: bool = False  # T-wave timing follows Bazett's sqrt(RR)


NORMAL_BEAT = [
    Wave(-0.15, 0.022, 0.15, _unit(0.6, 0.75, -0.1)),  # P
    Wave(-0.025, 0.008, 0.12, _unit(-0.4, -0.1, 0.9)),  # septal q
    Wave(0.0, 0.011, 1.3, _unit(0.55, 0.7, -0.45)),  # R
    Wave(0.028, 0.010, 0.35, _unit(-0.35, -0.5, -0.8)),  # S
    Wave(0.25, 0.055, 0.22, _unit(0.5, 0.6, 0.3), True),  # T, slow rise
    Wave(0.30, 0.035, 0.18, _unit(0.5, 0.6, 0.3), True),  # T, faster fall
]


@dataclass
class ECGClass:
    """A labelled class: SCP codes as PTB-XL writes them, heart-rate range and beat shape."""

    scp_codes: dict[str, float]
    heart_rate: tuple[float, float]
    beat: list[Wave]
    irregular: bool = False  # atrial fibrillation: irregular RR, no P, f-waves
    extra: dict[str, float] = field(default_factory=dict)


def _lbbb_beat() -> list[Wave]:
    # No septal q (septum activates right to left), broad notched R towards left-posterior, discordant T.
    left = _unit(0.7, 0.3, -0.65)
    return [
        NORMAL_BEAT[0],
        Wave(-0.02, 0.022, 1.1, left),
        Wave(0.035, 0.022, 0.9, left),
        Wave(0.25, 0.06, 0.3, -_unit(0.5, 0.35, -0.4), True),
        Wave(0.30, 0.04, 0.2, -_unit(0.5, 0.35, -0.4), True),
    ]


def _anterior_mi_beat() -> list[Wave]:
    # Loss of anterior forces (Q in V1-V3) and an anterior injury current lifting the ST segment.
    beat = [w for i, w in enumerate(NORMAL_BEAT) if i != 1]
    beat.insert(1, Wave(-0.02, 0.012, 0.35, _unit(0.0, 0.0, -1.0)))
    beat.append(Wave(0.13, 0.06, 0.28, _unit(0.1, -0.1, 1.0)))
    return beat


CLASSES: dict[str, ECGClass] = {
    "NORM": ECGClass({"NORM": 100.0, "SR": 0.0}, (58, 98), NORMAL_BEAT),
    "AFIB": ECGClass({"AFIB": 0.0}, (70, 130), NORMAL_BEAT[1:], irregular=True),
    "SBRAD": ECGClass({"NORM": 100.0, "SBRAD": 0.0}, (40, 58), NORMAL_BEAT),
    "STACH": ECGClass({"NORM": 100.0, "STACH": 0.0}, (102, 150), NORMAL_BEAT),
    # The discordant T of the block is inverted in the lateral leads: the form statement INVT.
    "CLBBB": ECGClass({"CLBBB": 100.0, "INVT": 0.0, "SR": 0.0}, (60, 95), _lbbb_beat()),
    "AMI": ECGClass({"AMI": 100.0, "STE_": 0.0, "SR": 0.0}, (60, 100), _anterior_mi_beat()),
}

# The rows of PTB-XL's scp_statements.csv for the codes above.
STATEMENT_ROWS = [
    ("NORM", "normal ECG", 1.0, None, None, "NORM", "NORM"),
    ("AMI", "anterior myocardial infarction", 1.0, None, None, "MI", "AMI"),
    ("CLBBB", "complete left bundle branch block", 1.0, None, None, "CD", "CLBBB"),
    ("STE_", "non-specific ST elevation", None, 1.0, None, None, None),
    ("INVT", "inverted T-waves", None, 1.0, None, None, None),
    ("SR", "sinus rhythm", None, None, 1.0, None, None),
    ("AFIB", "atrial fibrillation", None, None, 1.0, None, None),
    ("SBRAD", "sinus bradycardia", None, None, 1.0, None, None),
    ("STACH", "sinus tachycardia", None, None, 1.0, None, None),
]


def _rotation(rng: np.random.Generator, degrees: float) -> np.ndarray:
    """A random rotation of at most ``degrees`` about each body axis (heart-axis variation)."""
    matrix = np.eye(3)
    for axis in range(3):
        angle = np.radians(rng.uniform(-degrees, degrees))
        c, s = np.cos(angle), np.sin(angle)
        i, j = [a for a in range(3) if a != axis]
        r = np.eye(3)
        r[i, i], r[i, j], r[j, i], r[j, j] = c, -s, s, c
        matrix = matrix @ r
    return matrix


def beat_times(rng: np.random.Generator, kind: ECGClass, seconds: float) -> np.ndarray:
    """R-peak times: sinus rhythm with respiratory variability, or irregular RR for fibrillation."""
    mean_rr = 60.0 / rng.uniform(*kind.heart_rate)
    count = int(seconds / mean_rr) + 4
    if kind.irregular:
        rr = mean_rr * rng.lognormal(0.0, 0.2, count)
    else:
        phase, resp = rng.uniform(0, 2 * np.pi), rng.uniform(0.15, 0.35)
        rr = mean_rr * (1 + 0.04 * np.sin(phase + 2 * np.pi * resp * mean_rr * np.arange(count)))
        rr *= 1 + rng.normal(0, 0.012, count)
    rr = np.clip(rr, 0.27, 2.2)
    return np.cumsum(rr) - rng.uniform(0, rr[0]) - rr[0] + 0.1


def synthesize(rng: np.random.Generator, kind: ECGClass, seconds: float, rate: int, noisy: bool = True) -> np.ndarray:
    """One ``12 × T`` record in mV; ``noisy=False`` leaves out the electrode artifacts."""
    t = np.arange(int(seconds * rate)) / rate
    peaks = beat_times(rng, kind, seconds)
    rr = np.diff(peaks, prepend=peaks[0] - np.median(np.diff(peaks)))
    gains = rng.uniform(0.8, 1.2, len(kind.beat))
    centres, widths, weights = [], [], []
    for wave, gain in zip(kind.beat, gains):
        stretch = np.sqrt(np.clip(rr, 0.3, 2.0)) if wave.scales_with_qt else np.ones_like(rr)
        centres.append(peaks + wave.offset * stretch)
        widths.append(np.full_like(peaks, wave.width) * stretch)
        amplitude = wave.amplitude * gain * (1 + rng.normal(0, 0.03, len(peaks)))
        weights.append(amplitude[:, None] * wave.direction[None, :])
    centres, widths, weights = np.concatenate(centres), np.concatenate(widths), np.concatenate(weights)
    shapes = np.exp(-0.5 * ((t[None, :] - centres[:, None]) / widths[:, None]) ** 2)
    dipole = weights.T @ shapes  # 3 × T
    if kind.irregular:  # fibrillatory waves from the atria, strongest in V1
        freqs, phases = rng.uniform(4, 9, 3), rng.uniform(0, 2 * np.pi, 3)
        f_wave = (rng.uniform(0.02, 0.05, 3)[:, None] * np.sin(2 * np.pi * freqs[:, None] * t + phases[:, None])).sum(0)
        dipole += _unit(-0.3, 0.4, 0.85)[:, None] * f_wave
    leads = (lead_vectors() @ _rotation(rng, 15.0)) @ dipole * rng.uniform(0.7, 1.3)
    return leads + electrode_leads() @ artifacts(rng, len(t), rate) if noisy else leads


def artifacts(rng: np.random.Generator, samples: int, rate: int) -> np.ndarray:
    """``9 × T`` electrode artifacts (RA, LA, LL, V1-V6) in mV, as PTB-XL annotates them.

    Baseline wander (respiration, 0.05-0.5 Hz), static noise of a record-specific
    level spanning clean to noisy records, bursts of muscle noise, and electrode
    motion: baseline steps that decay over about a second. They arise at the
    electrodes, not per lead, so the derived leads keep Einthoven's and
    Goldberger's relations (III = II - I, ...).
    """
    electrodes, t = electrode_leads().shape[1], np.arange(samples) / rate
    freq = rng.uniform(0.05, 0.5, (electrodes, 2))
    amp = rng.uniform(0.02, 0.3, (electrodes, 2)) / np.sqrt(2)
    phase = rng.uniform(0, 2 * np.pi, (electrodes, 2))
    signal = (amp[..., None] * np.sin(2 * np.pi * freq[..., None] * t + phase[..., None])).sum(1)
    signal += rng.normal(0, np.exp(rng.uniform(np.log(0.005), np.log(0.08))), (electrodes, samples))
    for _ in range(rng.poisson(1.0)):  # muscle noise bursts, on a few electrodes
        start, length = rng.integers(0, samples), int(rng.uniform(0.3, 2.0) * rate)
        where = rng.random(electrodes) < 0.4
        burst = rng.normal(0, rng.uniform(0.05, 0.25), (electrodes, min(length, samples - start)))
        signal[where, start : start + length] += burst[where]
    for _ in range(rng.poisson(0.7)):  # electrode motion: a step that decays
        electrode, start = rng.integers(0, electrodes), rng.integers(0, samples)
        decay = np.exp(-(t[start:] - t[start]) / rng.uniform(0.3, 1.5))
        signal[electrode, start:] += rng.uniform(-0.8, 0.8) * decay
    return signal


def write_demo(root: Path, records: int, rate: int, seconds: float = 10.0, seed: int = 0) -> Path:
    """Write the demo set to ``root`` (atomically: built beside it, then renamed) and return ``root``.

    Layout as PTB-XL: ``records100/00000/00001_lr.{hea,dat}`` at ``rate`` Hz,
    ``ptbxl_database.csv`` (``scp_codes``, stratified ``strat_fold`` 1-10,
    ``patient_id``) and ``scp_statements.csv``.
    """
    if (root / DATABASE).is_file():
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=root.parent))
    try:
        rng = np.random.default_rng(seed)
        names = list(CLASSES)
        labels = [names[i % len(names)] for i in range(records)]
        rng.shuffle(labels)
        folds, start = np.zeros(records, dtype=int), 0
        for name in names:  # stratified: each class spread evenly over folds 1-10, and so all records
            members = [i for i, label in enumerate(labels) if label == name]
            folds[members] = rng.permutation((np.arange(len(members)) + start) % 10 + 1)
            start += len(members)  # the next class goes on where this one stopped: small sets fill every fold
        rows = []
        for index, label in enumerate(labels):
            ecg_id = index + 1
            folder = f"records100/{(ecg_id // 1000) * 1000:05d}"
            name = f"{ecg_id:05d}_lr"
            (staging / folder).mkdir(parents=True, exist_ok=True)
            signal = synthesize(rng, CLASSES[label], seconds, rate)
            wfdb.wrsamp(
                name, fs=rate, units=["mV"] * 12, sig_name=list(STANDARD_LEADS), p_signal=signal.T,
                fmt=["16"] * 12, adc_gain=[1000.0] * 12, baseline=[0] * 12, write_dir=str(staging / folder),
            )
            rows.append({
                "ecg_id": ecg_id, "patient_id": float(10000 + index), "age": int(rng.integers(20, 90)),
                "sex": int(rng.integers(0, 2)), "scp_codes": str(CLASSES[label].scp_codes),
                "strat_fold": int(folds[index]), "filename_lr": f"{folder}/{name}", "filename_hr": "",
                "demo_class": label,
            })
        pd.DataFrame(rows).to_csv(staging / DATABASE, index=False)
        statements = pd.DataFrame(
            STATEMENT_ROWS,
            columns=["code", "description", "diagnostic", "form", "rhythm", "diagnostic_class", "diagnostic_subclass"],
        )
        statements.to_csv(staging / STATEMENTS, index=False)
        try:
            os.rename(staging, root)
        except OSError:  # another process finished first
            if not (root / DATABASE).is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return root
