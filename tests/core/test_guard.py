"""The non-finite loss guard: checked on the device each step, read on the host at logging steps and checkpoints."""

from __future__ import annotations

from types import SimpleNamespace

import torch
from jepa_platform.pretrain.callbacks import LastCheckpoint
from jepa_platform.pretrain.guard import StopGuard, stopped_error


def fake_trainer(log_every: int = 5) -> SimpleNamespace:
    saved = []
    return SimpleNamespace(
        global_step=0, current_epoch=0, world_size=1, log_every_n_steps=log_every, should_stop=False,
        is_global_zero=False, saved=saved, save_checkpoint=lambda path, weights_only: saved.append(path),
    )


def run(guard: StopGuard, trainer: SimpleNamespace, losses: list[float]) -> list[bool]:
    trained = []
    for batch, value in enumerate(losses):
        trained.append(guard.check_loss(trainer, torch.tensor(value), batch))
        trainer.global_step += trained[-1]
    return trained


def test_a_non_finite_loss_is_read_at_the_next_logging_step_and_named_by_its_own_step(tmp_path):
    checkpoint = LastCheckpoint(tmp_path / "last.ckpt", every_n_steps=100)
    guard, trainer = StopGuard(checkpoint), fake_trainer(log_every=5)
    trained = run(guard, trainer, [1.0, 2.0, float("nan"), float("inf"), 3.0])
    assert trained == [True, True, True, True, False]  # trained on until the logging step reads the record
    assert trainer.should_stop and checkpoint.hold
    assert (guard.nonfinite.step, guard.nonfinite.batch) == (2, 2) and guard.nonfinite.value != guard.nonfinite.value
    assert "the loss became nan at step 2 (epoch 0, batch 2)" in str(stopped_error(guard, "last.ckpt"))


def test_finite_losses_pass_every_check_and_a_checkpoint_reads_the_record_before_writing(tmp_path):
    checkpoint = LastCheckpoint(tmp_path / "last.ckpt", every_n_steps=2)
    guard, trainer = StopGuard(checkpoint), fake_trainer(log_every=3)
    assert all(run(guard, trainer, [1.0, 0.5, 0.25, 0.125]))
    checkpoint.save(trainer)
    assert trainer.saved == [checkpoint.path] and guard.nonfinite is None
    assert run(guard, trainer, [float("nan")]) == [True]  # not a logging step: not read yet
    trainer.global_step += 1
    checkpoint.save(trainer)  # reads the record first: nothing written after the non-finite step
    assert trainer.saved == [checkpoint.path] and guard.nonfinite.step == 4 and trainer.should_stop


def test_with_skips_each_non_finite_loss_is_skipped_at_once_then_the_run_stops(tmp_path):
    checkpoint = LastCheckpoint(tmp_path / "last.ckpt", every_n_steps=100)
    guard, trainer = StopGuard(checkpoint, nonfinite_skips=1), fake_trainer(log_every=100)
    assert run(guard, trainer, [1.0, float("nan"), 2.0, float("inf")]) == [True, False, True, False]
    assert guard.skipped == 1 and guard.nonfinite.step == 2 and guard.nonfinite.value == float("inf")
    assert "after skipping 1 steps" in str(stopped_error(guard, "last.ckpt"))
