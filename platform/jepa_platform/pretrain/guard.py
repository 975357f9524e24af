"""Stopping a run cleanly: on a signal (Ctrl-C, ``kill``, SLURM's pre-emption) and on a non-finite loss.

A signal sets a flag; at the next step boundary the run writes its checkpoint
and stops. A non-finite loss stops the run without writing another
checkpoint, so the last good one is kept. Checking a loss on the host waits
for the device, so by default each step's loss is only checked on the
device (no wait), and the host reads the result at the logging steps and
before each checkpoint is written: the run stops there, naming the first
non-finite step, and no checkpoint holds the weights trained after it. With
``trainer.nonfinite_loss_skips`` above 0, each step is checked before its
backward (a wait each step), and a non-finite loss skips its step (no
backward, no optimizer step) up to that many times before the run stops.
Either way :func:`stopped_error` turns what happened into the one line the
command line prints, and the run's MLflow status and tags record it.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from typing import Any

import lightning as L
import torch
from lightning.pytorch.loggers import MLFlowLogger

from ..errors import JepaError
from .callbacks import LastCheckpoint

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1)
"""Ctrl-C, ``kill`` and SLURM's usual pre-emption warning (``#SBATCH --signal=USR1@120``)."""


class RunStopped(JepaError):
    """A run stopped early; ``exit_code`` is what the command line exits with."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class NonFinite:
    """Where the first non-finite loss that stopped the run came from."""

    step: int
    epoch: int
    batch: int
    value: float


class StopGuard(L.Callback):
    """Checkpoint-and-stop on :data:`STOP_SIGNALS`, and the count of non-finite losses.

    Args:
        checkpoint: The run's checkpoint callback (written on a signal, held on a non-finite loss).
        nonfinite_skips: Steps with a non-finite loss to skip before the run stops.
    """

    def __init__(self, checkpoint: LastCheckpoint, nonfinite_skips: int = 0) -> None:
        self.checkpoint, self.nonfinite_skips = checkpoint, nonfinite_skips
        self.signal: int | None = None  # received, not yet acted on
        self.stopped_by: int | None = None
        self.stopped_step = 0
        self.nonfinite: NonFinite | None = None
        self.skipped = 0
        self._previous: dict[int, Any] = {}
        self._first: torch.Tensor | None = None  # on the device: [index into _since, value], index -1 if none
        self._since: list[tuple[int, int, int]] = []  # (step, epoch, batch) of each loss since the last check
        checkpoint.check = self.verify

    # --------------------------------------------------------------- signals
    def _receive(self, signum: int, frame: Any) -> None:
        if self.signal is not None:  # a second signal: stop now, the way it would without this run
            signal.signal(signum, self._previous.get(signum, signal.SIG_DFL))
            os.kill(os.getpid(), signum)
            return
        self.signal = signum

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Installed after Lightning's own handlers, replacing them for the training loop."""
        import threading

        if threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                self._previous[signum] = signal.signal(signum, self._receive)

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        received = self.signal is not None
        if trainer.world_size > 1:  # every rank stops at the same step, whichever got the signal
            received = trainer.strategy.reduce_boolean_decision(received, all=False)
        if received and self.stopped_by is None:
            self.stopped_by, self.stopped_step = self.signal or signal.SIGTERM, trainer.global_step
            self.checkpoint.save(trainer)
            trainer.should_stop = True

    # ------------------------------------------------------ non-finite loss
    def check_loss(self, trainer: L.Trainer, loss: torch.Tensor, batch_idx: int) -> bool:
        """Whether ``loss`` may be trained on.

        Without skips, the loss is recorded on the device and the host reads
        the record only at the logging steps (:meth:`verify`); with skips, a
        non-finite loss is skipped or stops the run at once.
        """
        where = (trainer.global_step, trainer.current_epoch, batch_idx)
        if self.nonfinite_skips == 0:
            self._record(loss.detach(), where)
            return (trainer.global_step + 1) % trainer.log_every_n_steps != 0 or self.verify(trainer)
        bad = not bool(torch.isfinite(loss.detach()).all())
        if trainer.world_size > 1:  # all ranks skip or stop together
            bad = trainer.strategy.reduce_boolean_decision(bad, all=False)
        if not bad:
            return True
        if self.skipped < self.nonfinite_skips:
            self.skipped += 1
            return False
        self._stop(trainer, NonFinite(*where, float(loss.detach())))
        return False

    def _record(self, loss: torch.Tensor, where: tuple[int, int, int]) -> None:
        """Keep the first non-finite loss since the last check on the device: no wait for it."""
        if self._first is None or self._first.device != loss.device:
            self._first = torch.tensor([-1.0, 0.0], device=loss.device, dtype=torch.float64)
        new = torch.stack([torch.full_like(loss, len(self._since), dtype=torch.float64), loss.double()])
        self._first = torch.where((self._first[0] < 0) & ~torch.isfinite(loss), new, self._first)
        self._since.append(where)

    def verify(self, trainer: L.Trainer) -> bool:
        """Read the device's record on the host: whether every loss since the last check was finite.

        If not, the run stops and no other checkpoint is written. Called at
        the logging steps, before each checkpoint is written and when
        training ends; on every rank at the same steps.
        """
        if self.nonfinite is not None:
            return False
        index, value = (-1.0, 0.0) if self._first is None else self._first.tolist()
        bad = index >= 0
        if trainer.world_size > 1:  # all ranks stop together
            bad = trainer.strategy.reduce_boolean_decision(bad, all=False)
        if bad:  # a rank told of another rank's loss names the latest step
            latest = self._since[-1] if self._since else (trainer.global_step, trainer.current_epoch, -1)
            self._stop(trainer, NonFinite(*self._since[int(index)], value) if index >= 0 else
                       NonFinite(*latest, float("nan")))
        elif self._first is not None:
            self._first.fill_(-1.0)
        self._since.clear()
        return not bad

    def _stop(self, trainer: L.Trainer, bad: NonFinite) -> None:
        self.nonfinite = bad
        self.checkpoint.hold = True  # the last good checkpoint stays
        trainer.should_stop = True

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.verify(trainer)


def stopped_error(guard: StopGuard, checkpoint: str) -> RunStopped | None:
    """The one line (and exit code) of a run the guard stopped, or ``None`` when it ran to its end."""
    if guard.nonfinite is not None:
        bad = guard.nonfinite
        skipped = f" after skipping {guard.skipped} steps with one" if guard.skipped else ""
        return RunStopped(
            f"the loss became {bad.value} at step {bad.step} (epoch {bad.epoch}, batch {bad.batch}){skipped}; "
            f"stopped without writing another checkpoint ({checkpoint} and the previous.ckpt before it are kept). "
            "Lower optim.lr, check the data, or set trainer.nonfinite_loss_skips",
            exit_code=3,
        )
    if guard.stopped_by is not None:
        name = signal.Signals(guard.stopped_by).name
        return RunStopped(
            f"stopped by {name} at step {guard.stopped_step}; checkpoint written to {checkpoint}; continue with --resume",
            exit_code=128 + guard.stopped_by,
        )
    return None


def record_stop(guard: StopGuard, logger: MLFlowLogger) -> None:
    """Tag the MLflow run with why it stopped: KILLED on a signal, FAILED with the step on a non-finite loss."""
    if guard.nonfinite is not None:
        bad = guard.nonfinite
        tags = {"nonfinite_loss.step": bad.step, "nonfinite_loss.value": bad.value, "nonfinite_loss.epoch": bad.epoch,
                "nonfinite_loss.batch": bad.batch, "nonfinite_loss.skipped_steps": guard.skipped}
        status = "FAILED"
    else:
        assert guard.stopped_by is not None
        tags = {"stopped_by": signal.Signals(guard.stopped_by).name, "stopped_at_step": guard.stopped_step}
        status = "KILLED"
    for key, value in tags.items():
        logger.experiment.set_tag(logger.run_id, key, str(value))
    logger.experiment.set_terminated(logger.run_id, status)
