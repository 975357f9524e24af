"""NaN in WFDB records under each ``data.nan_policy``, and a one-record data set validated on its last windows.

The records are real WFDB files (``wfdb.wrsamp`` stores NaN as the format's invalid sample):
an all-NaN record, a 30 s NaN run inside a longer record (plus a 0.5 s gap in one lead), and a
trailing NaN stretch. At 100 Hz and 10 s windows nothing is resampled, so the windows' fate is exact.
"""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pytest
import torch
import yaml
from jepa_domains.ecg import ECGDataConfig
from jepa_domains.ecg.dataset import load_splits
from jepa_domains.ecg.preprocess import resample
from jepa_platform.cli import main
from jepa_platform.errors import JepaError

from tests.domains.ecg.test_ecg_reader import write_record
from tests.helpers import TINY_ECG, run_cli

RATE = 100


def noisy_leads(seconds: int, seed: int) -> np.ndarray:
    """``T × 2`` noisy sinusoids (leads I and II) at :data:`RATE`: no window of them is flat or a ramp."""
    rng = np.random.default_rng(seed)
    t = np.arange(seconds * RATE) / RATE
    waves = np.stack([np.sin(2 * np.pi * 1.2 * t), 0.5 * np.sin(2 * np.pi * 2.5 * t + 1)], axis=1)
    return waves + rng.normal(0, 0.05, waves.shape)


def all_nan(folder: Path) -> Path:
    """60 s, every sample NaN: 6 windows, none of them data."""
    return write_record(folder, "all_nan", np.full((60 * RATE, 2), np.nan), RATE, ["I", "II"])


def gap(folder: Path) -> Path:
    """120 s: both leads NaN from 40 s to 70 s (windows 4-6), lead II NaN from 12.0 s to 12.5 s (window 1, 5%)."""
    signal = noisy_leads(120, seed=1)
    signal[40 * RATE : 70 * RATE] = np.nan
    signal[12 * RATE : 12 * RATE + 50, 1] = np.nan
    return write_record(folder, "gap", signal, RATE, ["I", "II"])


def trailing(folder: Path) -> Path:
    """60 s: both leads NaN from 43 s to the end (window 4 is 70% NaN, window 5 all NaN)."""
    signal = noisy_leads(60, seed=2)
    signal[43 * RATE :] = np.nan
    return write_record(folder, "trailing", signal, RATE, ["I", "II"])


def config(**overrides) -> ECGDataConfig:
    settings = {"sampling_rate": RATE, "window_seconds": 10.0, "patch_ms": 100.0, "leads": ("I", "II")}
    return ECGDataConfig(**{**settings, **overrides})


@pytest.fixture
def records(tmp_path: Path) -> Path:
    folder = tmp_path / "records"
    all_nan(folder), gap(folder), trailing(folder)
    return folder


def windows_of(splits, name: str) -> list[int]:
    """The window numbers of record ``name`` in the training set (``val_percent`` 0: every window)."""
    meta = splits.train.meta
    return [int(w) for n, w in zip(meta["name"], meta["window"]) if n == name]


def test_interpolate_drops_windows_over_the_limit_and_fills_short_gaps(records: Path) -> None:
    splits = load_splits(records, config(val_percent=0.0))  # nan_policy interpolate, max_nan_fraction 0.1
    assert windows_of(splits, "all_nan") == []
    assert windows_of(splits, "gap") == [0, 1, 2, 3, 7, 8, 9, 10, 11]
    assert windows_of(splits, "trailing") == [0, 1, 2, 3]
    assert splits.stats == {"windows_dropped_nan": 11, "windows_filled_nan": 1}
    assert splits.notes[0] == (
        f"ECG records: NaN in 3 of 3 records: 11 windows dropped, 1 filled (data.nan_policy interpolate, "
        f"data.max_nan_fraction 0.1): {records / 'all_nan.hea'} (6 dropped, 0 filled); "
        f"{records / 'gap.hea'} (3 dropped, 1 filled); {records / 'trailing.hea'} (2 dropped, 0 filled)"
    )
    signals = splits.train.signals
    assert torch.isfinite(signals).all() and splits.train.present.all()
    assert (signals.abs().amax(dim=2) > 0.5).all(), "a window's lead is all zero"
    curvature = signals.diff(n=2, dim=2).abs().amax(dim=2)
    assert (curvature > 0.1).all(), "a window's lead is a pure ramp"
    # the 0.5 s gap of lead II (window 1, samples 200-249) is the line between its neighbours
    filled = signals[windows_of(splits, "gap").index(1), 1, 199:251].double()
    np.testing.assert_allclose(filled.diff(n=2).numpy(), 0.0, atol=1e-5)


def test_drop_drops_every_window_holding_a_nan(records: Path) -> None:
    splits = load_splits(records, config(nan_policy="drop", val_percent=0.0))
    assert windows_of(splits, "all_nan") == []
    assert windows_of(splits, "gap") == [0, 2, 3, 7, 8, 9, 10, 11]
    assert windows_of(splits, "trailing") == [0, 1, 2, 3]
    assert splits.stats == {"windows_dropped_nan": 12, "windows_filled_nan": 0}
    assert torch.isfinite(splits.train.signals).all()


def test_a_lead_over_the_limit_is_marked_absent_in_that_window(tmp_path: Path) -> None:
    signal = noisy_leads(30, seed=3)
    signal[12 * RATE : 16 * RATE, 1] = np.nan  # 40% of lead II in window 1; lead I intact
    write_record(tmp_path, "lead", signal, RATE, ["I", "II"])
    splits = load_splits(tmp_path, config(val_percent=0.0))
    assert splits.train.present.tolist() == [[True, True], [True, False], [True, True]]
    assert not splits.train.signals[1, 1].any() and splits.train.signals[1, 0].abs().max() > 0.5
    assert splits.stats == {"windows_dropped_nan": 0, "windows_filled_nan": 1}


@pytest.mark.parametrize(
    ("make", "where"),
    [
        (all_nan, "lead I at sample 0 (0.000 s)"),
        (gap, "lead II at sample 1200 (12.000 s)"),
        (trailing, "lead I at sample 4300 (43.000 s)"),
    ],
    ids=["all-nan", "gap", "trailing"],
)
def test_fail_stops_at_the_first_nan_naming_file_lead_and_position(tmp_path: Path, make, where: str) -> None:
    record = make(tmp_path / "records")
    with pytest.raises(JepaError) as info:
        load_splits(tmp_path / "records", config(nan_policy="fail"))
    assert str(info.value).startswith(f"{record.with_suffix('.hea')}: NaN in {where} (")
    assert "data.nan_policy is fail" in str(info.value)


def test_fail_exits_the_command_line_nonzero_with_one_error(tmp_path: Path, capsys) -> None:
    record = gap(tmp_path / "records")
    out = tmp_path / "run"
    code = main([
        "pretrain", "--domain", "ecg", "--data", str(tmp_path / "records"), "--out", str(out), "--max-steps", "2",
        "--data.nan_policy", "fail", "--data.sampling_rate", "100", "--data.leads", '["I", "II"]',
    ])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and not out.exists()
    assert err[-1] == (
        f"error: {record.with_suffix('.hea')}: NaN in lead II at sample 1200 (12.000 s) (6050 missing values in "
        "all); data.nan_policy is fail (interpolate or drop would skip or fill such windows)"
    )


def test_an_all_nan_data_set_is_an_error_not_zero_windows(tmp_path: Path) -> None:
    all_nan(tmp_path / "records")
    with pytest.raises(JepaError, match=r"no ECG window left: ECG records: NaN in 1 of 1 records: 6 windows dropped"):
        load_splits(tmp_path / "records", config())


def test_resampling_keeps_nan_runs_where_they_were() -> None:
    signal = noisy_leads(60, seed=4).T.astype(np.float32)
    signal[:, 40 * RATE : 45 * RATE] = np.nan
    out = resample(signal, RATE, 500)
    missing = np.flatnonzero(np.isnan(out).any(axis=0))
    assert out.shape == (2, 30_000) and missing[0] == 40 * 500 - 2 and missing[-1] == 45 * 500 - 3
    assert len(missing) == missing[-1] - missing[0] + 1  # one run, no NaN leaked elsewhere
    assert np.isfinite(out[:, : missing[0]]).all() and np.isfinite(out[:, missing[-1] + 1 :]).all()


def metric(out: Path, key: str) -> list[float]:
    saved = yaml.safe_load((out / "run.json").read_text())
    client, run_id = mlflow.tracking.MlflowClient(tracking_uri=saved["tracking_uri"]), saved["run_id"]
    return [m.value for m in client.get_metric_history(run_id, key)]


def test_one_record_pretrains_on_its_windows_with_nan_counted_in_the_log_and_mlflow(tmp_path: Path) -> None:
    record = gap(tmp_path / "records")
    splits = load_splits(tmp_path / "records", config())
    train, val = splits.train, splits.val
    assert list(val.meta["window"]) == [11] and list(train.meta["window"]) == [0, 1, 2, 3, 7, 8, 9, 10]
    assert not (train.signals[:, None] == val.signals[None]).all(dim=(2, 3)).any()  # no window in both

    out = tmp_path / "run"
    result = run_cli(
        "pretrain", "--domain", "ecg", "--data", str(tmp_path / "records"), "--out", str(out), "--max-steps", "2",
        "--data.sampling_rate", "100", "--data.patch_ms", "100", "--data.leads", '["I", "II"]', *TINY_ECG,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [line.strip() for line in result.stderr.splitlines() if line.startswith("ecg data: ")]
    assert lines == [
        f"ecg data: ECG records: NaN in 1 of 1 records: 3 windows dropped, 1 filled (data.nan_policy interpolate, "
        f"data.max_nan_fraction 0.1): {record.with_suffix('.hea')} (3 dropped, 1 filled)",
        "ecg data: validation: the last 5% of each recording's windows (1 of 9), as holding out 5% of the 1 record "
        "(data.val_percent) leaves no record for validation",
        "ecg data: 8 training samples, 1 validation samples",
    ]
    assert metric(out, "data/windows_dropped_nan") == [3.0] and metric(out, "data/windows_filled_nan") == [1.0]
