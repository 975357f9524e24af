"""Embedding a WFDB record with a pretrained ECG encoder, in one call."""

from __future__ import annotations

import jepa_platform
import pytest
from jepa_platform.domain import JepaError

from tests.embedding import check_embeds_like_training, tiny_run
from tests.real_files import write_ptbxl


def test_load_encoder_of_a_run_embeds_a_hea_record(tmp_path):
    root = write_ptbxl(tmp_path / "ptbxl", records=12, seconds=25.0)
    run = tiny_run("ecg", root, tmp_path / "run")
    record = sorted(root.rglob("*.hea"))[0]
    embedded = check_embeds_like_training(run, record)
    assert len(embedded) == 2  # a 25 s record: two 10 s windows
    assert jepa_platform.load_encoder(run).embed(record.with_suffix("")).shape == embedded.shape
    with pytest.raises(JepaError, match="not a WFDB header"):
        jepa_platform.load_encoder(run).embed(record.with_suffix(".dat"))
