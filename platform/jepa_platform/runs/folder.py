"""Run folders: their fixed file names, the refusal to overwrite a run, and a console kept for our own output."""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

from ..errors import JepaError

CONFIG_FILE = "config.yaml"
"""The resolved recipe of every run."""
RUN_FILE = "run.json"
"""The MLflow run id and tracking URI of a pretraining run."""


def refuse_existing(out: Path, *markers: str | Path, advice: str = "choose another --out") -> None:
    """Stop when ``out`` holds any of ``markers`` (files only a run writes): a run is never overwritten."""
    if any((out / marker).exists() for marker in markers):
        raise JepaError(f"{out} already holds a run; {advice}")


class _DropMessages(logging.Filter):
    """Drops log records starting with any of ``prefixes`` (library advertising and chatter)."""

    def __init__(self, *prefixes: str) -> None:
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefixes)


def quiet_library_chatter() -> None:
    """Keep the console for our progress bar and messages."""
    chatter = _DropMessages("💡 Tip", "Experiment with name", "`Trainer(limit_val_batches=1.0)`")
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.pytorch.loggers.mlflow"):
        logging.getLogger(name).addFilter(chatter)
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*overridden `on_before_batch_transfer`.*")  # masks are drawn there
    warnings.filterwarnings("ignore", message=".*FSDP2-wrapped module.*returned a view tensor.*")  # never changed in place


def usable_workers(requested: int, key: str = "trainer.num_workers") -> int:
    """``requested`` loader workers, at most one per CPU core this process may use; says so once when it caps."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if requested <= cores:
        return requested
    logging.getLogger("jepa_platform").warning(
        "%s %d is more than the %d CPU core(s) here; loading with %d worker(s)", key, requested, cores, cores
    )
    return cores
