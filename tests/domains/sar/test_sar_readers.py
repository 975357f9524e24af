"""SAR readers: GeoTIFF through rasterio (multi-band dB, nodata, NaN), PNG, original MSTAR files, clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from jepa_domains.sar.config import SARDataConfig
from jepa_domains.sar.dataset import load_chips
from jepa_domains.sar.preprocess import amplitude_chip
from jepa_domains.sar.readers import read_chip, read_mstar
from jepa_platform.errors import JepaError
from PIL import Image
from rasterio.transform import from_origin

from tests.helpers import FIXTURES


def write_tiff(path: Path, values: np.ndarray, nodata: float | None = None) -> Path:
    bands, height, width = values.shape
    with rasterio.open(
        path, "w", driver="GTiff", height=height, width=width, count=bands, dtype=values.dtype,
        crs="EPSG:32633", transform=from_origin(500000, 4600000, 10, 10), nodata=nodata,
    ) as dst:
        dst.write(values)
    return path


def write_mstar(path: Path, magnitude: np.ndarray, native: bytes = b"") -> Path:
    """A file in the original MSTAR layout: Phoenix header, native header, big-endian magnitude, then phase."""
    rows, cols = magnitude.shape
    lines = ["[PhoenixHeaderVer01.04]", "PhoenixHeaderLength= {:06d}", f"NativeHeaderLength= {len(native)}",
             f"NumberOfColumns= {cols}", f"NumberOfRows= {rows}", "TargetType= t72", "DesiredDepression= 17",
             "[EndofPhoenixHeader]\n"]
    text = "\n".join(lines)
    text = text.format(len(text.format(0)))
    phase = np.zeros_like(magnitude)
    path.write_bytes(text.encode("ascii") + native + magnitude.astype(">f4").tobytes() + phase.astype(">f4").tobytes())
    return path


def test_multiband_float_db_geotiff_with_nodata_and_nan(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    db = rng.uniform(-25, 5, (2, 40, 48)).astype(np.float32)  # VV, VH in dB
    db[0, 3, 4] = -9999.0  # nodata
    db[1, 10, 11] = np.nan
    path = write_tiff(tmp_path / "s1.tif", db, nodata=-9999.0)
    values = read_chip(path)
    assert values.shape == (2, 40, 48) and np.isnan(values[0, 3, 4]) and np.isnan(values[1, 10, 11])
    data = SARDataConfig(bands=2, unit="db", size=32, patch=8, radii=(2,))
    chip = amplitude_chip(values, data, path)
    assert chip.shape == (2, 32, 32) and np.isfinite(chip).all()
    # no masked pixel at (20, 20): dB -> amplitude is 10^(dB/20) (centre crop 40 × 40, then 40 -> 32 area resize)
    unresized = amplitude_chip(values, SARDataConfig(bands=2, unit="db", size=40, patch=8, radii=(2,)), path)
    np.testing.assert_allclose(unresized[:, 20, 20], 10 ** (db[:, 20, 24] / 20), rtol=1e-5)


def test_png_chip_and_mstar_file(tmp_path: Path) -> None:
    pixels = (np.arange(64 * 64).reshape(64, 64) % 60000).astype(np.uint16)
    Image.fromarray(pixels).save(tmp_path / "chip.png")
    np.testing.assert_array_equal(read_chip(tmp_path / "chip.png")[0], pixels)
    magnitude = np.random.default_rng(1).gamma(2.0, 0.05, (54, 60)).astype(np.float32)
    path = write_mstar(tmp_path / "HB03333.015", magnitude, native=b"\x00" * 37)
    values, header = read_mstar(path)
    assert header["TargetType"] == "t72" and header["NumberOfRows"] == "54" and header["DesiredDepression"] == "17"
    np.testing.assert_array_equal(values[0], magnitude)
    np.testing.assert_array_equal(read_chip(path)[0], magnitude)


def test_mstar_layout_reads_class_folders(tmp_path: Path) -> None:
    for name, value in [("bmp2", 1.0), ("t72", 2.0)]:
        (tmp_path / name).mkdir()
        write_mstar(tmp_path / name / "a.000", np.full((20, 20), value, np.float32))
        Image.fromarray(np.full((20, 20), 100 * value, np.uint8)).save(tmp_path / name / "b.png")
    chips = load_chips(tmp_path, SARDataConfig(bands=1, unit="amplitude", size=16, patch=8, radii=(2,)), classes=True)
    assert chips.classes == ("bmp2", "t72") and chips.labels.tolist() == [0, 0, 1, 1]
    assert chips.amplitude.shape == (4, 1, 16, 16)


def test_bad_files_give_one_clear_error(tmp_path: Path) -> None:
    data = SARDataConfig(bands=1, unit="amplitude", size=16, patch=8, radii=(2,))
    (tmp_path / "empty.tif").write_bytes(b"")
    with pytest.raises(JepaError, match=r"empty\.tif: empty file \(0 bytes\)"):
        read_chip(tmp_path / "empty.tif")
    three = write_tiff(tmp_path / "rgb.tif", np.ones((3, 16, 16), np.float32))
    with pytest.raises(JepaError, match=r"rgb\.tif: 3 bands, but data.bands is 1"):
        amplitude_chip(read_chip(three), data, three)
    (tmp_path / "junk.tif").write_bytes(b"not a tiff at all")
    with pytest.raises(JepaError, match=r"junk\.tif: not a readable raster"):
        read_chip(tmp_path / "junk.tif")
    truncated = write_mstar(tmp_path / "cut.001", np.ones((8, 8), np.float32))
    truncated.write_bytes(truncated.read_bytes()[:-300])
    with pytest.raises(JepaError, match=r"cut\.001: truncated MSTAR file"):
        read_chip(truncated)
    (tmp_path / "none").mkdir()
    with pytest.raises(JepaError, match="no SAR chips"):
        load_chips(tmp_path / "none", data, classes=False)


OUTSIDE = FIXTURES / "geotiff"


def test_outside_geotiffs_multiband_nodata_and_band_count() -> None:
    rgb = OUTSIDE / "rmnp-rgb.tif"
    values = read_chip(rgb)
    with rasterio.open(rgb) as source:
        masked = source.read(masked=True)
    assert values.shape == (3, 373, 485) and values.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(values), np.ma.getmaskarray(masked))
    assert 0 < np.isnan(values).mean() < 0.5  # the park's outline: outside pixels are nodata
    np.testing.assert_array_equal(values[~np.isnan(values)], masked.compressed())
    chip = amplitude_chip(values, SARDataConfig(bands=3, unit="amplitude", size=64, patch=8, radii=(2,)), rgb)
    assert chip.shape == (3, 64, 64) and np.isfinite(chip).all()
    with pytest.raises(JepaError, match=r"rmnp-rgb\.tif: 3 bands, but data.bands is 2"):
        amplitude_chip(values, SARDataConfig(bands=2, unit="amplitude", size=64, patch=8, radii=(2,)), rgb)
    dem = read_chip(OUTSIDE / "rmnp-dem.tif")
    assert dem.shape == (1, 187, 152) and np.nanmax(dem) < 65535 and np.nanmin(dem) > 1000  # metres, nodata gone
    db_data = SARDataConfig(bands=1, unit="db", size=64, patch=8, radii=(2,))
    db_chip = amplitude_chip(dem / 100, db_data, OUTSIDE / "rmnp-dem.tif")
    assert db_chip.shape == (1, 64, 64) and np.isfinite(db_chip).all()
