"""Embedding a GeoTIFF chip with a pretrained SAR encoder, in one call."""

from __future__ import annotations

from tests.embedding import check_embeds_like_training, tiny_run
from tests.real_files import write_mstar


def test_load_encoder_of_a_run_embeds_a_geotiff_chip(tmp_path):
    root = write_mstar(tmp_path / "mstar", train_per_class=3, test_per_class=1)
    run = tiny_run("sar", root, tmp_path / "run")
    chip = sorted((root / "17_DEG" / "tank").glob("*.tif"))[0]
    embedded = check_embeds_like_training(run, chip)
    assert len(embedded) == 1
