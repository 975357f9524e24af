"""The prediction loss weighs empty BEV target tokens by data.empty_target_weight (the core's target_weights hook)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from jepa_platform.masking import Masks
from jepa_platform.pretrain.config import resolve_recipe
from jepa_platform.pretrain.module import JEPAModule

from tests.domains.lidar.test_lidar_voxels import RANGE


def test_target_loss_is_the_weighted_mean_over_target_tokens() -> None:
    overrides = {
        "model": {"preset": "vit_tiny", "embed_dim": 16, "depth": 1, "num_heads": 2, "predictor_dim": 8,
                  "predictor_depth": 1, "predictor_heads": 2},
        "data": {"path": "unused", "point_range": list(RANGE), "voxel_size": [0.5, 0.5, 4.0], "token_cells": 4,
                 "max_voxels": 8, "encoder": "pillars", "channels": 4, "empty_target_weight": 0.25},
    }
    module = JEPAModule(resolve_recipe("lidar", overrides=overrides).to_dict())
    coords = torch.zeros(1, 8, 3, dtype=torch.int32)
    coords[0, 0] = torch.tensor([0, 0, 0])  # one voxel: token 0 occupied, the other 15 empty
    batch = {"voxels": torch.zeros(1, 8, 8), "coords": coords, "count": torch.tensor([1])}
    masks = Masks(context=torch.tensor([[5, 6]]), targets=torch.tensor([[[0, 1, 2]]]))
    prediction, target = torch.randn(1, 1, 3, 16), torch.randn(1, 1, 3, 16)
    per_token = F.smooth_l1_loss(prediction, target, reduction="none").mean(dim=-1)[0, 0]
    expected = (per_token[0] + 0.25 * (per_token[1] + per_token[2])) / 1.5
    torch.testing.assert_close(module.target_loss(prediction, target, batch, masks), expected)
