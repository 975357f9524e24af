"""Training-time side effects kept out of the model: throughput reporting and the last checkpoint."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import lightning as L
import torch

from ..data.datamodule import batch_size_of


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

    Writes go through the trainer's checkpoint I/O (atomic in this platform).
    """

    def __init__(self, path: Path, every_n_steps: int) -> None:
        self.path, self.every_n_steps = Path(path), every_n_steps
        self._saved_step = -1

    def _save(self, trainer: L.Trainer) -> None:
        if trainer.global_step != self._saved_step:
            trainer.save_checkpoint(self.path, weights_only=False)  # the whole state, for --resume
            self._saved_step = trainer.global_step

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if trainer.global_step % self.every_n_steps == 0:
            self._save(trainer)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._save(trainer)
