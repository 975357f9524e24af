"""The compiled step (inductor's C++ backend on the CPU): no graph breaks, no recompilation as masks vary."""

from __future__ import annotations

import shutil

import pytest
import torch
from jepa_platform.pretrain.config import resolve_recipe
from jepa_platform.pretrain.module import JEPAModule
from torch._dynamo.utils import counters

TINY = {"embed_dim": 32, "num_heads": 2, "depth": 1, "predictor_dim": 16, "predictor_heads": 2, "predictor_depth": 1}


def tiny_module() -> JEPAModule:
    recipe = resolve_recipe("ecg", overrides={"objective": {"kind": "ema"}, "model": TINY})
    torch.manual_seed(0)
    return JEPAModule(recipe.to_dict())


def train_steps(module: JEPAModule, batch: dict, seeds: range) -> list[tuple[int, int]]:
    """Training steps (forward, backward, AdamW, EMA update) at the masks of ``seeds``; their mask sizes."""
    optimizer = torch.optim.AdamW(module.parameters(), lr=1e-3)
    sizes = []
    for seed in seeds:
        _, valid, masks = module.prepare_batch(batch, seed)
        loss = module.jepa_loss(batch, valid, masks, seed=seed).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        module.update_teacher()
        sizes.append((masks.context.shape[1], masks.targets.shape[2]))
    return sizes


def loss_and_gradients(module: JEPAModule, batch: dict) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    _, valid, masks = module.prepare_batch(batch, 0)
    loss = module.jepa_loss(batch, valid, masks).loss
    loss.backward()
    return loss.detach(), {name: param.grad for name, param in module.named_parameters() if param.grad is not None}


@pytest.mark.skipif(shutil.which("g++") is None, reason="inductor's CPU backend needs a C++ compiler")
def test_the_compiled_stacks_compute_eagers_step_and_compile_once_without_graph_breaks():
    batch = {"signal": torch.randn(2, 12, 1000), "lead_present": torch.ones(2, 12, dtype=torch.bool),
             "length": torch.full((2,), 1000)}
    eager, compiled = tiny_module(), tiny_module()
    compiled.compile_stacks()
    assert compiled.encoder.stack.compiled and compiled.teacher.stack.compiled and compiled.predictor.stack.compiled
    assert compiled.state_dict().keys() == eager.state_dict().keys()  # no "_orig_mod." in checkpoints
    torch._dynamo.reset()
    counters.clear()
    with torch._inductor.config.patch(compile_threads=1):  # no worker pool to start for a few small kernels
        loss, gradients = loss_and_gradients(compiled, batch)  # compiles the forward and backward graphs
        reference, reference_gradients = loss_and_gradients(eager, batch)
        torch.testing.assert_close(loss, reference, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(gradients, reference_gradients, rtol=1e-3, atol=1e-5)
        train_steps(compiled, batch, range(1, 3))  # the rest of the warm-up: optimizer and EMA update
        graphs, frames = counters["stats"]["unique_graphs"], dict(counters["frames"])
        sizes = train_steps(compiled, batch, range(3, 23))
    assert len(set(sizes)) > 1, "the masks' sizes vary from step to step"
    assert counters["stats"]["unique_graphs"] == graphs == 3  # encoder, teacher, predictor: compiled once each
    assert dict(counters["frames"]) == frames and not counters["graph_break"]  # nothing traced again, no break
