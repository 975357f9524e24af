"""The hash holdout: fixed members for fixed names, the asked share of a large set, the same on every call."""

from __future__ import annotations

import pytest
from jepa_platform.domain import holdout_mask, in_holdout


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
