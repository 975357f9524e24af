"""Training-time side effects kept out of the model: throughput reporting and the last checkpoint."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch

from ..data.datamodule import batch_size_of
from ..runs.checkpoints import keep_as_previous


class SamplesPerSecond(L.Callback):
    """Logs smoothed global samples/s (data loading included) to the progress bar and the logger.

    It logs on the trainer's logging steps only, as a host tensor: Lightning
    reads the progress bar's values back after every step, which would
    synchronize a GPU every step for a value on the device.

    Args:
        smoothing: Weight of the newest measurement in the exponential average.
    """

    def __init__(self, smoothing: float = 0.1) -> None:
        self.smoothing = smoothing
        self.rate: float | None = None
        self._last: float | None = None

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._last = None  # do not count the pause between epochs (validation, checkpointing)

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        now = time.perf_counter()
        if self._last is not None:
            measured = batch_size_of(batch) * trainer.world_size / (now - self._last)
            self.rate = measured if self.rate is None else self.rate + self.smoothing * (measured - self.rate)
            if trainer.global_step % trainer.log_every_n_steps == 0:
                pl_module.log("train/samples_per_s", torch.tensor(self.rate), prog_bar=True)  # kept on the host
        self._last = now


class LastCheckpoint(L.Callback):
    """Keeps ``path`` holding the latest state: every ``every_n_steps`` steps and when training ends.

    Writes go through the trainer's checkpoint I/O (atomic, with a content hash
    beside the file); the checkpoint a write replaces is kept as
    ``previous.ckpt``. While ``hold`` is set (a non-finite loss stopped the run)
    nothing more is written; ``check``, when set, is asked first whether the
    state may be written (the non-finite loss guard's :meth:`~.guard.StopGuard.verify`).
    """

    def __init__(self, path: Path, every_n_steps: int) -> None:
        self.path, self.every_n_steps = Path(path), every_n_steps
        self.hold = False
        self.check: Callable[[L.Trainer], bool] | None = None
        self._saved_step = -1

    def save(self, trainer: L.Trainer) -> None:
        """Write the whole state (for ``--resume``) unless this step's is written already."""
        if trainer.global_step == self._saved_step or self.hold or (self.check and not self.check(trainer)):
            return
        if trainer.is_global_zero:  # a file this process did not write is checked before it is kept
            keep_as_previous(self.path, verify=self._saved_step < 0)
        trainer.save_checkpoint(self.path, weights_only=False)
        self._saved_step = trainer.global_step

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if trainer.global_step % self.every_n_steps == 0:
            self.save(trainer)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.save(trainer)


class RandomStates(L.Callback):
    """Saves every random generator's state (Python, NumPy, torch, CUDA) in the checkpoint and restores it."""

    def state_dict(self) -> dict[str, Any]:
        name, keys, position, has_gauss, gauss = np.random.get_state()
        return {
            "python": random.getstate(),
            "numpy": (name, torch.from_numpy(keys.astype(np.int64)), position, has_gauss, gauss),
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        random.setstate(state_dict["python"])
        name, keys, position, has_gauss, gauss = state_dict["numpy"]
        np.random.set_state((name, keys.numpy().astype(np.uint32), position, has_gauss, gauss))
        torch.set_rng_state(state_dict["torch"])
        if state_dict["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state_dict["cuda"])


class ResumeMarks(L.Callback):
    """Tags a resumed MLflow run with the steps it was resumed from (``resumed_from_steps``, comma-separated).

    Metrics of steps after a resumed checkpoint were logged by the run that
    died and are logged again by the resumed one; for such a step the later
    value (by timestamp) is the one the resumed run computed.
    """

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.ckpt_path is None or not trainer.is_global_zero:
            return
        for logger in trainer.loggers:
            if hasattr(logger, "run_id") and hasattr(logger, "experiment"):
                tags = logger.experiment.get_run(logger.run_id).data.tags
                steps = [*filter(None, tags.get("resumed_from_steps", "").split(",")), str(trainer.global_step)]
                logger.experiment.set_tag(logger.run_id, "resumed_from_steps", ",".join(steps))
