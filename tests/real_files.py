"""Tiny data sets in the layouts users have, written by the real libraries: PTB-XL (wfdb), TUAB (EDF via mne/edfio),
an MSTAR-like tree of GeoTIFF chips (rasterio). Deterministic and small enough for a few seconds of preprocessing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

LEADS = ("I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6")
TUAB_CHANNELS = ("FP1", "FP2", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2", "F7", "F8", "T3", "T4", "T5", "T6",
                 "FZ", "CZ", "PZ")


def write_ptbxl(root: Path, records: int = 20, rate: int = 100, seconds: float = 10.0) -> Path:
    """A PTB-XL folder: ``records`` WFDB records at ``rate`` Hz (each fold of 1-10 holding a ``NORM`` and an
    ``IMI`` record, both also ``SR``), ``ptbxl_database.csv`` and ``scp_statements.csv``."""
    import wfdb

    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * rate)) / rate
    rows = []
    for index in range(records):
        ecg_id, folder = index + 1, root / "records100" / "00000"
        folder.mkdir(parents=True, exist_ok=True)
        beat = np.exp(-0.5 * ((t % 0.8 - 0.4) / (0.02 if index % 2 else 0.012)) ** 2)
        signal = beat[:, None] * rng.uniform(0.5, 1.5, len(LEADS)) + 0.02 * rng.standard_normal((len(t), len(LEADS)))
        wfdb.wrsamp(f"{ecg_id:05d}_lr", fs=rate, units=["mV"] * len(LEADS), sig_name=list(LEADS), p_signal=signal,
                    fmt=["16"] * len(LEADS), adc_gain=[1000.0] * len(LEADS), baseline=[0] * len(LEADS),
                    write_dir=str(folder))
        codes = {"IMI": 50.0, "SR": 0.0} if index % 2 else {"NORM": 100.0, "SR": 0.0}
        rows.append({"ecg_id": ecg_id, "scp_codes": str(codes), "strat_fold": index // 2 % 10 + 1,
                     "filename_lr": f"records100/00000/{ecg_id:05d}_lr", "filename_hr": ""})
    pd.DataFrame(rows).to_csv(root / "ptbxl_database.csv", index=False)
    pd.DataFrame({
        "code": ["NORM", "IMI", "SR"], "diagnostic": [1.0, 1.0, np.nan], "form": [np.nan] * 3,
        "rhythm": [np.nan, np.nan, 1.0], "diagnostic_class": ["NORM", "MI", np.nan],
        "diagnostic_subclass": ["NORM", "IMI", np.nan],
    }).to_csv(root / "scp_statements.csv", index=False)
    return root


def write_tuab(root: Path, seconds: float = 20.0, rate: float = 100.0) -> Path:
    """A TUAB tree ``train|eval/normal|abnormal/<patient>/<patient>_s001_t000.edf``: per class three training
    patients (one of them falls in a 50 % validation holdout) and one evaluation patient; abnormal ones slower."""
    import mne
    from jepa_platform.domain import in_holdout

    patients = [f"p{k:04d}" for k in range(200)]
    val = [p for p in patients if in_holdout(p, 50.0)]
    train = [p for p in patients if not in_holdout(p, 50.0)]
    plan = {("train", 0): train[:2] + val[:1], ("train", 1): train[2:4] + val[1:2],
            ("eval", 0): train[4:5], ("eval", 1): train[5:6]}
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * rate)) / rate
    for (split, label), names in plan.items():
        for patient in names:
            rhythm = np.sin(2 * np.pi * (6.0 if label else 10.0) * t)
            volts = 20e-6 * (rhythm + 0.5 * rng.standard_normal((len(TUAB_CHANNELS), len(t))))
            info = mne.create_info([f"EEG {name}-REF" for name in TUAB_CHANNELS], rate, "eeg")
            folder = root / split / ("abnormal" if label else "normal") / patient
            folder.mkdir(parents=True, exist_ok=True)
            raw = mne.io.RawArray(volts, info, verbose="error")
            mne.export.export_raw(folder / f"{patient}_s001_t000.edf", raw, fmt="edf", verbose="error")
    return root


def write_mstar(root: Path, train_per_class: int = 6, test_per_class: int = 3, size: int = 32) -> Path:
    """An MSTAR-like tree ``17_DEG|15_DEG/<class>/*.tif`` of float32 amplitude GeoTIFFs: a bright square
    (class ``tank``) or bar (class ``truck``) in speckle."""
    import rasterio
    from rasterio.transform import Affine

    rng = np.random.default_rng(0)
    for folder, count in (("17_DEG", train_per_class), ("15_DEG", test_per_class)):
        for label, name in enumerate(("tank", "truck")):
            (root / folder / name).mkdir(parents=True, exist_ok=True)
            for index in range(count):
                chip = rng.gamma(2.0, 0.5, (size, size)).astype(np.float32)
                chip[12:20, 12:20] += 3.0 if label == 0 else 0.0
                chip[14:18, 4:28] += 3.0 if label == 1 else 0.0
                profile = {"driver": "GTiff", "width": size, "height": size, "count": 1, "dtype": "float32",
                           "crs": "EPSG:32633", "transform": Affine(0.3, 0.0, 500000.0, 0.0, -0.3, 4000000.0)}
                with rasterio.open(root / folder / name / f"chip{index:02d}.tif", "w", **profile) as dst:
                    dst.write(chip[None])
    return root


def prepared_shards(domain: str, root: Path, data: dict, shard_size: int, workers: int) -> dict:
    """``prepare`` the data set at ``root`` (recipe ``data`` overrides) into ``root``'s sibling ``shards``:
    the resolved data section, the shard folder and the manifest."""
    from jepa_platform.data.prepare import prepare
    from jepa_platform.domain import cache_dir, load_domain
    from jepa_platform.pretrain.config import resolve_recipe

    resolved = resolve_recipe(domain, overrides={"data": {**data, "path": str(root)}}).data
    out = root.parent / "shards"
    manifest = prepare(load_domain(domain), resolved, out, cache_dir(), shard_size=shard_size, workers=workers)
    return {"data": resolved, "out": out, "manifest": manifest}
