"""SAR data as users keep it: per-polarization Sentinel-1 patch folders, stacked GeoTIFFs, a single file or a
list as ``--data``; settings inferred from the data into the recipe; impossible or unreadable files refused."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import rasterio
import yaml
from jepa_domains.sar import SARDataConfig, plugin
from jepa_domains.sar.dataset import load_chips
from jepa_domains.sar.infer import infer_data
from jepa_domains.sar.patches import find_patches
from jepa_platform.cli import main
from jepa_platform.errors import JepaError
from jepa_platform.pretrain.config import resolve_recipe
from rasterio.transform import from_origin

from tests.helpers import run_cli

SIDE = 32
GEOMETRY = {"size": SIDE, "patch": 8, "radii": [1, 3]}
TINY = [
    "--model.preset", "vit_tiny", "--model.embed_dim", "32", "--model.depth", "1", "--model.num_heads", "2",
    "--model.predictor_dim", "16", "--model.predictor_depth", "1", "--model.predictor_heads", "2",
    "--data.size", str(SIDE), "--data.patch", "8", "--data.radii", "[1, 3]", "--masking.min_context", "2",
    "--trainer.batch_size", "4", "--trainer.num_workers", "0",
]


def write_tiff(path: Path, values: np.ndarray, descriptions: tuple[str, ...] = ()) -> Path:
    """A float32 GeoTIFF of ``bands × H × W`` values, with band descriptions when given."""
    bands, height, width = values.shape
    with rasterio.open(
        path, "w", driver="GTiff", height=height, width=width, count=bands, dtype="float32",
        crs="EPSG:32633", transform=from_origin(500000, 4600000, 10, 10),
    ) as dst:
        dst.write(values.astype(np.float32))
        for band, description in enumerate(descriptions, start=1):
            dst.set_band_description(band, description)
    return path


def s1_patches(root: Path, count: int = 6) -> dict[str, np.ndarray]:
    """BigEarthNet-S1-like folders: ``<patch>/<patch>_VV.tif`` and ``<patch>/<patch>_vh.tiff`` in dB (VH written
    first, its suffix in lower case). Returns ``{patch: 2 × H × W}`` of the written VV, VH values."""
    rng = np.random.default_rng(0)
    written = {}
    for k in range(count):
        name = f"S1A_IW_GRDH_1SDV_20170613T165043_33UUP_{k:02d}_39"
        (root / name).mkdir(parents=True)
        vh = rng.uniform(-30, -12, (1, SIDE, SIDE))
        vv = rng.uniform(-22, 3, (1, SIDE, SIDE))  # mostly negative, a few bright pixels above 0 dB
        write_tiff(root / name / f"{name}_vh.tiff", vh)
        write_tiff(root / name / f"{name}_VV.tif", vv)
        written[name] = np.concatenate([vv, vh]).astype(np.float32)
    return written


def test_polarization_files_pair_into_chips_in_recipe_order(tmp_path: Path) -> None:
    written = s1_patches(tmp_path / "s1")
    data, line = infer_data(SARDataConfig(path=str(tmp_path / "s1"), **GEOMETRY), [tmp_path / "s1"])
    assert (data.bands, data.unit, data.polarizations) == (2, "db", ("VV", "VH"))
    assert line.startswith(f"sar: inferred 2 bands (VV, VH) in dB from 6 patches in {tmp_path / 's1'}: ")
    assert "from file names" in line and "values mostly negative" in line
    chips = load_chips(tmp_path / "s1", data, classes=False)
    expected = np.stack([written[name] for name in sorted(written)])  # patches in folder order
    assert chips.amplitude.shape == (6, 2, SIDE, SIDE)
    np.testing.assert_allclose(chips.amplitude.numpy(), 10 ** (expected / 20), rtol=1e-5)  # dB -> amplitude, no abs
    swapped = load_chips(tmp_path / "s1", data.model_copy(update={"polarizations": ("VH", "VV")}), classes=False)
    np.testing.assert_allclose(swapped.amplitude.numpy(), 10 ** (expected[:, ::-1] / 20), rtol=1e-5)


def test_a_patch_missing_a_polarization_is_one_error_naming_its_folder(tmp_path: Path) -> None:
    s1_patches(tmp_path / "s1")
    folder = sorted((tmp_path / "s1").iterdir())[2]
    next(folder.glob("*_vh.tiff")).unlink()
    where = re.escape(str(folder))
    with pytest.raises(JepaError, match=rf"^{where}: patch '{folder.name}' has VV but lacks VH \(1 of 6 patches"):
        find_patches([tmp_path / "s1"], None)
    with pytest.raises(JepaError, match=rf"^{where}: patch .* lacks VH"):
        plugin.resolve_data(SARDataConfig(path=str(tmp_path / "s1"), **GEOMETRY), tmp_path)
    only_vv = find_patches([tmp_path / "s1"], ("VV",))  # asking for VV alone reads every patch
    assert len(only_vv) == 6


def test_stacked_db_geotiff_as_the_single_data_file_infers_two_bands_and_db(tmp_path: Path, capsys) -> None:
    rng = np.random.default_rng(1)
    stacked = write_tiff(tmp_path / "ROIs1158_spring_s1_1_p30.tif", rng.uniform(-28, 2, (2, SIDE, SIDE)))
    assert main(["pretrain", "--domain", "sar", "--data", str(stacked), "--print-config"]) == 0
    data = yaml.safe_load(capsys.readouterr().out)["data"]
    assert (data["path"], data["bands"], data["unit"], data["polarizations"]) == (str(stacked), 2, "db", None)


def test_band_descriptions_order_bands_and_name_the_unit(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    values = rng.uniform(-3, 12, (2, SIDE, SIDE))  # mostly positive: only the labels say dB
    path = write_tiff(tmp_path / "scene.tif", values, descriptions=("Sigma0_VH_db", "Sigma0_VV_db"))
    data, line = infer_data(SARDataConfig(path=str(path), **GEOMETRY), [path])
    assert (data.bands, data.unit, data.polarizations) == (2, "db", ("VV", "VH"))
    assert "polarizations from band labels" in line and "a band label says dB" in line
    chips = load_chips(path, data, classes=False)
    np.testing.assert_allclose(chips.amplitude[0].numpy(), 10 ** (values[::-1] / 20), rtol=1e-5)  # VV first
    undecided = write_tiff(tmp_path / "other.tif", values)  # the same values without labels: 20% negative
    with pytest.raises(JepaError, match=r"other\.tif: 2\d% of the values read are negative.*set data.unit"):
        infer_data(SARDataConfig(path=str(undecided), **GEOMETRY), [undecided])


def test_a_list_of_files_and_folders_is_one_data_set(tmp_path: Path, capsys) -> None:
    s1_patches(tmp_path / "s1", count=3)
    extra = tmp_path / "more"
    s1_patches(extra, count=2)
    folder = sorted(extra.iterdir())[0]
    assert main(["pretrain", "--domain", "sar", "--data", str(tmp_path / "s1"), str(folder), "--print-config"]) == 0
    data = yaml.safe_load(capsys.readouterr().out)["data"]
    assert data["path"] == [str(tmp_path / "s1"), str(folder)] and data["bands"] == 2
    recipe = resolve_recipe("sar", overrides={"data": {"path": data["path"], **GEOMETRY}})
    splits = plugin.build_datasets(plugin.data_root(recipe.data, tmp_path), recipe.data)
    assert len(splits.train) == 4 and splits.val is None  # 3 + 1 patches; 10% of 4 rounds to no validation


def test_amplitude_or_intensity_with_negative_values_is_refused(tmp_path: Path) -> None:
    path = write_tiff(tmp_path / "vv_db.tif", np.random.default_rng(3).uniform(-25, -5, (1, SIDE, SIDE)))
    for unit in ("amplitude", "intensity"):
        data = SARDataConfig(path=str(path), bands=1, unit=unit, **GEOMETRY)
        with pytest.raises(JepaError, match=rf"^{path}: 100% of the values are negative .* which {unit} cannot be"):
            load_chips(path, data, classes=False)
    noisy = np.full((1, SIDE, SIDE), 0.05)
    noisy[0, 0, :2] = -1e-4  # thermal-noise removal leaves a few pixels below zero: they read as 0
    data = SARDataConfig(bands=1, unit="intensity", **GEOMETRY)
    chips = load_chips(write_tiff(tmp_path / "intensity.tif", noisy), data, classes=False)
    assert float(chips.amplitude.min()) == 0.0 and np.isclose(float(chips.amplitude.max()), np.sqrt(0.05))


def test_s1_patch_folders_pretrain_through_the_cli_with_inferred_settings(tmp_path: Path) -> None:
    negative = np.mean(np.stack(list(s1_patches(tmp_path / "s1").values())) < 0)
    run = tmp_path / "run"
    result = run_cli("pretrain", "--domain", "sar", "--data", str(tmp_path / "s1"), "--max-steps", "2",
                     "--out", str(run), *TINY, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("sar: inferred")]
    assert lines == [
        f"sar: inferred 2 bands (VV, VH) in dB from 6 patches in {tmp_path / 's1'}: polarizations from file names; "
        f"values mostly negative ({negative:.0%} of the pixels read)"
    ]
    data = yaml.safe_load((run / "config.yaml").read_text())["data"]
    assert (data["bands"], data["unit"], data["polarizations"]) == (2, "db", ["VV", "VH"])


def test_refusals_through_the_cli_name_the_file_in_one_line(tmp_path: Path) -> None:
    corrupt = tmp_path / "patch_VV.tif"
    corrupt.write_bytes(b"II*\x00 not really a TIFF")
    negative = write_tiff(tmp_path / "db.tif", np.random.default_rng(4).uniform(-25, -5, (1, SIDE, SIDE)))
    for path, extra, reason in [
        (corrupt, [], "not a readable raster"),
        (negative, ["--data.unit", "amplitude"], "100% of the values are negative"),
    ]:
        result = run_cli("pretrain", "--domain", "sar", "--data", str(path), "--max-steps", "2", *extra, cwd=tmp_path)
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert result.returncode == 2 and len(errors) == 1, result.stderr[-2000:]
        assert errors[0].startswith(f"error: {path}: {reason}") and "no such folder" not in result.stderr
