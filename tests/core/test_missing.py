"""The NaN policy of the plugin API: filling, dropping and refusing windows with missing values, and the report."""

from __future__ import annotations

import numpy as np
import pytest
from jepa_platform.domain import (
    DataConfig,
    NanReport,
    apply_nan_policy,
    check_nan,
    fill_linear,
    resample_missing,
)
from jepa_platform.domain.missing import fill_median
from jepa_platform.errors import JepaError
from pydantic import ValidationError

NAN = np.nan


def test_fill_linear_bridges_runs_holds_the_ends_and_zeroes_empty_rows() -> None:
    values = np.array([[NAN, 1, NAN, NAN, 4, NAN], [NAN] * 6, [0, 1, 2, 3, 4, 5]], dtype=np.float32)
    filled = fill_linear(values)
    np.testing.assert_array_equal(filled, [[1, 1, 2, 3, 4, 4], [0] * 6, [0, 1, 2, 3, 4, 5]])
    assert filled.dtype == np.float32 and np.isnan(values[0, 0]), "the input stays as it was"


def test_fill_median_takes_each_rows_median() -> None:
    values = np.array([[NAN, 1, 5, 2], [NAN] * 4])
    np.testing.assert_array_equal(fill_median(values), [[2, 1, 5, 2], [0] * 4])


@pytest.mark.parametrize(("length", "expected"), [(40, [9, 19]), (4, [1, 3]), (20, [5, 10])])
def test_resample_missing_keeps_a_runs_extent(length: int, expected: list[int]) -> None:
    missing = np.zeros((1, 20), bool)
    missing[0, 5:10] = True  # the second quarter: new samples within half a new sample of it are missing
    resampled = resample_missing(missing, length)
    assert np.flatnonzero(resampled[0]).tolist() == list(range(*expected))


def windows() -> np.ndarray:
    """4 windows × 2 channels × 10: all NaN; 1 NaN in channel 0; channel 1 half NaN; 2 NaN per channel."""
    out = np.random.default_rng(0).normal(size=(4, 2, 10)).astype(np.float32)
    out[0] = NAN
    out[1, 0, 3] = NAN
    out[2, 1, :5] = NAN
    out[3, :, 8:] = NAN
    return out


def test_interpolate_fills_up_to_the_limit_and_marks_channels_over_it_absent() -> None:
    result = apply_nan_policy(windows(), "interpolate", 0.1, present=np.ones((4, 2), bool))
    assert result.keep.tolist() == [False, True, True, False] and (result.dropped, result.filled) == (2, 2)
    assert result.present.tolist() == [[True, True], [True, False]]
    assert np.isfinite(result.windows).all() and not result.windows[1, 1].any()
    source = windows()[1, 0]
    assert result.windows[0, 0, 3] == pytest.approx((source[2] + source[4]) / 2)


def test_without_absent_channels_a_channel_over_the_limit_drops_the_window() -> None:
    result = apply_nan_policy(windows(), "interpolate", 0.2)
    assert result.keep.tolist() == [False, True, False, True] and (result.dropped, result.filled) == (2, 2)
    assert result.present.all() and np.isfinite(result.windows).all()


def test_no_window_without_a_valid_value_is_kept_whatever_the_limit() -> None:
    result = apply_nan_policy(windows(), "interpolate", 0.99, present=np.ones((4, 2), bool))
    assert not result.keep[0] and result.keep[1:].all()


def test_drop_drops_any_window_with_a_nan() -> None:
    result = apply_nan_policy(windows(), "drop", 0.1)
    assert not result.keep.any() and (result.dropped, result.filled) == (4, 0)


def test_padding_is_neither_counted_nor_used_to_fill() -> None:
    padded = np.zeros((1, 1, 10), np.float32)
    padded[0, 0, :6] = [1, 2, 3, NAN, 5, NAN]  # 6 valid samples, then padding
    result = apply_nan_policy(padded, "interpolate", 0.4, lengths=np.array([6]))
    np.testing.assert_array_equal(result.windows[0, 0], [1, 2, 3, 4, 5, 5, 0, 0, 0, 0])
    assert result.lengths.tolist() == [6]
    assert not apply_nan_policy(padded, "interpolate", 0.3, lengths=np.array([6])).keep[0]  # 2 of 6 over 0.3


def test_fail_expects_the_file_checked_first() -> None:
    with pytest.raises(ValueError, match="check_nan"):
        apply_nan_policy(windows(), "fail", 0.1)
    assert apply_nan_policy(np.ones((2, 1, 4)), "fail", 0.1).keep.all()


def test_check_nan_names_file_channel_and_the_earliest_position() -> None:
    signal = np.zeros((2, 500))
    signal[1, 250] = signal[0, 300:310] = NAN
    check_nan(signal, "interpolate", "rec.hea", ["lead I", "lead II"], 100.0)  # only fail refuses
    with pytest.raises(JepaError) as info:
        check_nan(signal, "fail", "rec.hea", ["lead I", "lead II"], 100.0)
    assert str(info.value) == (
        "rec.hea: NaN in lead II at sample 250 (2.500 s) (11 missing values in all); data.nan_policy is fail "
        "(interpolate or drop would skip or fill such windows)"
    )
    raster = np.ones((2, 4, 5))
    raster[1, 2, 3] = np.inf
    with pytest.raises(JepaError, match=r"^b\.tif: NaN in band VH at row 2, column 3 \(1 missing"):
        check_nan(raster, "fail", ["a.tif", "b.tif"], ["band VV", "band VH"])


def test_report_line_names_the_worst_files() -> None:
    report = NanReport("interpolate", 0.1)
    clean = apply_nan_policy(np.ones((3, 1, 4)), "interpolate", 0.1)
    bad = apply_nan_policy(windows(), "interpolate", 0.1)
    for name, result in [("a", clean), ("b", bad), ("c", bad), ("d", bad), ("e", clean)]:
        report.add(name, result)
    report.add("f", apply_nan_policy(windows()[1:3], "interpolate", 0.1))
    assert report.stats() == {"windows_dropped_nan": 10, "windows_filled_nan": 4}
    assert report.line("toy data", "records") == (
        "toy data: NaN in 4 of 6 records: 10 windows dropped, 4 filled (data.nan_policy interpolate, "
        "data.max_nan_fraction 0.1): b (3 dropped, 1 filled); c (3 dropped, 1 filled); d (3 dropped, 1 filled) "
        "and 1 more"
    )
    assert NanReport("drop", 0.1).line("none") is None


@pytest.mark.parametrize("value", [-0.1, 1.0])
def test_max_nan_fraction_is_a_share_below_one(value: float) -> None:
    with pytest.raises(ValidationError, match="max_nan_fraction"):
        DataConfig(max_nan_fraction=value)
    assert DataConfig().nan_policy == "interpolate" and DataConfig().max_nan_fraction == 0.1
