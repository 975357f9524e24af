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


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def auto_workers(processes: int) -> tuple[int, str]:
    """Loader workers per training process when ``trainer.num_workers`` is ``auto``, and the line saying why.

    The usable cores are shared among the node's ``processes`` training processes (one per
    device), and each process keeps one core for itself (the step, and moving batches in
    and pinning them): ``cores // processes - 1``, none when that leaves none.
    """
    cores = usable_cores()
    workers = max(cores // processes - 1, 0)
    return workers, (
        f"trainer.num_workers auto: {workers} loader worker{'s' * (workers != 1)} per process "
        f"({cores} CPU cores for {processes} training process{'es' * (processes > 1)} on this node, "
        f"one core each kept for the process itself)"
    )


def usable_workers(requested: int, key: str = "trainer.num_workers") -> int:
    """``requested`` loader workers, at most one per CPU core this process may use; says so once when it caps."""
    cores = usable_cores()
    if requested <= cores:
        return requested
    logging.getLogger("jepa_platform").warning(
        "%s %d is more than the %d CPU core(s) here; loading with %d worker(s)", key, requested, cores, cores
    )
    return cores
