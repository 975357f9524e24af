"""The ECG patch tokenizer: shapes, the validity of padded tokens, and the learned absent-lead embedding."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from jepa_domains.ecg import ECGDataConfig, ECGDomain
from jepa_domains.ecg.dataset import ECGWindows
from jepa_domains.ecg.preprocess import cut_windows, normalize_windows
from jepa_domains.ecg.tokenizer import ECGPatchTokenizer
from jepa_platform.domain.tokens import TokenBatch
from pydantic import ValidationError
from torch.utils.data import DataLoader

LEADS, WINDOW, PATCH, DIM = 12, 500, 50, 16


def make_batch(batch: int = 3, lengths=None, absent=(), seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    present = torch.ones(batch, LEADS, dtype=torch.bool)
    for sample, lead in absent:
        present[sample, lead] = False
    signal = torch.randn(batch, LEADS, WINDOW, generator=generator) * present[..., None]
    lengths = torch.full((batch,), WINDOW) if lengths is None else torch.tensor(lengths)
    return {"signal": signal, "lead_present": present, "length": lengths}


@pytest.fixture
def tokenizer() -> ECGPatchTokenizer:
    torch.manual_seed(0)
    return ECGPatchTokenizer(LEADS, WINDOW, PATCH, DIM)


def test_output_shape_and_grid(tokenizer):
    out = tokenizer(make_batch(batch=4))
    assert isinstance(out, TokenBatch)
    assert out.tokens.shape == (4, WINDOW // PATCH, DIM) and out.tokens.dtype == torch.float32
    assert tokenizer.grid.shape == (WINDOW // PATCH,) and tokenizer.grid.ordered
    assert tokenizer.grid.num_tokens == 10 and tokenizer.embed_dim == DIM
    assert out.valid.shape == (4, 10) and out.valid.dtype == torch.bool and out.valid.all()


def test_tokens_are_local_to_their_patch(tokenizer):
    batch = make_batch(batch=1)
    before = tokenizer(batch).tokens
    batch["signal"][0, :, 3 * PATCH : 4 * PATCH] += 1.0  # change only the fourth patch
    after = tokenizer(batch).tokens
    changed = (before - after).abs().amax(dim=2)[0] > 1e-6
    assert changed.tolist() == [k == 3 for k in range(10)]


def test_valid_marks_padded_tokens_from_length(tokenizer):
    out = tokenizer(make_batch(batch=4, lengths=[500, 250, 260, 1]))
    assert out.valid[0].all()
    assert out.valid[1].tolist() == [True] * 5 + [False] * 5  # 250 samples = 5 whole patches
    assert out.valid[2].tolist() == [True] * 6 + [False] * 4  # a partly filled patch counts as valid
    assert out.valid[3].tolist() == [True] + [False] * 9


def test_absent_lead_embedding_changes_tokens(tokenizer):
    batch = make_batch(batch=2, absent=[(0, 2), (0, 7), (1, 2)])
    everything = dict(batch, lead_present=torch.ones_like(batch["lead_present"]))
    # Zero at initialization: absent leads change nothing until training moves the embedding.
    torch.testing.assert_close(tokenizer(batch).tokens, tokenizer(everything).tokens)
    with torch.no_grad():
        tokenizer.absent_lead.copy_(torch.randn(LEADS, DIM, generator=torch.Generator().manual_seed(1)))
    absent, present = tokenizer(batch).tokens, tokenizer(everything).tokens
    shift = absent - present
    # Each token of a sample moves by the sum of that sample's absent-lead embeddings.
    torch.testing.assert_close(shift[0], (tokenizer.absent_lead[2] + tokenizer.absent_lead[7]).expand(10, DIM))
    torch.testing.assert_close(shift[1], tokenizer.absent_lead[2].expand(10, DIM))
    assert shift[0].abs().min() > 0 and not torch.allclose(shift[0], shift[1])


def test_absent_lead_embedding_is_learned(tokenizer):
    batch = make_batch(batch=2, absent=[(1, 5)])
    tokenizer(batch).tokens.sum().backward()
    grad = tokenizer.absent_lead.grad
    assert grad is not None and grad[5].abs().sum() > 0
    assert not grad[[k for k in range(LEADS) if k != 5]].any()


def test_window_must_be_whole_patches():
    with pytest.raises(ValueError, match="not a multiple"):
        ECGPatchTokenizer(LEADS, 510, PATCH, DIM)


def test_domain_builds_tokenizer_from_config():
    data = ECGDataConfig()  # 500 Hz, 10 s, 50 ms
    tokenizer = ECGDomain().build_tokenizer(data, 32)
    assert tokenizer.grid.shape == (200,) and tokenizer.proj.in_channels == 12 and tokenizer.proj.kernel_size == (25,)
    demo = ECGDataConfig(sampling_rate=100, patch_ms=100.0, leads=("I", "II", "V1"))
    assert ECGDomain().build_tokenizer(demo, 8).grid.shape == (100,)
    with pytest.raises(ValidationError, match="whole number of samples"):
        ECGDataConfig(sampling_rate=100, patch_ms=15.0)
    with pytest.raises(ValidationError, match="leads must be distinct"):
        ECGDataConfig(leads=("I", "I"))


def test_tokenizer_on_dataset_batches():
    rng = np.random.default_rng(0)
    windows, valid = [], []
    for length in (1200, 320):  # two whole windows and one padded window of 320 samples
        w, v = cut_windows(rng.normal(size=(LEADS, length)).astype(np.float32), WINDOW, 100)
        windows.append(normalize_windows(w, v, 5.0))
        valid.append(v)
    present = torch.ones(3, LEADS, dtype=torch.bool)
    present[2, 4] = False
    dataset = ECGWindows(
        torch.from_numpy(np.concatenate(windows)), present, torch.from_numpy(np.concatenate(valid)), None
    )
    batch = next(iter(DataLoader(dataset, batch_size=3)))
    torch.manual_seed(0)
    out = ECGPatchTokenizer(LEADS, WINDOW, PATCH, DIM)(batch)
    assert out.tokens.shape == (3, 10, DIM)
    assert out.valid.sum(dim=1).tolist() == [10, 10, 7]  # 320 samples reach into the 7th patch
