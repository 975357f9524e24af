"""The JEPA core on a small ECG model: shapes, padding, EMA teacher, gradients, learning, FLOPs."""

from __future__ import annotations

import pytest
import torch
from jepa_platform.domain import AuxiliaryLoss
from jepa_platform.domain.registry import load_domain
from jepa_platform.domain.tokens import TokenGrid
from jepa_platform.errors import JepaError
from jepa_platform.model import pooled, pooled_width
from jepa_platform.model.posembed import PositionEmbedding, sincos_1d, sincos_grid
from jepa_platform.pretrain.config import resolve_recipe
from jepa_platform.pretrain.module import JEPAModule
from jepa_platform.schedules import cosine, warmup_cosine


def small_module(**model) -> JEPAModule:
    recipe = resolve_recipe("ecg", overrides={"objective": {"kind": "ema"}, "model": {"depth": 2, "predictor_depth": 1, **model}})
    torch.manual_seed(0)
    return JEPAModule(recipe.to_dict())


def ecg_batch(batch: int = 4, length: int | None = None) -> dict[str, torch.Tensor]:
    torch.manual_seed(1)
    t = torch.arange(1000) / 100
    signal = torch.sin(2 * torch.pi * 1.2 * t)[None, None, :] * torch.randn(batch, 12, 1)
    signal = signal + 0.1 * torch.randn(batch, 12, 1000)
    lengths = torch.full((batch,), 1000) if length is None else torch.tensor([1000] * (batch - 1) + [length])
    return {"signal": signal, "lead_present": torch.ones(batch, 12, dtype=torch.bool), "length": lengths}


def test_a_grid_with_no_token_along_an_axis_is_a_settings_error_naming_the_axis():
    with pytest.raises(JepaError, match=r"the token grid \(0, 8\) has no token along axis 'time': the data settings"):
        TokenGrid((0, 8), axis_names=("time", "mel"))
    with pytest.raises(ValueError, match="1 to 3 axes"):
        TokenGrid((2, 2, 2, 2))


def test_sincos_embeddings_follow_the_grid():
    one = sincos_1d(torch.arange(5), 8)
    assert torch.allclose(one[:, 0], torch.sin(torch.arange(5.0)))  # lowest frequency is 1
    assert torch.allclose(one[:, 4], torch.cos(torch.arange(5.0)))
    grid = sincos_grid((3, 4), 16)
    assert grid.shape == (12, 16)
    assert len({tuple(row.tolist()) for row in grid}) == 12, "every position is distinct"
    assert torch.equal(grid[4, :8], grid[5, :8]), "same row -> same first-axis half"
    odd = sincos_grid((2, 2, 2), 20)  # 20 channels over 3 axes: 3 x 6 used, 2 zero
    assert odd.shape == (8, 20) and torch.all(odd[:, 18:] == 0)
    learned = PositionEmbedding(TokenGrid((7,), ordered=False), 8)
    assert learned.table.requires_grad and learned().shape == (7, 8)


def test_shapes_of_student_predictor_and_teacher():
    module = small_module()
    batch = ecg_batch()
    embedded = module.encoder.embed_tokens(batch)
    n = module.encoder.grid.num_tokens
    assert embedded.tokens.shape == (4, n, 192)
    _, valid, masks = module.prepare_batch(batch, seed=0)
    assert valid is None, "full-length windows need no validity mask"
    context = module.encoder.encode(embedded.tokens, keep=masks.context)
    assert context.shape == (4, masks.context.shape[1], 192)
    prediction, domain = module.predictor(context, masks)
    assert prediction.shape == (masks.num_targets, 4, masks.targets.shape[2], 192)
    assert domain is None  # latent targets only: no domain head
    assert module.teacher(batch).shape == (4, n, 192)


def test_padded_batches_mask_padding_in_masks_and_attention():
    module = small_module().eval()
    batch = ecg_batch(length=600)
    _, valid, masks = module.prepare_batch(batch, seed=0)
    valid_tokens = 600 // module.encoder.tokenizer.patch
    assert valid is not None and int(valid[-1].sum()) == valid_tokens
    assert int(masks.targets[-1].max()) < valid_tokens and int(masks.context[-1].max()) < valid_tokens
    first = module.teacher(batch)
    batch["signal"][-1, :, 600:] = 100.0  # change only the padded part of the last sample
    second = module.teacher(batch)
    assert torch.allclose(first[-1, :valid_tokens], second[-1, :valid_tokens], atol=1e-5)
    assert not torch.allclose(first[-1, valid_tokens:], second[-1, valid_tokens:])


def test_teacher_gets_no_gradients_and_follows_the_ema_formula():
    module = small_module()
    loss = module.jepa_loss(*module.prepare_batch(ecg_batch(), seed=0)).loss
    loss.backward()
    assert all(p.grad is None for p in module.teacher.parameters())
    assert all(not p.requires_grad for p in module.teacher.parameters())
    assert module.encoder.stack.blocks[0].attn.qkv.weight.grad is not None
    with torch.no_grad():
        for p in module.encoder.parameters():
            p.add_(1.0)
    before_teacher = [p.clone() for p in module.teacher.parameters()]
    student = [p.clone() for p in module.encoder.parameters()]
    momentum = module.ema_momentum()
    assert momentum == pytest.approx(module.recipe.objective.ema_momentum[0])
    module.update_teacher()
    for old, new, s in zip(before_teacher, module.teacher.parameters(), student):
        assert torch.allclose(new, momentum * old + (1 - momentum) * s, atol=1e-6)


def test_activation_checkpointing_gives_the_same_loss_and_gradients():
    """Recomputing the blocks in the backward pass (drop path drawn again from the saved RNG state) changes nothing."""
    batch = ecg_batch(length=600)  # a padded sample: the attention mask is recomputed too
    results, saved = [], []
    for checkpointing in (False, True):
        module = small_module(drop_path=0.2, activation_checkpointing=checkpointing)
        torch.manual_seed(3)
        count = [0]  # tensors the forward pass keeps for the backward pass

        def pack(tensor: torch.Tensor) -> torch.Tensor:
            count[0] += 1
            return tensor

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
            loss = module.jepa_loss(*module.prepare_batch(batch, seed=0)).loss
        saved.append(count[0])
        loss.backward()
        grads = {name: p.grad for name, p in module.named_parameters() if p.requires_grad}
        assert all(grad is not None for grad in grads.values())
        results.append((loss.detach(), grads))
    (loss, grads), (checkpointed_loss, checkpointed_grads) = results
    assert saved[1] < saved[0] / 2, f"checkpointing kept {saved[1]} tensors for the backward pass, without {saved[0]}"
    assert torch.equal(loss, checkpointed_loss)
    for name, grad in grads.items():
        assert torch.allclose(grad, checkpointed_grads[name], rtol=1e-5, atol=1e-7), name


def test_masks_are_drawn_on_the_cpu_from_the_seed():
    module = small_module()
    batch = ecg_batch()
    first, second, other = (module.prepare_batch(batch, seed)[2] for seed in (5, 5, 6))
    assert first.context.device.type == "cpu"
    assert torch.equal(first.targets, second.targets) and not torch.equal(first.targets, other.targets)


def test_a_few_steps_lower_the_loss_on_a_fixed_batch():
    module = small_module()
    batch = ecg_batch(8)
    optimizer = torch.optim.AdamW([p for p in module.parameters() if p.requires_grad], lr=1e-3)
    losses = []
    inputs = module.prepare_batch(batch, seed=0)
    for _ in range(15):
        loss = module.jepa_loss(*inputs).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]


def test_flops_grow_with_depth():
    shallow, deep = small_module().flops_per_sample(), small_module(depth=4).flops_per_sample()
    assert 0 < shallow < deep


def test_schedules_reach_their_endpoints():
    assert warmup_cosine(0, 100, 10, 0.1, 1.0, 0.0) == pytest.approx(0.1)
    assert warmup_cosine(10, 100, 10, 0.1, 1.0, 0.0) == pytest.approx(1.0)
    assert warmup_cosine(55, 100, 10, 0.1, 1.0, 0.0) == pytest.approx(0.5)
    assert warmup_cosine(100, 100, 10, 0.1, 1.0, 0.0) == pytest.approx(0.0)
    assert cosine(0.04, 0.4, 0.0) == pytest.approx(0.04) and cosine(0.04, 0.4, 1.0) == pytest.approx(0.4)


def test_weight_decay_spares_biases_norms_positions_and_mask_token():
    module = small_module()
    groups = module.configure_optimizers()["optimizer"].param_groups
    decayed = {id(p) for g in groups if g["decays"] for p in g["params"]}
    names = {name for name, p in module.named_parameters() if id(p) in decayed}
    assert names and all(not name.endswith(".bias") and "norm" not in name for name in names)
    assert "predictor.mask_token" not in names
    assert "encoder.stack.blocks.0.attn.qkv.weight" in names


def test_sigreg_objective_has_no_teacher_and_trains_the_encoder_on_both_views():
    recipe = resolve_recipe("ecg", overrides={"objective": {"kind": "sigreg"}, "model": {"depth": 2, "predictor_depth": 1}})
    module = JEPAModule(recipe.to_dict())
    assert module.teacher is None and module.target_encoder is module.encoder
    result = module.jepa_loss(*module.prepare_batch(ecg_batch(), seed=0), seed=0)
    weight = recipe.objective.sigreg.weight
    assert float(result.loss) == pytest.approx(float((1 - weight) * result.prediction + weight * result.regularizer), rel=1e-5)
    result.loss.backward()
    assert module.encoder.stack.blocks[0].attn.qkv.weight.grad is not None
    ema = small_module()
    assert module.flops_per_sample() > ema.flops_per_sample(), "the full-input pass also trains without a teacher"


class SignalMeanLoss(AuxiliaryLoss):
    """A supervised term of the kind a domain adds: regress each sample's signal mean from the context."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.head = torch.nn.Linear(dim, 1)

    def forward(self, context: torch.Tensor, context_index: torch.Tensor, batch: dict) -> torch.Tensor:
        assert context.shape[:2] == context_index.shape
        target = batch["signal"].mean(dim=(1, 2))
        return 0.5 * (self.head(context.mean(dim=1))[:, 0] - target).square().mean()


def test_a_domain_auxiliary_loss_is_added_trained_and_saved(monkeypatch):
    plugin = load_domain("ecg")
    assert small_module().auxiliary is None  # the hook's default: no auxiliary loss
    monkeypatch.setattr(plugin, "auxiliary_loss", lambda data, dim: SignalMeanLoss(dim))
    module = small_module()
    batch, valid, masks = module.prepare_batch(ecg_batch(), seed=3)
    result = module.jepa_loss(batch, valid, masks)
    assert result.auxiliary is not None and float(result.auxiliary) > 0
    torch.testing.assert_close(result.loss.detach(), result.prediction + result.auxiliary)
    result.loss.backward()
    assert module.auxiliary.head.weight.grad.abs().sum() > 0
    assert any(key.startswith("auxiliary.head.") for key in module.state_dict())
    assert not any("auxiliary" in key for key in module.encoder.state_dict())  # the encoder exports without it


def test_a_retargeted_schedule_continues_without_a_jump():
    from jepa_platform.schedules import TrainingSchedule

    schedule = TrainingSchedule(total=40, warmup=4, start=0.1, peak=1.0, final=0.01)
    at_20 = schedule.lr_factor(20), schedule.progress(20)
    schedule.retarget(20, 60)  # resumed at step 20 with max_steps 60
    assert (schedule.lr_factor(20), schedule.progress(20)) == pytest.approx(at_20)
    assert schedule.lr_factor(60) == pytest.approx(0.01) and schedule.progress(60) == pytest.approx(1.0)
    factors = [schedule.lr_factor(step) for step in range(20, 61)]
    assert all(b <= a for a, b in zip(factors, factors[1:]))  # a cosine tail down from where it was

    finished = TrainingSchedule(total=40, warmup=4, start=0.1, peak=1.0, final=0.01)
    finished.retarget(40, 60)  # a finished run extended trains on at its final values
    assert [finished.lr_factor(step) for step in (40, 50, 60)] == pytest.approx([0.01] * 3)
    assert finished.progress(50) == pytest.approx(1.0)
    restored = TrainingSchedule(total=60, warmup=6, start=0.1, peak=1.0, final=0.01)
    restored.load_state_dict(schedule.state_dict())
    assert restored.lr_factor(33) == schedule.lr_factor(33)


@pytest.mark.parametrize("pooling", ["mean", "mean_std", "max"])
def test_pooling_reads_only_valid_tokens(pooling):
    torch.manual_seed(0)
    tokens = torch.randn(3, 5, 4)
    valid = torch.tensor([[True] * 5, [True, True, False, False, False], [False] * 5])
    rows = pooled(tokens, valid, pooling)
    assert rows.shape == (3, pooled_width(4, pooling))
    for sample, count in ((0, 5), (1, 2)):
        kept = tokens[sample, :count]
        expected = {
            "mean": kept.mean(0),
            "mean_std": torch.cat([kept.mean(0), kept.std(0, unbiased=False)]),
            "max": kept.amax(0),
        }[pooling]
        assert torch.allclose(rows[sample], expected, atol=1e-6)
    assert torch.equal(rows[2], torch.zeros_like(rows[2]))  # no valid token: zeros, not -inf or NaN
    assert torch.allclose(pooled(tokens[:1], None, pooling), rows[:1], atol=1e-6)


def test_mean_std_pooling_has_finite_gradients_with_a_single_valid_token():
    tokens = torch.randn(1, 3, 4, requires_grad=True)
    pooled(tokens, torch.tensor([[True, False, False]]), "mean_std").sum().backward()
    assert torch.isfinite(tokens.grad).all()


def test_the_encoder_carries_the_recipes_pooling():
    module = small_module(pooling="max")
    assert module.encoder.pooling == module.target_encoder.pooling == "max"
