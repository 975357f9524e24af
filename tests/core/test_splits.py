"""The hash holdout: fixed members for fixed names, the asked share of a large set, the same on every call; and the
window holdout that takes over when no whole recording can be held out."""

from __future__ import annotations

import numpy as np
import pytest
from jepa_platform.domain import holdout_mask, in_holdout, split_holdout


def test_holdout_members_are_fixed_by_the_names():
    names = [f"records/{i:05d}" for i in range(20)]
    held = [name for name, keep in zip(names, holdout_mask(names, 25.0)) if keep]
    assert held == [
        "records/00000", "records/00003", "records/00005", "records/00008", "records/00012", "records/00013",
        "records/00015",
    ]
    patients = [f"p{i:05d}" for i in range(30)]
    assert [p for p in patients if in_holdout(p, 20.0)] == ["p00005", "p00009", "p00015", "p00023", "p00025"]


@pytest.mark.parametrize(("percent", "count"), [(5.0, 245), (25.0, 1242)])
def test_holdout_share_follows_the_percent(percent, count):
    names = [f"records/{i:05d}" for i in range(5000)]
    mask = holdout_mask(names, percent)
    assert int(mask.sum()) == count and count / 5000 == pytest.approx(percent / 100, abs=0.015)


def test_no_holdout_and_all_holdout():
    names = [f"n{i}" for i in range(500)]
    assert not holdout_mask(names, 0.0).any() and holdout_mask(names, 100.0).all()


def test_whole_records_are_held_out_when_the_hash_holdout_gives_both_splits():
    names = [f"records/{i:05d}" for i in range(20)]
    keys = np.repeat(names, 3)  # 3 windows a record
    split = split_holdout(keys, keys, np.tile([0, 100, 200], 20), 100, 25.0, "record")
    assert split.note is None and (split.val == holdout_mask(keys, 25.0)).all() and (split.train == ~split.val).all()


def test_too_few_records_hold_out_each_recordings_last_windows():
    keys = np.array(["a"] * 10 + ["b"] * 3 + ["c"])  # none of a, b, c falls in the 5% holdout
    starts = np.concatenate([np.arange(10) * 50, [200, 0, 100], [0]])  # a: overlapping windows; b: out of order
    split = split_holdout(keys, keys, starts, 100, 5.0, "record")
    assert np.flatnonzero(split.val).tolist() == [9, 10]  # a's last, b's last (start 200); c has one window only
    assert np.flatnonzero(split.train).tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 11, 12, 13]  # a's window 8 overlaps 9
    assert split.note == (
        "validation: the last 5% of each recording's windows (2 of 14; 1 overlapping them left out of training), "
        "as holding out 5% of the 3 records (data.val_percent) leaves no record for validation"
    )


def test_a_single_window_or_no_share_holds_out_nothing():
    one = split_holdout(["a"], np.array(["a"]), np.array([0]), 100, 5.0, "record")
    assert one.train.tolist() == [True] and not one.val.any() and one.note is None
    none = split_holdout(["a"] * 4, np.zeros(4), np.arange(4) * 100, 100, 0.0, "record")
    assert none.train.all() and not none.val.any() and none.note is None


def test_a_holdout_taking_every_record_falls_back_to_windows_too():
    keys = ["records/00000"] * 4  # in the 25% holdout (see above): no record would train
    split = split_holdout(keys, np.zeros(4), np.arange(4) * 100, 100, 25.0, "record")
    assert split.val.tolist() == [False, False, False, True] and split.train.tolist() == [True, True, True, False]
    assert split.note.endswith("leaves no record for training")
