"""Masks are seeded by (run seed, step, rank): every process of a distributed run draws its own, reproducibly."""

from __future__ import annotations

import torch
from jepa_platform.masking import mask_seed
from jepa_platform.pretrain.config import resolve_recipe
from jepa_platform.pretrain.module import JEPAModule


def test_ranks_draw_different_masks_and_each_draws_the_same_again():
    recipe = resolve_recipe("ecg", overrides={"model": {"preset": "vit_tiny", "depth": 1, "predictor_depth": 1}})
    module = JEPAModule(recipe.to_dict())
    samples = module.encoder.grid.num_tokens * 0 + 2500
    batch = {"signal": torch.zeros(4, 12, samples), "lead_present": torch.ones(4, 12, dtype=torch.bool),
             "length": torch.full((4,), samples)}

    def draw(step: int, rank: int) -> torch.Tensor:
        return module.prepare_batch(batch, mask_seed(recipe.seed, step, rank, 2))[2].targets

    for step in (0, 7, 1000):
        assert not torch.equal(draw(step, 0), draw(step, 1)), step
        assert torch.equal(draw(step, 1), draw(step, 1))
    assert mask_seed(recipe.seed, 5) == recipe.seed * 1_000_003 + 5  # one process draws what it always drew
    seeds = {mask_seed(3, step, rank, 8) % 2**32 for step in range(-50, 10_000) for rank in range(8)}
    assert len(seeds) == 10_050 * 8  # no two (step, rank) pairs share masks, within the 32 bits a seed keeps
