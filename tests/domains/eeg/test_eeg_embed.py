"""Embedding an EDF recording with a pretrained EEG encoder, in one call."""

from __future__ import annotations

from tests.domains.eeg.test_eeg import write_edf
from tests.embedding import check_embeds_like_training, tiny_run


def test_load_encoder_of_a_run_embeds_an_edf_file(tmp_path):
    names = ["Fp1", "Fp2", "C3", "C4", "O1", "O2", "Cz", "Pz"]
    for k in range(3):
        write_edf(tmp_path / "data" / f"s{k}.edf", names, seconds=30.0, rate=200.0, seed=k)
    run = tiny_run("eeg", tmp_path / "data", tmp_path / "run")
    embedded = check_embeds_like_training(run, tmp_path / "data" / "s0.edf")
    assert len(embedded) >= 2  # several windows of a 30 s recording
