"""The hardware line: the expected seconds of a CPU step from the recipe's FLOPs and a given machine speed."""

from __future__ import annotations

import re

import pytest
from jepa_platform.pretrain.config import resolve_recipe
from jepa_platform.pretrain.speed import EFFICIENCY, SLOW_STEP_SECONDS, recipe_step_flops, slow_step_line, step_seconds

SPEED = 100e9  # matrix-product FLOP/s of a made-up laptop


def on_data(domain: str, **data) -> object:
    return resolve_recipe(domain, overrides={"data": {"path": "/data/somewhere", **data}})


def test_a_large_model_on_the_cpu_gets_one_line_with_its_step_time_and_a_smaller_setup():
    recipe = on_data("ecg")  # ViT-S, depth 8, 500 Hz: sized for a GPU
    expected = recipe_step_flops(recipe) * 64 / (SPEED * EFFICIENCY)
    line = slow_step_line(recipe, 64, SPEED)
    assert line is not None and "\n" not in line
    assert line.startswith(f"ecg: no GPU found; a pretraining step of 64 samples takes about {expected:.1f} s")
    assert "(vit_small, width 384, depth 8; 1000 steps: about" in line
    quick = ("--model.preset vit_tiny --model.depth 4 --model.predictor_depth 2 "
             "--data.sampling_rate 100 --data.patch_ms 100.0")
    assert f"for a quick try: {quick} (about " in line
    faster = float(re.search(r"\(about ([0-9.]+) s a step\)$", line).group(1))
    assert faster < expected / 5  # what it suggests is much faster


@pytest.mark.parametrize("domain, data", [("eeg", {}), ("sar", {"bands": 2, "unit": "db"})])
def test_every_domain_gets_a_suggestion_that_validates(domain, data):
    line = slow_step_line(on_data(domain, **data), 64, SPEED)
    assert line is not None and "--model.preset vit_tiny" in line and line.endswith("s a step)")


def test_fast_steps_and_the_demo_get_no_line():
    recipe = on_data("ecg")
    fast = step_seconds(recipe, 64, SPEED) / SLOW_STEP_SECONDS * SPEED * 1.01  # just under the threshold
    assert slow_step_line(recipe, 64, fast) is None
    assert slow_step_line(recipe, 64, fast / 1.02) is not None
    assert slow_step_line(resolve_recipe("ecg"), 32, speed=1.0) is None  # the demo, even on the slowest machine


def test_the_estimate_follows_flops_batch_and_speed():
    small, large = on_data("ecg", sampling_rate=100, patch_ms=100.0), on_data("ecg")
    assert step_seconds(large, 64, SPEED) == pytest.approx(2 * step_seconds(large, 32, SPEED))
    assert step_seconds(large, 64, SPEED) == pytest.approx(2 * step_seconds(large, 64, 2 * SPEED))
    assert recipe_step_flops(large) > 1.5 * recipe_step_flops(small)  # 200 tokens, not 100


def test_a_model_smaller_than_the_demo_is_told_a_smaller_batch():
    tiny = {"preset": "vit_tiny", "embed_dim": 32, "depth": 1, "num_heads": 2}
    recipe = resolve_recipe("ecg", overrides={"data": {"path": "/data/somewhere"}, "model": tiny})
    speed = step_seconds(recipe, 64, 1.0) / 4  # a step of 64 takes 4 s: a batch of 16 takes one
    line = slow_step_line(recipe, 64, speed)
    assert "takes about 4.0 s" in line
    assert line.endswith("for a quick try: --trainer.batch_size 16 (about 1.0 s a step)")
