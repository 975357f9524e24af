"""SIGReg: O(1) for standard normal embeddings, O(N) for collapsed or anisotropic ones, smooth gradients."""

from __future__ import annotations

import math
import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from jepa_platform.objectives.sigreg import SIGRegConfig, epps_pulley, integration_grid, random_slices, sigreg


def normal(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def test_integration_weights_approximate_the_gaussian_integral():
    t, weights = integration_grid(17, 3.0)
    assert t[0] == 0 and t[-1] == 3.0
    # sum_t w(t) approximates the integral of exp(-t^2/2) over the real line, sqrt(2 pi)
    assert float(weights.sum()) == pytest.approx(math.sqrt(2 * math.pi), rel=0.01)


@pytest.mark.parametrize("scope", ["batch", "tokens", "both"])
def test_gaussian_embeddings_score_order_one(scope):
    # a standard normal sample mean per sample, standard normal token deviations around it
    embeddings = normal(256, 1, 32, seed=1) + normal(256, 64, 32, seed=2)
    assert float(sigreg(embeddings, SIGRegConfig(scope=scope), seed=0)) < 3.0


def test_every_token_scope_scores_standard_normal_tokens_order_one():
    tokens = normal(64, 50, 32, seed=3)
    assert float(sigreg(tokens, SIGRegConfig(scope="all"), seed=0)) < 3.0
    assert float(sigreg(tokens * 3.0, SIGRegConfig(scope="all"), seed=0)) > 100.0  # too wide


def test_collapsed_shifted_and_anisotropic_embeddings_score_high():
    config = SIGRegConfig(scope="batch")
    samples = 2048
    base = float(sigreg(normal(samples, 1, 32), config, seed=0))
    collapsed = float(sigreg(torch.full((samples, 1, 32), 0.3), config, seed=0))
    shifted = float(sigreg(normal(samples, 1, 32) + 2.0, config, seed=0))
    stretched = normal(samples, 1, 32)
    stretched[..., :8] *= 4.0
    anisotropic = float(sigreg(stretched, config, seed=0))
    assert base < 3.0
    assert collapsed > 100 * base and shifted > 100 * base and anisotropic > 10 * base
    # the statistic grows with N for a fixed departure from the Gaussian: O(N)
    half = float(sigreg(torch.full((samples // 2, 1, 32), 0.3), config, seed=0))
    assert collapsed == pytest.approx(2 * half, rel=1e-4)


def test_within_sample_term_catches_a_collapsed_token_axis():
    # every sample's tokens identical (the time axis collapsed), the samples themselves standard normal
    per_sample = normal(256, 1, 32).expand(256, 50, 32).contiguous()
    batch_only = float(sigreg(per_sample, SIGRegConfig(scope="batch"), seed=0))
    tokens = float(sigreg(per_sample, SIGRegConfig(scope="tokens"), seed=0))
    every_token = float(sigreg(per_sample, SIGRegConfig(scope="all"), seed=0))
    assert batch_only < 3.0 and tokens > 5 * 3.0  # N = 50 tokens: a point mass scores O(N)
    # 256 distinct points among 12,800 tokens: far from a continuous Gaussian
    assert every_token > 5 * 3.0


def test_every_token_scope_catches_a_collapsed_batch_axis():
    # every sample the same sequence of standard normal tokens: the batch axis collapsed
    per_token = normal(1, 50, 32).expand(256, 50, 32).contiguous()
    assert float(sigreg(per_token, SIGRegConfig(scope="all"), seed=0)) > 5 * 3.0


def test_gradients_are_finite_and_point_towards_the_gaussian():
    embeddings = (normal(16, 40, 24) * 0.2).requires_grad_()
    loss = sigreg(embeddings, SIGRegConfig(), seed=3)
    loss.backward()
    assert torch.isfinite(embeddings.grad).all() and embeddings.grad.abs().sum() > 0
    with torch.no_grad():
        moved = embeddings - 0.01 * embeddings.grad / embeddings.grad.norm() * embeddings.norm()
        assert float(sigreg(moved, SIGRegConfig(), seed=3)) < float(loss)


def test_padding_tokens_do_not_count():
    embeddings = normal(8, 60, 16)
    valid = torch.ones(8, 60, dtype=torch.bool)
    valid[:, 40:] = False
    padded = embeddings.clone()
    padded[:, 40:] = 5.0  # a point mass far out, would look non-Gaussian
    config = SIGRegConfig()
    assert float(sigreg(padded, config, seed=1, valid=valid)) == pytest.approx(
        float(sigreg(embeddings[:, :40], config, seed=1)), rel=1e-5
    )


def test_slices_are_unit_and_seeded():
    a, b = random_slices(16, 8, seed=5, device=torch.device("cpu")), random_slices(16, 8, 5, torch.device("cpu"))
    assert torch.equal(a, b) and torch.allclose(a.norm(dim=0), torch.ones(8))
    assert not torch.equal(a, random_slices(16, 8, 6, torch.device("cpu")))


def _two_rank_statistic(rank: int, port: int, full: torch.Tensor, results) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    t, weights = integration_grid(17, 3.0)
    local = full[:, rank * 64 : (rank + 1) * 64].clone().requires_grad_()
    value = epps_pulley(local, t, weights, across_ranks=True)
    value.sum().backward()
    results[rank] = (value.detach(), local.grad)
    dist.destroy_process_group()


def test_across_batch_statistic_sees_the_global_batch_under_ddp():
    full = normal(1, 128, 4) * 1.3
    t, weights = integration_grid(17, 3.0)
    expected = epps_pulley(full, t, weights)
    with mp.Manager() as manager:
        results = manager.dict()
        port = 29500 + os.getpid() % 1000
        mp.spawn(_two_rank_statistic, args=(port, full, results), nprocs=2, join=True)
        values = [results[0][0], results[1][0]]
    assert torch.allclose(values[0], expected, rtol=1e-5) and torch.allclose(values[1], expected, rtol=1e-5)
