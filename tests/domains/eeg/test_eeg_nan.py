"""NaN in EDF recordings under each ``data.nan_policy``, and one recording validated on its last windows.

EDF stores integer samples, so a value is NaN only where the header's scaling makes it so: here a
channel whose physical minimum reads ``nan`` (mne then gives that channel NaN throughout).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from jepa_domains.eeg.config import EEGDataConfig
from jepa_domains.eeg.dataset import load_splits, load_windows
from jepa_domains.eeg.readers import find_recordings
from jepa_platform.domain import NanReport
from jepa_platform.errors import JepaError

from tests.domains.eeg.test_eeg import FAST, write_edf

CHANNELS = ("Fp1", "Fp2", "Cz")


def config(**overrides) -> EEGDataConfig:
    return EEGDataConfig(**{**FAST.model_dump(), "channels": CHANNELS, **overrides})


def nan_scaled(path: Path, channel: int) -> Path:
    """``path`` with the physical minimum of signal ``channel`` set to ``nan`` in the EDF header."""
    raw = bytearray(path.read_bytes())
    signals = int(raw[252:256])
    start = 256 + signals * (16 + 80 + 8) + 8 * channel  # labels, transducers, units, then physical minima
    raw[start : start + 8] = b"nan     "
    path.write_bytes(bytes(raw))
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Patient ``a``: clean; patient ``b``: Fp2 NaN throughout (12 s at 250 Hz: 5 windows of 4 s every 2 s)."""
    write_edf(tmp_path / "a_s001_t000.edf", list(CHANNELS), seed=0)
    nan_scaled(write_edf(tmp_path / "b_s001_t000.edf", list(CHANNELS), seed=1), channel=1)
    return tmp_path


def test_interpolate_marks_a_nan_channel_absent(folder: Path) -> None:
    report = NanReport("interpolate", 0.1)
    windows = load_windows(find_recordings(folder), config(), report)
    assert len(windows) == 10 and torch.isfinite(windows.signals).all()
    b = windows.recording == 1
    assert windows.present[b].tolist() == [[True, False, True]] * 5 and windows.present[~b].all()
    assert not windows.signals[b][:, 1].any() and windows.signals[b][:, [0, 2]].abs().amax() > 1
    assert report.counts == {str(folder / "b_s001_t000.edf"): (0, 5)}


def test_drop_drops_the_recordings_windows(folder: Path) -> None:
    report = NanReport("drop", 0.1)
    windows = load_windows(find_recordings(folder), config(nan_policy="drop"), report)
    assert len(windows) == 5 and (windows.recording == 0).all()
    assert report.counts == {str(folder / "b_s001_t000.edf"): (5, 0)}


def test_fail_names_the_file_channel_and_position(folder: Path) -> None:
    with pytest.raises(JepaError) as info:
        load_windows(find_recordings(folder), config(nan_policy="fail"))
    assert str(info.value) == (
        f"{folder / 'b_s001_t000.edf'}: NaN in channel Fp2 at sample 0 (0.000 s) (3000 missing values in all); "
        "data.nan_policy is fail (interpolate or drop would skip or fill such windows)"
    )


def test_one_recording_validates_on_its_last_windows_clear_of_training(tmp_path: Path) -> None:
    write_edf(tmp_path / "a_s001_t000.edf", list(CHANNELS))
    splits = load_splits(tmp_path, config())  # 5 windows of 4 s every 2 s; data.val_percent 20
    assert splits.val.number.tolist() == [4] and splits.train.number.tolist() == [0, 1, 2]
    assert splits.notes == [
        "validation: the last 20% of each recording's windows (1 of 5; 1 overlapping them left out of training), "
        "as holding out 20% of the 1 patient (data.val_percent) leaves no patient for validation"
    ]
    hop, size = config().hop_size, config().window_size
    assert int(splits.train.number.max()) * hop + size <= int(splits.val.number.min()) * hop  # no shared sample
    assert splits.stats == {"windows_dropped_nan": 0, "windows_filled_nan": 0}
