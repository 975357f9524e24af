"""Embedding one HDF5 file of demonstrations with a pretrained action encoder, in one call."""

from __future__ import annotations

from pathlib import Path

import pytest
from jepa_platform.errors import JepaError

from tests.embedding import check_embeds_like_training, tiny_run

from .files import write_robomimic, write_robosuite

WINDOWS = {"data.window": 16, "data.stride": 8}


def test_load_encoder_of_a_run_embeds_every_window_of_an_episode_file(tmp_path: Path) -> None:
    data = write_robosuite(tmp_path / "demo.hdf5", demos=10, steps=40)
    run = tiny_run("action", data, tmp_path / "run", **WINDOWS)
    embedded = check_embeds_like_training(run, data)
    assert len(embedded) > 10  # several windows per episode, every episode of the file


def test_a_file_with_other_observation_keys_is_refused(tmp_path: Path) -> None:
    run = tiny_run("action", write_robosuite(tmp_path / "demo.hdf5", demos=10), tmp_path / "run", **WINDOWS)
    import jepa_platform

    with pytest.raises(JepaError, match="observation keys"):
        jepa_platform.load_encoder(run).embed(write_robomimic(tmp_path / "other.hdf5"))
