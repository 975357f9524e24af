"""The prediction loss every objective shares."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .config import ObjectiveConfig

LOSSES = {"l1": F.l1_loss, "smooth_l1": F.smooth_l1_loss, "mse": F.mse_loss}


def prediction_loss(
    config: ObjectiveConfig, latent: torch.Tensor | None, domain: torch.Tensor | None
) -> torch.Tensor:
    """The prediction loss: the latent loss, the domain loss, or ``latent + domain_weight * domain``."""
    if latent is None:
        assert domain is not None
        return domain
    return latent if domain is None else latent + config.domain_weight * domain
