"""Embedding table rows with a pretrained tabular encoder, in one call."""

from __future__ import annotations

import jepa_platform
import pytest
from jepa_platform.domain import JepaError

from tests.domains.tabular.test_tabular import make_table
from tests.embedding import check_embeds_like_training, tiny_run


def test_load_encoder_of_a_run_embeds_the_rows_of_a_file(tmp_path):
    table = make_table(rows=60)
    table.to_csv(tmp_path / "table.csv", index=False)
    run = tiny_run("tabular", tmp_path / "table.csv", tmp_path / "run", **{"data.target": "y"})
    embedded = check_embeds_like_training(run, tmp_path / "table.csv")
    assert len(embedded) == 60
    table.drop(columns=["y"]).head(3).to_csv(tmp_path / "new.csv", index=False)  # new rows, no target column
    encoder = jepa_platform.load_encoder(run)
    assert torch_close(encoder.embed(tmp_path / "new.csv"), embedded[:3])
    table.drop(columns=["age", "y"]).to_csv(tmp_path / "short.csv", index=False)
    with pytest.raises(JepaError, match="column 'age'"):
        encoder.embed(tmp_path / "short.csv")


def torch_close(a, b) -> bool:
    import torch

    return torch.allclose(a, b, atol=1e-5)
