"""data.on_bad_file on EEG folders: a truncated EDF stops the read naming it, or is skipped and counted."""

from __future__ import annotations

from pathlib import Path

import pytest
from jepa_domains.eeg.config import EEGDataConfig
from jepa_domains.eeg.dataset import load_splits
from jepa_platform.errors import JepaError
from jepa_platform.pretrain.config import resolve_recipe

from tests.real_files import write_tuab

SETTINGS = {"sampling_rate": 100.0, "l_freq": 0.5, "h_freq": 40.0, "notch_freq": None,
            "window_seconds": 5.0, "hop_seconds": 2.5, "frame_seconds": 1.0}


def truncated_tuab(root: Path) -> Path:
    write_tuab(root)
    broken = sorted((root / "train").rglob("*.edf"))[0]
    broken.write_bytes(broken.read_bytes()[:300])  # the header cut short
    return broken


def test_a_truncated_recording_fails_or_is_skipped_and_counted(tmp_path):
    broken = truncated_tuab(tmp_path / "tuab")
    with pytest.raises(JepaError, match=broken.name):
        load_splits(tmp_path / "tuab", EEGDataConfig(**SETTINGS))
    splits = load_splits(tmp_path / "tuab", EEGDataConfig(**SETTINGS, on_bad_file="skip"))
    assert splits.stats["bad_files_skipped"] == 1
    assert any("skipped 1 of 6 EEG recordings that could not be read" in note and broken.name in note
               for note in splits.notes)
    assert len(splits.train) > 0


def test_a_domain_whose_readers_cannot_skip_refuses_the_setting():
    with pytest.raises(JepaError, match=r"recipe key 'data.on_bad_file': domain 'sar' cannot skip"):
        resolve_recipe("sar", overrides={"data": {"on_bad_file": "skip"}})
