"""Random feature subsets (T-JEPA): for unordered token sets such as tabular features, or any grid."""

from __future__ import annotations

import torch

from ..domain.tokens import TokenGrid
from .base import Masks, MaskStrategy, all_valid, random_keys, register_strategy, uniforms, valid_counts


@register_strategy("feature_subsets")
class FeatureSubsetMasking(MaskStrategy):
    """Context and K target subsets from one random permutation of each sample's valid tokens.

    Sizes are rounded down (at least 1 token, ``min_context`` for the
    context). When the batch's fewest valid tokens leave too little room,
    targets shrink (to one token) before the context goes below
    ``min_context``. Targets never meet the context; with ``disjoint_targets``
    they never meet each other either.
    """

    def draw(self, grid: TokenGrid, batch_size: int, generator: torch.Generator, valid: torch.Tensor | None) -> Masks:
        cfg = self.config
        valid = all_valid(grid, batch_size, valid, generator.device)
        parts = cfg.num_targets if cfg.disjoint_targets else 1
        fewest = int(valid_counts(valid, self.name, parts, "masking.num_targets").min())
        context_share, target_share = uniforms([cfg.context_share, cfg.target_share], generator, cfg.size_buckets)
        floor = min(cfg.min_context, fewest - parts)
        target = max(1, min(int(target_share * fewest), (fewest - floor) // parts))
        context = min(max(floor, int(context_share * fewest)), fewest - parts * target)
        order = torch.argsort(random_keys(valid, generator), dim=1)
        context_indices = order[:, :context].sort(dim=1).values
        if cfg.disjoint_targets:
            targets = order[:, context : context + parts * target].reshape(batch_size, parts, target)
        else:
            rest = valid.clone().scatter_(1, context_indices, False)
            keys = random_keys(rest.unsqueeze(1).expand(-1, cfg.num_targets, -1), generator)
            targets = torch.argsort(keys, dim=2)[..., :target]
        return Masks(context=context_indices, targets=targets.sort(dim=2).values)
