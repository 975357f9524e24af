"""The synthetic demo set: deterministic, in the PTB-XL layout, and physiologically distinct classes.

Records are read back from the written WFDB files through the domain's reader;
physiology is measured on clean records (the same generator without electrode
artifacts) the way a cardiologist's software would: R peaks on lead II for
rate and rhythm, the median beat for QRS width and ST level.
"""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import wfdb
from jepa_domains.ecg import ECGDataConfig, ECGDomain
from jepa_domains.ecg.dataset import load_splits
from jepa_domains.ecg.demo import CLASSES, lead_vectors, synthesize, write_demo
from jepa_domains.ecg.leads import STANDARD_LEADS
from jepa_domains.ecg.readers import DATABASE, REQUIRED_COLUMNS, STATEMENTS, read_database, read_record
from scipy.signal import butter, filtfilt, find_peaks

RATE = 100  # the demo's rate, as PTB-XL's records100
PER_CLASS = 6
LEAD = {name: index for index, name in enumerate(STANDARD_LEADS)}


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    return write_demo(tmp_path_factory.mktemp("demo") / "ptbxl", PER_CLASS * len(CLASSES), RATE)


@pytest.fixture(scope="module")
def database(demo) -> pd.DataFrame:
    return pd.read_csv(demo / DATABASE)


@pytest.fixture(scope="module")
def by_class() -> dict[str, list[np.ndarray]]:
    """Clean records (no electrode artifacts) of each class as ``12 × T`` mV arrays, to measure physiology."""
    rng = np.random.default_rng(7)
    return {name: [synthesize(rng, kind, 10.0, RATE, noisy=False) for _ in range(PER_CLASS)] for name, kind in CLASSES.items()}


# --------------------------------------------------------------------------- measurements


def highpass(x: np.ndarray, cutoff: float = 0.5) -> np.ndarray:
    b, a = butter(2, cutoff / (RATE / 2), "high")
    return filtfilt(b, a, x)


def r_peaks(lead_ii: np.ndarray) -> np.ndarray:
    """R-peak sample indices on lead II (baseline removed; filter edges ignored)."""
    x = highpass(lead_ii)
    peaks, _ = find_peaks(x, height=0.5 * np.percentile(x, 99.5), distance=int(0.25 * RATE))
    edge = int(0.3 * RATE)
    return peaks[(peaks >= edge) & (peaks < len(x) - edge)]


def heart_rate(signal: np.ndarray) -> float:
    return 60.0 / np.median(np.diff(r_peaks(signal[LEAD["II"]])) / RATE)


def rr_variation(signal: np.ndarray) -> float:
    rr = np.diff(r_peaks(signal[LEAD["II"]]))
    return rr.std() / rr.mean()


def median_beat(x: np.ndarray, peaks: np.ndarray, before: float = 0.3, after: float = 0.4) -> tuple[np.ndarray, int]:
    b, a = int(before * RATE), int(after * RATE)
    beats = [x[p - b : p + a] for p in peaks if p - b >= 0 and p + a <= len(x)]
    return np.median(beats, axis=0), b


def qrs_width(signal: np.ndarray) -> float:
    """Seconds the median R wave of lead II stays above half its height."""
    lead = signal[LEAD["II"]]
    beat, r = median_beat(highpass(lead), r_peaks(lead))
    above = beat > beat[r] / 2
    lo, hi = r, r
    while lo > 0 and above[lo - 1]:
        lo -= 1
    while hi < len(beat) - 1 and above[hi + 1]:
        hi += 1
    return (hi - lo + 1) / RATE


def st_elevation(signal: np.ndarray) -> float:
    """V2 at R + 80-120 ms (ST segment) minus the PR baseline at R - 80-60 ms, in mV, on the median beat."""
    beat, r = median_beat(highpass(signal[LEAD["V2"]], 0.05), r_peaks(signal[LEAD["II"]]))
    st = beat[r + int(0.08 * RATE) : r + int(0.12 * RATE)].mean()
    return st - beat[r - int(0.08 * RATE) : r - int(0.06 * RATE)].mean()


# --------------------------------------------------------------------------- determinism


def test_demo_is_deterministic_under_its_seed(tmp_path):
    first = write_demo(tmp_path / "a" / "demo", 12, RATE, seed=3)
    second = write_demo(tmp_path / "b" / "demo", 12, RATE, seed=3)
    other = write_demo(tmp_path / "c" / "demo", 12, RATE, seed=4)
    assert (first / DATABASE).read_bytes() == (second / DATABASE).read_bytes()
    assert (first / STATEMENTS).read_bytes() == (second / STATEMENTS).read_bytes()
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    assert len([f for f in files if f.suffix == ".dat"]) == 12
    for name in ("records100/00000/00001_lr.dat", "records100/00000/00001_lr.hea", "records100/00000/00012_lr.dat"):
        assert (first / name).read_bytes() == (second / name).read_bytes()
    # The seed matters.
    assert (first / DATABASE).read_bytes() != (other / DATABASE).read_bytes()
    assert (first / "records100/00000/00001_lr.dat").read_bytes() != (other / "records100/00000/00001_lr.dat").read_bytes()


def test_synthesize_is_deterministic_under_the_generator_seed():
    a = synthesize(np.random.default_rng(7), CLASSES["AFIB"], 5.0, RATE)
    b = synthesize(np.random.default_rng(7), CLASSES["AFIB"], 5.0, RATE)
    c = synthesize(np.random.default_rng(8), CLASSES["AFIB"], 5.0, RATE)
    assert a.shape == (12, 500) and np.isfinite(a).all()
    assert np.array_equal(a, b) and not np.allclose(a, c)


def test_write_demo_keeps_an_existing_set_and_leaves_no_staging(tmp_path):
    root = write_demo(tmp_path / "demo", 6, RATE)
    stamp = (root / DATABASE).stat().st_mtime_ns
    assert write_demo(root, 6, RATE) == root
    assert (root / DATABASE).stat().st_mtime_ns == stamp
    assert [p.name for p in tmp_path.iterdir()] == ["demo"]


# --------------------------------------------------------------------------- layout


def test_demo_has_the_ptbxl_layout(demo, database):
    assert set(REQUIRED_COLUMNS) | {"patient_id", "demo_class"} <= set(database.columns)
    count = PER_CLASS * len(CLASSES)
    assert database["ecg_id"].tolist() == list(range(1, count + 1))
    assert database["filename_hr"].isna().all()  # only the low-rate files exist
    assert database["demo_class"].value_counts().to_dict() == {name: PER_CLASS for name in CLASSES}
    sizes = database["strat_fold"].value_counts()
    assert sorted(sizes.index) == list(range(1, 11)), "every fold used, validation fold 9 included"
    assert sizes.max() - sizes.min() <= 1
    for name, group in database.groupby("demo_class"):  # stratified: no fold holds two of a class's 6
        assert group["strat_fold"].is_unique, name
        assert ast.literal_eval(group["scp_codes"].iloc[0]) == CLASSES[name].scp_codes
    statements = pd.read_csv(demo / STATEMENTS)
    assert {"code", "description", "diagnostic_class"} <= set(statements.columns)
    used = {code for text in database["scp_codes"] for code in ast.literal_eval(text)}
    assert used <= set(statements["code"])
    for row in database.head(3).itertuples():
        assert row.filename_lr == f"records100/00000/{row.ecg_id:05d}_lr"
        record = wfdb.rdrecord(str(demo / row.filename_lr))
        assert record.fs == RATE and record.sig_len == 10 * RATE and record.n_sig == 12
        assert record.sig_name == list(STANDARD_LEADS) and record.units == ["mV"] * 12
    parsed = read_database(demo, RATE)
    assert parsed["scp_codes"].iloc[0] == CLASSES[database["demo_class"].iloc[0]].scp_codes
    assert parsed["record"].iloc[0] == demo / "records100/00000/00001_lr"


def test_demo_loads_as_folds(demo, database):
    data = ECGDataConfig(sampling_rate=RATE, patch_ms=100.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every lead present, every record long enough
        splits = load_splits(demo, data)
    assert len(splits.train) == database["strat_fold"].between(1, 8).sum()
    assert len(splits.val) == (database["strat_fold"] == 9).sum()
    assert splits.train.signals.shape[1:] == (12, 1000) and splits.train.present.all()


def test_domain_prepares_the_demo_in_its_cache(tmp_path):
    domain, data = ECGDomain(), ECGDataConfig(sampling_rate=RATE, patch_ms=100.0, demo_records=12)
    root = domain.ensure_data(data, tmp_path)
    assert root == domain.demo_root(tmp_path, data)
    assert len(pd.read_csv(root / DATABASE)) == 12
    splits = domain.build_datasets(root, data)
    assert len(splits.train) + len(splits.val) <= 12


# --------------------------------------------------------------------------- physiology


def test_lead_relations_hold_in_a_written_record(demo, database):
    for row in database.groupby("demo_class").head(1).itertuples():  # one record of each class
        x = read_record(demo / row.filename_lr, STANDARD_LEADS).signal.astype(np.float64)
        i, ii, iii, avr, avl, avf = (x[LEAD[name]] for name in ("I", "II", "III", "aVR", "aVL", "aVF"))
        quantum = 1e-3  # 1000 adu/mV: each stored value is within half a µV, so sums of three within 1.5 µV
        assert np.abs(iii - (ii - i)).max() <= 1.5 * quantum + 1e-6, "Einthoven: III = II - I"
        assert np.abs(avr + (i + ii) / 2).max() <= 1.5 * quantum + 1e-6, "Goldberger: aVR = -(I + II) / 2"
        assert np.abs(avl - (i - ii / 2)).max() <= 1.5 * quantum + 1e-6, "Goldberger: aVL = I - II / 2"
        assert np.abs(avf - (ii - i / 2)).max() <= 1.5 * quantum + 1e-6, "Goldberger: aVF = II - I / 2"
        assert np.abs(iii).max() > 0.1  # not trivially zero


def test_artifacts_range_from_clean_to_noisy_records():
    """The same draw with and without artifacts differs by the artifacts alone; their level varies by record."""
    levels = []
    for seed in range(40):
        noisy = synthesize(np.random.default_rng(seed), CLASSES["NORM"], 10.0, RATE)
        clean = synthesize(np.random.default_rng(seed), CLASSES["NORM"], 10.0, RATE, noisy=False)
        high_frequency = np.diff(noisy - clean, axis=1)  # wander removed, static and muscle noise kept
        levels.append(np.median(np.abs(high_frequency)))
    assert min(levels) > 0
    assert max(levels) > 5 * min(levels), levels


def test_lead_vectors_follow_einthoven():
    vectors = lead_vectors()
    np.testing.assert_allclose(vectors[2], vectors[1] - vectors[0], atol=1e-12)
    np.testing.assert_allclose(vectors[3] + vectors[4] + vectors[5], 0.0, atol=1e-12)


def test_bradycardia_and_tachycardia_rates(by_class):
    for signal in by_class["SBRAD"]:
        assert 30 < heart_rate(signal) < 60
    for signal in by_class["STACH"]:
        assert 100 < heart_rate(signal) < 180
    for signal in by_class["NORM"]:
        assert 55 < heart_rate(signal) < 100


def test_atrial_fibrillation_is_irregular(by_class):
    afib = [rr_variation(signal) for signal in by_class["AFIB"]]
    norm = [rr_variation(signal) for signal in by_class["NORM"]]
    assert max(norm) < 0.08, norm  # sinus rhythm: a few percent of respiratory variation
    assert np.mean(afib) > 2.5 * np.mean(norm), (afib, norm)
    assert np.median(afib) > 0.1


def test_left_bundle_branch_block_widens_qrs(by_class):
    lbbb = [qrs_width(signal) for signal in by_class["CLBBB"]]
    norm = [qrs_width(signal) for signal in by_class["NORM"]]
    assert max(norm) <= 0.05 and min(lbbb) >= 0.07, (lbbb, norm)
    assert np.mean(lbbb) > 2 * np.mean(norm)


def test_anterior_infarction_elevates_st_in_v2(by_class):
    ami = [st_elevation(signal) for signal in by_class["AMI"]]
    norm = [st_elevation(signal) for signal in by_class["NORM"]]
    assert max(abs(v) for v in norm) < 0.1, norm
    assert min(ami) > 0.12 and min(ami) > max(norm) + 0.05, (ami, norm)
    assert np.mean(ami) - np.mean(norm) > 0.15


def test_every_class_has_plausible_amplitudes(by_class):
    for name, signals in by_class.items():
        for signal in signals:
            assert signal.shape == (12, 10 * RATE)
            swing = signal.max(axis=1) - signal.min(axis=1)
            assert (swing > 0.05).all() and (swing < 8.0).all() and swing.max() > 0.5, (name, swing)
