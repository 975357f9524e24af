"""ECG reading: WFDB files -> checked records -> leads -> preprocessed, normalized windows -> splits.

Every test writes real WFDB files with ``wfdb.wrsamp`` (corrupting them by hand
where the test needs a bad file) and reads them back through the domain's loaders.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import wfdb
from jepa_domains.ecg import ECGDataConfig
from jepa_domains.ecg.dataset import WindowSettings, load_splits, load_windows
from jepa_domains.ecg.leads import STANDARD_LEADS, standard_lead
from jepa_domains.ecg.preprocess import cut_windows, normalize_windows, resample
from jepa_domains.ecg.readers import DATABASE, find_records, read_database, read_record
from jepa_platform.domain import holdout_mask
from jepa_platform.errors import JepaError

LEADS = STANDARD_LEADS


def write_record(
    folder: Path,
    name: str,
    signal: np.ndarray,
    fs: float,
    names: list[str],
    fmt: str = "16",
    gain: float = 1000.0,
    baseline: int = 0,
) -> Path:
    """Write ``signal`` (``T × signals``, mV) as a WFDB record; return the record path without extension."""
    folder.mkdir(parents=True, exist_ok=True)
    count = signal.shape[1]
    wfdb.wrsamp(
        name, fs=fs, units=["mV"] * count, sig_name=list(names), p_signal=signal, fmt=[fmt] * count,
        adc_gain=[gain] * count, baseline=[baseline] * count, write_dir=str(folder),
    )
    return folder / name


def sine_record(folder: Path, name: str, seconds: float, fs: float = 100, names=("I", "II"), seed: int = 0) -> Path:
    """A small record of noisy sinusoids, different per seed."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * fs)) / fs
    signal = np.stack([np.sin(2 * np.pi * (1 + i) * t + rng.uniform(0, 6)) for i in range(len(names))], axis=1)
    return write_record(folder, name, signal + rng.normal(0, 0.05, signal.shape), fs, list(names))


def config(**overrides) -> ECGDataConfig:
    """A small configuration: 100 Hz, 2 s windows of 100 ms patches."""
    settings = {"sampling_rate": 100, "window_seconds": 2.0, "min_seconds": 1.0, "patch_ms": 100.0, "leads": ("I", "II")}
    return ECGDataConfig(**{**settings, **overrides})


def settings(
    window: int = 200, min_length: int = 100, leads=("I", "II"), rate: int = 100, clip: float = 5.0,
    nan_policy: str = "interpolate", max_nan_fraction: float = 0.1,
):
    return WindowSettings(
        leads=tuple(leads), sampling_rate=rate, window=window, min_length=min_length, clip=clip,
        nan_policy=nan_policy, max_nan_fraction=max_nan_fraction,
    )


# --------------------------------------------------------------------------- bad input


def test_empty_folder_is_an_error_naming_it(tmp_path):
    (tmp_path / "notes.txt").write_text("no records here")
    with pytest.raises(JepaError, match="no .hea header") as info:
        find_records(tmp_path)
    assert str(tmp_path) in str(info.value)
    with pytest.raises(JepaError, match="no WFDB records"):
        load_splits(tmp_path, config())


def test_nonexistent_path_is_an_error(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(JepaError, match="does not exist") as info:
        load_splits(missing, config())
    assert str(missing) in str(info.value)


def test_single_file_must_be_a_header(tmp_path):
    record = sine_record(tmp_path, "r1", 3.0)
    with pytest.raises(JepaError, match=r"not a WFDB header \(\.hea\)") as info:
        load_splits(record.with_suffix(".dat"), config())
    assert "r1.dat" in str(info.value)
    # The header itself is a valid single-record data path.
    splits = load_splits(record.with_suffix(".hea"), config())
    assert len(splits.train) == 1 and splits.val is None


@pytest.mark.parametrize("fmt", ["16", "212"])
def test_truncated_signal_file(tmp_path, fmt):
    record = sine_record(tmp_path, "cut", 10.0)  # 2 signals × 1000 samples
    if fmt == "212":
        signal = wfdb.rdrecord(str(record)).p_signal
        record = write_record(tmp_path, "cut", signal, 100, ["I", "II"], fmt="212", gain=200, baseline=0)
    dat = record.with_suffix(".dat")
    full = dat.read_bytes()
    assert len(full) == {"16": 4000, "212": 3000}[fmt]
    read_record(record, LEADS)  # the intact file reads
    dat.write_bytes(full[: len(full) // 2])
    with pytest.raises(JepaError, match="truncated") as info:
        read_record(record, LEADS)
    message = str(info.value)
    assert str(dat) in message and f"{len(full) // 2} bytes" in message and f"format {fmt}" in message


def test_header_listing_fewer_signals_than_declared(tmp_path):
    record = sine_record(tmp_path, "short_header", 3.0, names=("I", "II", "V1"))
    header = record.with_suffix(".hea")
    lines = header.read_text().splitlines()
    assert lines[0].split()[1] == "3"
    header.write_text("\n".join(lines[:-1]) + "\n")  # drop the V1 signal line
    with pytest.raises(JepaError, match="declares 3 signals but lists only 2") as info:
        read_record(record, LEADS)
    assert str(header) in str(info.value)


def test_missing_signal_file(tmp_path):
    record = sine_record(tmp_path, "nodat", 3.0)
    record.with_suffix(".dat").unlink()
    with pytest.raises(JepaError, match="is missing") as info:
        read_record(record, LEADS)
    assert str(record.with_suffix(".hea")) in str(info.value) and "nodat.dat" in str(info.value)


def test_record_without_recognizable_leads(tmp_path):
    record = sine_record(tmp_path, "resp", 3.0, names=("RESP", "PLETH"))
    with pytest.raises(JepaError, match="none of its signals") as info:
        read_record(record, LEADS)
    assert str(record.with_suffix(".hea")) in str(info.value) and "RESP" in str(info.value)
    # A lead the record has but the configuration does not ask for counts as unrecognized too.
    other = sine_record(tmp_path, "v1only", 3.0, names=("V1",))
    with pytest.raises(JepaError, match="none of its signals"):
        read_record(other, ("I", "II"))


def test_malformed_record_line(tmp_path):
    record = sine_record(tmp_path, "badline", 3.0)
    header = record.with_suffix(".hea")
    lines = header.read_text().splitlines()
    header.write_text("\n".join(["badline two 100 300"] + lines[1:]) + "\n")
    with pytest.raises(JepaError, match="is not a WFDB record line") as info:
        read_record(record, LEADS)
    assert str(header) in str(info.value)


def ptbxl_table(rows: int = 3, **columns) -> pd.DataFrame:
    table = pd.DataFrame({
        "ecg_id": range(1, rows + 1),
        "filename_lr": [f"records100/00000/{i:05d}_lr" for i in range(1, rows + 1)],
        "filename_hr": [f"records500/00000/{i:05d}_hr" for i in range(1, rows + 1)],
        "scp_codes": ["{'NORM': 100.0, 'SR': 0.0}"] * rows,
        "strat_fold": [(i % 10) + 1 for i in range(rows)],
    })
    for name, values in columns.items():
        table[name] = values
    return table


@pytest.mark.parametrize("column", ["strat_fold", "scp_codes", "filename_lr"])
def test_ptbxl_database_missing_a_required_column(tmp_path, column):
    ptbxl_table().drop(columns=[column]).to_csv(tmp_path / DATABASE, index=False)
    with pytest.raises(JepaError, match="missing columns") as info:
        read_database(tmp_path, 100)
    assert str(tmp_path / DATABASE) in str(info.value) and repr(column) in str(info.value)
    with pytest.raises(JepaError, match=column):
        load_splits(tmp_path, config())


@pytest.mark.parametrize(
    ("codes", "problem"),
    [
        ("{'NORM': 100.0", "is not a dict literal"),
        ("NORM", "is not a dict literal"),
        ("['NORM']", "is not a dict literal"),
        ("{['NORM']: 100.0}", "is not a dict literal"),
        ("{'NORM': 'certain'}", "non-numeric likelihood"),
    ],
)
def test_ptbxl_malformed_scp_codes(tmp_path, codes, problem):
    ptbxl_table(scp_codes=["{'NORM': 100.0}", codes, "{}"]).to_csv(tmp_path / DATABASE, index=False)
    with pytest.raises(JepaError, match=problem) as info:
        read_database(tmp_path, 100)
    message = str(info.value)
    assert str(tmp_path / DATABASE) in message and "ecg_id 2" in message and "scp_codes" in message


def test_ptbxl_database_without_rows(tmp_path):
    ptbxl_table().iloc[:0].to_csv(tmp_path / DATABASE, index=False)
    with pytest.raises(JepaError, match="no records listed"):
        read_database(tmp_path, 100)


def test_no_record_long_enough_is_an_error(tmp_path):
    record = sine_record(tmp_path, "tiny", 0.5)
    index = pd.DataFrame({"record": [record], "name": ["tiny"]})
    with pytest.raises(JepaError, match=r"none of the 1 records is at least 1\.0 s long"):
        load_windows(index, settings())


# --------------------------------------------------------------------------- a MIT-BIH-like record


@pytest.fixture(scope="module")
def mitbih(tmp_path_factory) -> Path:
    """2 signals MLII (7 Hz, 1 mV) and V5 (13 Hz, 0.5 mV), 360 Hz, 300 s, format 212 as MIT-BIH stores them."""
    folder = tmp_path_factory.mktemp("mitdb")
    t = np.arange(300 * 360) / 360
    signal = np.stack([1.0 * np.sin(2 * np.pi * 7 * t), 0.5 * np.sin(2 * np.pi * 13 * t)], axis=1)
    return write_record(folder, "100", signal, 360, ["MLII", "V5"], fmt="212", gain=200, baseline=1024)


def test_mitbih_record_maps_to_leads_ii_and_v5(mitbih):
    header = mitbih.with_suffix(".hea").read_text()
    assert " 212 " in header and header.split()[1:4] == ["2", "360", "108000"]
    raw = read_record(mitbih, LEADS)
    assert raw.fs == 360.0 and raw.signal.shape == (12, 108000)
    assert [lead for lead, ok in zip(LEADS, raw.present) if ok] == ["II", "V5"]
    assert not raw.signal[~raw.present].any()
    t = np.arange(108000) / 360
    # Format 212 at 200 adu/mV quantizes to 5 µV.
    np.testing.assert_allclose(raw.signal[LEADS.index("II")], np.sin(2 * np.pi * 7 * t), atol=3e-3)
    np.testing.assert_allclose(raw.signal[LEADS.index("V5")], 0.5 * np.sin(2 * np.pi * 13 * t), atol=3e-3)


def test_mitbih_resampling_to_500_hz_keeps_frequency_and_amplitude(mitbih):
    raw = read_record(mitbih, LEADS)
    out = resample(raw.signal, raw.fs, 500)
    assert out.shape == (12, 150000)
    assert not out[~raw.present].any()
    freqs = np.fft.rfftfreq(out.shape[1], 1 / 500)
    t = np.arange(out.shape[1]) / 500
    for lead, freq, amplitude in [("II", 7.0, 1.0), ("V5", 13.0, 0.5)]:
        x = out[LEADS.index(lead)]
        spectrum = np.abs(np.fft.rfft(x))
        assert freqs[spectrum.argmax()] == pytest.approx(freq, abs=1e-6)
        assert 2 * spectrum.max() / len(x) == pytest.approx(amplitude, rel=0.01)
        # Sample for sample it is the same sinusoid at the new rate (away from the edges).
        np.testing.assert_allclose(x[100:-100], amplitude * np.sin(2 * np.pi * freq * t[100:-100]), atol=0.01)


def test_mitbih_record_gives_thirty_ten_second_windows(mitbih):
    data = ECGDataConfig()  # 500 Hz, 10 s windows, the 12 standard leads
    with pytest.warns(UserWarning, match=r"absent ECG leads .*I \(1 records\)"):
        splits = load_splits(mitbih.parent, data)
    # a single record: validation is its last 5% of windows (data.val_percent), 2 of the 30
    train, val = splits.train, splits.val
    assert len(train) == 28 and list(val.meta["window"]) == [28, 29]
    assert splits.notes == [
        "validation: the last 5% of each recording's windows (2 of 30), as holding out 5% of the 1 record "
        "(data.val_percent) leaves no record for validation"
    ]
    assert train.signals.shape == (28, 12, 5000)
    assert torch.equal(train.lengths, torch.full((28,), 5000))
    expected = torch.tensor([lead in ("II", "V5") for lead in LEADS])
    assert all(torch.equal(row, expected) for row in train.present)
    assert not train.signals[:, ~expected].any()
    assert list(train.meta["window"]) == list(range(28))
    sample = train[7]
    assert set(sample) == {"signal", "lead_present", "length"} and sample["signal"].dtype == torch.float32


# --------------------------------------------------------------------------- NaN runs


def test_short_nan_runs_are_interpolated_and_all_nan_leads_become_absent(tmp_path):
    t = np.arange(1000) / 100
    ramp = 0.5 + 0.002 * np.arange(1000)
    lead_i = ramp.copy()
    lead_i[300:330] = np.nan  # a run inside the lead
    lead_i[:15] = np.nan  # a run at the start: held at the first valid value; 45 of 500 samples in all
    lead_ii = np.full(1000, np.nan)
    lead_v1 = np.sin(2 * np.pi * t)
    record = write_record(tmp_path, "gaps", np.stack([lead_i, lead_ii, lead_v1], axis=1), 100, ["I", "II", "V1"])

    raw = read_record(record, LEADS)
    assert np.isnan(raw.signal[0, 300:330]).all() and np.isnan(raw.signal[1]).all()
    assert raw.present[[0, 1, 6]].all()

    index = pd.DataFrame({"record": [record], "name": ["gaps"]})
    with pytest.warns(UserWarning, match=r"absent ECG leads .*II \(1 records\)"):
        windows = load_windows(index, settings(window=500, leads=("I", "II", "V1")))
    assert len(windows) == 2 and not torch.isnan(windows.signals).any()
    assert windows.present.tolist() == [[True, False, True]] * 2
    assert not windows.signals[:, 1].any()
    filled = ramp[:500].copy()
    filled[:15] = ramp[15]  # the line between the run's neighbours, and the first valid value before it
    expected = normalize_windows(filled[None, None].astype(np.float32), np.array([500]), 5.0)[0, 0]
    np.testing.assert_allclose(windows.signals[0, 0].numpy(), expected, atol=2e-3)
    untouched = normalize_windows(lead_v1[None, None, 500:].astype(np.float32), np.array([500]), 5.0)[0, 0]
    np.testing.assert_allclose(windows.signals[1, 2].numpy(), untouched, atol=2e-3)  # 1 µV steps of the file


# --------------------------------------------------------------------------- windowing and normalization


def test_long_record_gives_whole_windows_and_drops_the_tail():
    signal = np.arange(2 * 350, dtype=np.float32).reshape(2, 350)
    windows, lengths = cut_windows(signal, 100, 50)
    assert windows.shape == (3, 2, 100) and lengths.tolist() == [100, 100, 100]
    for k in range(3):
        np.testing.assert_array_equal(windows[k], signal[:, k * 100 : (k + 1) * 100])
    exact, exact_lengths = cut_windows(signal[:, :300], 100, 50)
    assert exact.shape == (3, 2, 100) and exact_lengths.tolist() == [100] * 3


def test_short_record_gives_one_zero_padded_window():
    signal = np.ones((2, 73), dtype=np.float32)
    windows, lengths = cut_windows(signal, 100, 50)
    assert windows.shape == (1, 2, 100) and windows.dtype == np.float32
    assert lengths.tolist() == [73]
    assert (windows[0, :, :73] == 1).all() and not windows[0, :, 73:].any()
    edge, edge_lengths = cut_windows(signal[:, :50], 100, 50)  # exactly min_length still counts
    assert edge.shape == (1, 2, 100) and edge_lengths.tolist() == [50]


def test_too_short_record_gives_nothing():
    windows, lengths = cut_windows(np.ones((2, 49), dtype=np.float32), 100, 50)
    assert windows.shape == (0, 2, 100) and lengths.shape == (0,)


def test_load_windows_skips_too_short_records_with_a_warning(tmp_path):
    records = [
        sine_record(tmp_path, "long", 4.5, seed=1),  # 2 whole windows of 2 s, 0.5 s tail dropped
        sine_record(tmp_path, "short", 1.5, seed=2),  # one padded window of 150 samples
        sine_record(tmp_path, "tiny", 0.5, seed=3),  # under min_seconds: skipped
    ]
    index = pd.DataFrame({"record": records, "name": ["long", "short", "tiny"], "extra": [1, 2, 3]})
    with pytest.warns(UserWarning, match="skipped 1 of 3 ECG records shorter than data.min_seconds"):
        windows = load_windows(index, settings())
    assert len(windows) == 3
    assert windows.lengths.tolist() == [200, 200, 150]
    assert list(windows.meta["name"]) == ["long", "long", "short"]
    assert list(windows.meta["window"]) == [0, 1, 0] and list(windows.meta["extra"]) == [1, 1, 2]
    assert not windows.signals[2, :, 150:].any()
    assert windows.present.all()


def test_normalization_per_lead_over_valid_samples():
    rng = np.random.default_rng(0)
    windows = np.zeros((3, 3, 400))
    windows[:, 0] = 7.0 + 3.0 * rng.normal(size=(3, 400))  # offset and scale to remove
    windows[:, 1] = -2.0 + 0.01 * rng.normal(size=(3, 400))
    windows[:, 2] = 4.2  # a flat lead
    lengths = np.array([400, 250, 120])
    windows[2, :, 120:] = 0.0  # padding
    out = normalize_windows(windows, lengths, clip=50.0)
    assert out.dtype == np.float32 and out.shape == windows.shape
    for k, length in enumerate(lengths):
        valid = out[k, :2, :length]
        np.testing.assert_allclose(valid.mean(axis=1), 0.0, atol=1e-5)
        np.testing.assert_allclose(valid.std(axis=1), 1.0, atol=1e-4)
        assert not out[k, :, length:].any(), "padding stays zero"
        assert not out[k, 2].any(), "a flat lead stays zero"


def test_normalization_clips_outliers():
    rng = np.random.default_rng(1)
    windows = rng.normal(size=(1, 1, 1000))
    windows[0, 0, 500] = 1000.0  # a spike
    out = normalize_windows(windows, np.array([1000]), clip=3.0)
    assert out.max() == pytest.approx(3.0) and out[0, 0, 500] == pytest.approx(3.0)
    assert out.min() >= -3.0
    unclipped = normalize_windows(windows, np.array([1000]), clip=1e9)
    assert unclipped.max() > 30.0


# --------------------------------------------------------------------------- lead names


@pytest.mark.parametrize(
    ("name", "lead"),
    [
        ("MLII", "II"), ("avr", "aVR"), ("ECG V1", "V1"), ("D3", "III"), ("I", "I"), ("aVL", "aVL"),
        ("AVF", "aVF"), ("Lead II", "II"), ("ECG_V6", "V6"), (" v4 ", "V4"), ("MLI", "I"), ("DIII", "III"),
        ("V7", None), ("RESP", None), ("PLETH", None), ("", None), ("ECG", None), ("IV", None),
    ],
)
def test_standard_lead_names(name, lead):
    assert standard_lead(name) == lead


def test_only_the_first_signal_of_a_lead_is_used(tmp_path):
    t = np.arange(300) / 100
    signal = np.stack([np.sin(2 * np.pi * t), 2 * np.cos(2 * np.pi * t), 0.3 * t], axis=1)
    record = write_record(tmp_path, "dup", signal, 100, ["MLII", "II", "ECG I"])
    raw = read_record(record, ("I", "II", "III"))
    assert raw.present.tolist() == [True, True, False]
    np.testing.assert_allclose(raw.signal[1], signal[:, 0], atol=1e-3)  # MLII comes first
    np.testing.assert_allclose(raw.signal[0], signal[:, 2], atol=1e-3)


# --------------------------------------------------------------------------- splits


@pytest.fixture(scope="module")
def record_folder(tmp_path_factory) -> Path:
    """40 records of 2.5 s at 100 Hz in nested folders."""
    root = tmp_path_factory.mktemp("folder")
    for i in range(40):
        sine_record(root / f"p{i % 4}", f"rec{i:03d}", 2.5, seed=i)
    return root


def test_folder_split_is_deterministic_and_about_val_percent(record_folder):
    data = config(val_percent=25.0)
    first, second = load_splits(record_folder, data), load_splits(record_folder, data)
    for a, b in [(first.train, second.train), (first.val, second.val)]:
        assert torch.equal(a.signals, b.signals) and torch.equal(a.present, b.present)
        assert list(a.meta["name"]) == list(b.meta["name"])
    names = sorted(str(path.relative_to(record_folder)) for path in record_folder.rglob("*.hea"))
    names = [name.removesuffix(".hea") for name in names]
    val_names, train_names = list(first.val.meta["name"]), list(first.train.meta["name"])
    assert sorted(val_names + train_names) == names and not set(val_names) & set(train_names)
    assert val_names == [name for name, held in zip(names, holdout_mask(names, 25.0)) if held]
    assert 5 <= len(val_names) <= 16  # about 25% of 40
    # Rows of the subsets are the right records' windows.
    single = load_windows(pd.DataFrame({"record": [record_folder / val_names[0]], "name": [val_names[0]]}),
                          settings(leads=("I", "II")))
    assert torch.equal(first.val.signals[0], single.signals[0])


def test_folder_with_zero_val_percent_has_no_validation(record_folder):
    splits = load_splits(record_folder, config(val_percent=0.0))
    assert splits.val is None and len(splits.train) == 40


@pytest.fixture(scope="module")
def ptbxl_root(tmp_path_factory) -> Path:
    """A PTB-XL layout of 10 records, record k in fold k: 2 s at 100 Hz (lr) and 4 s at 500 Hz (hr)."""
    root = tmp_path_factory.mktemp("ptbxl")
    for k in range(1, 11):
        sine_record(root / "records100" / "00000", f"{k:05d}_lr", 2.0, fs=100, seed=k)
        sine_record(root / "records500" / "00000", f"{k:05d}_hr", 4.0, fs=500, seed=k)
    table = ptbxl_table(10)
    table["strat_fold"] = range(1, 11)
    table["scp_codes"] = [f"{{'NORM': {10.0 * k}}}" for k in range(1, 11)]
    table.to_csv(root / DATABASE, index=False)
    return root


def test_ptbxl_folds_and_high_rate_files(ptbxl_root):
    splits = load_splits(ptbxl_root, config(sampling_rate=500))
    train, val = splits.train, splits.val
    assert sorted(set(train.meta["strat_fold"])) == list(range(1, 9))
    assert set(val.meta["strat_fold"]) == {9}
    assert len(train) == 16 and len(val) == 2  # two 2-s windows from each 4-s 500 Hz record; fold 10 left out
    assert all(str(path).endswith("_hr") for path in pd.concat([train.meta, val.meta])["record"])
    assert train.signals.shape[1:] == (2, 1000)
    assert train.meta["scp_codes"].iloc[0] == {"NORM": 10.0}


def test_ptbxl_low_rate_files_when_high_rate_absent_or_not_needed(ptbxl_root, tmp_path):
    low = load_splits(ptbxl_root, config(sampling_rate=100))
    assert all(str(path).endswith("_lr") for path in low.train.meta["record"])
    assert len(low.train) == 8 and len(low.val) == 1

    table = pd.read_csv(ptbxl_root / DATABASE)
    table["filename_hr"] = ""
    root = tmp_path / "lr_only"
    root.mkdir()
    (root / "records100").symlink_to(ptbxl_root / "records100")
    table.to_csv(root / DATABASE, index=False)
    assert read_database(root, 500)["record"].iloc[0] == root / "records100/00000/00001_lr"
    splits = load_splits(root, config(sampling_rate=500))  # the 100 Hz files, resampled to 500 Hz
    assert len(splits.train) == 8 and len(splits.val) == 1
    assert splits.train.signals.shape[1:] == (2, 1000) and splits.train.lengths.tolist() == [1000] * 8


def test_ptbxl_custom_folds(ptbxl_root):
    splits = load_splits(ptbxl_root, config(train_folds=(1, 2), val_folds=(10,)))
    assert sorted(set(splits.train.meta["strat_fold"])) == [1, 2]
    assert set(splits.val.meta["strat_fold"]) == {10}


def test_no_warnings_for_clean_data(record_folder):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_splits(record_folder, config())
