"""Missing pixels (NaN, nodata) in SAR chips under each ``data.nan_policy``: the chip is the window."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from jepa_domains.sar.config import SARDataConfig
from jepa_domains.sar.dataset import load_splits
from jepa_domains.sar.preprocess import amplitude_chip
from jepa_domains.sar.readers import read_chip
from jepa_platform.errors import JepaError

from tests.domains.sar.test_sar_readers import write_tiff

SIZE = 16


def config(**overrides) -> SARDataConfig:
    return SARDataConfig(**{"bands": 2, "unit": "amplitude", "size": SIZE, "patch": 8, "radii": (2,), **overrides})


def speckle(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).gamma(2.0, 0.5, (2, SIZE, SIZE)).astype(np.float32)


@pytest.fixture
def chips(tmp_path: Path) -> Path:
    """``clean``; ``holes``: 5 nodata pixels in band 1 (2%); ``half``: band 2 half NaN; ``blank``: all NaN."""
    holes, half = speckle(1), speckle(2)
    holes[0, 3, 4:9] = -9999.0
    half[1, : SIZE // 2] = np.nan
    write_tiff(tmp_path / "clean.tif", speckle(0))
    write_tiff(tmp_path / "holes.tif", holes, nodata=-9999.0)
    write_tiff(tmp_path / "half.tif", half)
    write_tiff(tmp_path / "blank.tif", np.full((2, SIZE, SIZE), np.nan, np.float32))
    return tmp_path


def test_interpolate_fills_a_few_missing_pixels_with_the_band_median_and_drops_the_rest(chips: Path) -> None:
    splits = load_splits(chips, config(val_fraction=0.0))
    assert len(splits.train) == 2 and splits.val is None
    assert splits.stats == {"windows_dropped_nan": 2, "windows_filled_nan": 1}
    assert splits.notes == [
        f"SAR: NaN in 3 of 4 chips: 2 chips dropped, 1 filled (data.nan_policy interpolate, data.max_nan_fraction "
        f"0.1): {chips / 'blank.tif'} (1 dropped, 0 filled); {chips / 'half.tif'} (1 dropped, 0 filled); "
        f"{chips / 'holes.tif'} (0 dropped, 1 filled)"
    ]
    values = read_chip(chips / "holes.tif")
    chip = amplitude_chip(values, config(), chips / "holes.tif")
    median = np.nanmedian(values[0])
    np.testing.assert_allclose(chip[0, 3, 4:9], median, rtol=1e-6)
    np.testing.assert_array_equal(chip[:, 4:], values[:, 4:])


def test_drop_keeps_only_chips_without_missing_pixels(chips: Path) -> None:
    splits = load_splits(chips, config(nan_policy="drop", val_fraction=0.0))
    assert len(splits.train) == 1 and splits.stats == {"windows_dropped_nan": 3, "windows_filled_nan": 0}


def test_an_all_nan_chip_is_never_data(chips: Path) -> None:
    blank = chips / "blank.tif"
    assert amplitude_chip(read_chip(blank), config(max_nan_fraction=0.99), blank) is None


def test_fail_names_the_file_band_and_pixel(chips: Path) -> None:
    holes = chips / "holes.tif"
    with pytest.raises(JepaError) as info:
        amplitude_chip(read_chip(holes), config(nan_policy="fail"), holes)
    assert str(info.value).startswith(f"{holes}: NaN in band 1 at row 3, column 4 (5 missing values in all)")


def test_fail_names_the_polarization_file_of_the_band(tmp_path: Path) -> None:
    vh = speckle(3)[:1]
    vh[0, 7, 2] = np.nan
    write_tiff(tmp_path / "x_VV.tif", speckle(4)[:1])
    write_tiff(tmp_path / "x_VH.tif", vh)
    with pytest.raises(JepaError, match=r"x_VH\.tif: NaN in band VH at row 7, column 2 \(1 missing values in all\)"):
        load_splits(tmp_path, config(nan_policy="fail", polarizations=("VV", "VH")))
