"""SAR gradient targets (gain invariance, step edge, shapes) and the core's domain-target hook."""

from __future__ import annotations

import math

import pytest
import torch
from jepa_domains.sar import plugin as sar_plugin
from jepa_domains.sar.targets import GradientTargets, gradient_maps
from jepa_platform.domain import TargetFunction
from jepa_platform.errors import JepaError
from jepa_platform.pretrain.config import resolve_recipe
from jepa_platform.pretrain.module import JEPAModule

TINY = {
    "model": {"preset": "vit_tiny", "embed_dim": 32, "depth": 1, "num_heads": 2,
              "predictor_dim": 16, "predictor_depth": 1, "predictor_heads": 2},
    "data": {"size": 32, "patch": 8, "radii": [1, 3], "target_cells": 2},
    "masking": {"min_context": 2},
}


def test_gradient_targets_ignore_a_global_gain() -> None:
    torch.manual_seed(0)
    amplitude = torch.rand(2, 1, 32, 32) + 0.05
    fn = GradientTargets(channels=1, patch=8, radii=(1, 3, 5), cells=2)
    torch.testing.assert_close(fn({"amplitude": amplitude * 37.5}), fn({"amplitude": amplitude}), rtol=1e-4, atol=1e-5)
    assert not torch.allclose(fn({"amplitude": amplitude}), fn({"amplitude": amplitude.flip(-1) ** 2}))


def test_gradient_on_a_step_edge() -> None:
    image = torch.ones(1, 1, 32, 32)
    image[..., 16:] = 4.0  # dark left half, bright right half
    maps = gradient_maps(image, (2, 4))[0, 0]  # R × H × W
    mean = image.mean()
    expected = abs(math.log((1.0 / float(mean) + 0.01) / (4.0 / float(mean) + 0.01)))
    for r, radius in enumerate((2, 4)):
        torch.testing.assert_close(maps[r, 8:24, 16], torch.full((16,), float(expected)))  # window straddles the edge
        assert maps[r, :, : 16 - radius - 1].abs().max() < 1e-5  # flat regions: no gradient
        assert maps[r, :, 16 + radius + 1 :].abs().max() < 1e-5


@pytest.mark.parametrize("radii, cells", [((1,), 1), ((1, 3), 2), ((2, 4, 6), 4)])
def test_target_shapes_per_scale(radii: tuple[int, ...], cells: int) -> None:
    amplitude = torch.rand(3, 2, 32, 32) + 0.1
    assert gradient_maps(amplitude, radii).shape == (3, 2, len(radii), 32, 32)
    fn = GradientTargets(channels=2, patch=8, radii=radii, cells=cells)
    out = fn({"amplitude": amplitude})
    assert fn.dim == 2 * len(radii) * cells * cells
    assert out.shape == (3, 16, fn.dim) and torch.isfinite(out).all()
    # token 5 is row 1, column 1 of the 4 × 4 grid: its cells are means of its own 8 × 8 pixels
    maps = gradient_maps(amplitude, radii)[:, :, :, 8:16, 8:16]
    manual = maps.reshape(3, 2, len(radii), cells, 8 // cells, cells, 8 // cells).mean(dim=(4, 6))
    torch.testing.assert_close(out[:, 5], manual.reshape(3, -1))


class PatchMean(TargetFunction):
    """A tiny target: each 8 × 8 patch's mean amplitude."""

    def __init__(self) -> None:
        super().__init__()
        self.dim = 1

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        pooled = torch.nn.functional.avg_pool2d(batch["amplitude"], 8)
        return pooled.flatten(2).transpose(1, 2)


def sar_batch(n: int = 4) -> dict[str, torch.Tensor]:
    amplitude = torch.rand(n, 1, 32, 32, generator=torch.Generator().manual_seed(1)) + 0.1
    return {"image": amplitude.log(), "amplitude": amplitude}


def build(target: str, kind: str = "ema") -> JEPAModule:
    recipe = resolve_recipe("sar", overrides={**TINY, "objective": {"target": target, "kind": kind}})
    return JEPAModule(recipe.to_dict())


@pytest.mark.parametrize(
    "target, kind, teacher", [("domain", "ema", False), ("both", "ema", True), ("domain", "sigreg", False)]
)
def test_domain_target_hook(monkeypatch: pytest.MonkeyPatch, target: str, kind: str, teacher: bool) -> None:
    monkeypatch.setattr(sar_plugin, "target_function", lambda data: PatchMean())
    module = build(target, kind)
    assert (module.teacher is not None) == teacher
    assert module.predictor.proj_domain.out_features == 1
    assert (module.predictor.proj_out is None) == (target == "domain")
    batch, valid, masks = module.prepare_batch(sar_batch(), seed=3)
    expected = torch.nn.functional.avg_pool2d(batch["amplitude"], 8).flatten(1)  # B × 16
    picked = module.domain_targets.targets(batch, masks)  # K × B × Nt × 1
    for k in range(masks.num_targets):
        torch.testing.assert_close(picked[k, ..., 0], torch.gather(expected, 1, masks.targets[:, k]))
    result = module.jepa_loss(batch, valid, masks)
    result.loss.backward()
    assert torch.isfinite(result.loss) and result.domain is not None
    assert module.predictor.proj_domain.weight.grad.abs().sum() > 0


def test_domain_only_loss_is_the_domain_regression() -> None:
    module = build("domain")
    batch, valid, masks = module.prepare_batch(sar_batch(), seed=5)
    with torch.no_grad():
        module.predictor.proj_domain.weight.zero_()
        module.predictor.proj_domain.bias.zero_()
    result = module.jepa_loss(batch, valid, masks)
    targets = module.domain_targets.targets(batch, masks)
    torch.testing.assert_close(result.loss, (targets**2).mean())


def test_a_domain_without_target_function_is_a_clear_error() -> None:
    recipe = resolve_recipe("ecg", overrides={"objective": {"target": "domain"}, "model": TINY["model"]})
    with pytest.raises(JepaError, match="domain 'ecg' has no target function"):
        JEPAModule(recipe.to_dict())
