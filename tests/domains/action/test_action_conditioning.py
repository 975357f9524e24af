"""The action-conditioned predictor: each target's query sees the actions between the context and that step."""

from __future__ import annotations

import torch
from jepa_domains.action import plugin
from jepa_domains.action.conditioning import ActionConditioning
from jepa_platform.masking import Masks
from jepa_platform.pretrain.config import resolve_recipe
from jepa_platform.pretrain.module import JEPAModule

from .files import write_robosuite


def test_a_target_query_depends_on_the_actions_from_the_context_to_it_and_no_others():
    torch.manual_seed(0)
    window, chunk = 16, 4
    conditioning = ActionConditioning(window, action_dim=2, width=8)
    steps = window + chunk - 1
    batch = {"actions": torch.randn(1, steps, 2), "action_valid": torch.ones(1, steps, dtype=torch.bool)}
    masks = Masks(torch.arange(3, 8)[None], torch.tensor([[[8, 9, 10, 11], [12, 13, 14, 15]]]))  # context ends at 7
    before = conditioning(batch, masks.context, masks.targets)
    assert before.shape == (2, 1, 4, 8)
    changed = {key: value.clone() for key, value in batch.items()}
    changed["actions"][0, 9] += 1.0  # a_9 comes before targets 10.. only
    moved = (conditioning(changed, masks.context, masks.targets) - before).abs().sum(dim=-1)[:, 0]  # K × Nt
    assert moved[0, :2].eq(0).all() and moved[0, 2:].gt(0).all() and moved[1].gt(0).all()
    unchanged = {key: value.clone() for key, value in batch.items()}
    unchanged["actions"][0, 6] += 1.0  # before the context's latest step
    unchanged["actions"][0, 16:] += 1.0  # past every target
    torch.testing.assert_close(conditioning(unchanged, masks.context, masks.targets), before)
    padded = {**batch, "action_valid": batch["action_valid"].clone()}
    padded["action_valid"][0, 9:] = False  # the episode ends at step 8: targets from 9 on see a_7, a_8 alone
    queries = conditioning(padded, masks.context, masks.targets)
    torch.testing.assert_close(queries[0, :, 2:], queries[0, :, 1:2].expand(-1, 2, -1))
    torch.testing.assert_close(queries[1], queries[0, :, 1:2].expand(-1, 4, -1))


def test_pretraining_with_an_action_conditioned_predictor_trains_the_conditioning(tmp_path):
    path = write_robosuite(tmp_path / "demo.hdf5", demos=8, steps=30)
    overrides = {
        "data": {"path": str(path), "window": 16, "chunk": 4, "stride": 8, "action_conditioned": True},
        "model": {"embed_dim": 32, "num_heads": 2, "depth": 1, "predictor_dim": 32, "predictor_heads": 2,
                  "predictor_depth": 1},
    }
    recipe = resolve_recipe("action", None, overrides)
    module = JEPAModule(recipe.to_dict())
    assert isinstance(module.conditioning, ActionConditioning)
    assert any(key.startswith("conditioning.") for key in module.state_dict())
    splits = plugin.build_datasets(path, recipe.data)
    batch = torch.utils.data.default_collate([splits.train[i] for i in range(4)])
    batch, valid, masks = module.prepare_batch(batch, seed=0)
    loss = module.jepa_loss(batch, valid, masks).loss
    loss.backward()
    assert torch.isfinite(loss) and module.conditioning.proj.weight.grad.abs().sum() > 0
    off = resolve_recipe("action", None, {**overrides, "data": {**overrides["data"], "action_conditioned": False}})
    assert JEPAModule(off.to_dict()).conditioning is None  # the default: the predictor sees positions alone
