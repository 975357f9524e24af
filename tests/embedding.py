"""A tiny pretraining run through the Python API, and the check that embedding a file sees what training saw."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jepa_platform
import torch
from jepa_platform.model import pooled_width

TINY_RUN: dict[str, Any] = {
    "model": {"preset": "vit_tiny", "embed_dim": 32, "num_heads": 2, "depth": 1,
              "predictor_dim": 16, "predictor_depth": 1, "predictor_heads": 2},
    "trainer": {"max_steps": 1, "batch_size": 4, "num_workers": 0},
    "monitor": {"probe": False, "random_init": False, "samples": 8, "token_samples": 2, "lidar_samples": 4},
}


def tiny_run(domain: str, data: Path, out: Path, **overrides: Any) -> Path:
    """A one-step pretraining run of a tiny model on ``data``; its folder."""
    return jepa_platform.pretrain(domain=domain, data=data, out=out, **TINY_RUN, **overrides).out


def check_embeds_like_training(run: Path, file: Path) -> torch.Tensor:
    """``load_encoder(run).embed(file)``, checked against the samples the training datasets read from ``file``."""
    encoder = jepa_platform.load_encoder(run)
    embedded = encoder.embed(file)
    width = encoder.stack.norm.normalized_shape[0]
    assert embedded.ndim == 2 and embedded.shape[1] == pooled_width(width, encoder.pooling)
    assert torch.isfinite(embedded).all()
    tokens = encoder.embed(file, pooled=False)
    assert tokens.shape == (len(embedded), encoder.grid.num_tokens, width)
    splits = encoder.plugin.build_datasets(file, encoder.data)
    sample = splits.train[0] if len(splits.train) else splits.val[0]
    one = encoder.embed(sample)  # one sample as the training dataset gives it
    assert one.shape == (embedded.shape[1],)
    assert any(torch.allclose(one, row, atol=1e-5) for row in embedded), "the file is read unlike training"
    return embedded
