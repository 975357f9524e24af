"""``pretrain``: one run folder holding the resolved recipe, checkpoints and the MLflow store."""

from __future__ import annotations

import json
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import TQDMProgressBar
from lightning.pytorch.loggers import Logger

from .callbacks import LastCheckpoint, SamplesPerSecond
from .checkpoint import AtomicCheckpointIO, atomic_write_text
from .data import JEPADataModule
from .errors import JepaError
from .module import JEPAModule
from .monitor import RankMeMonitor
from .plots import TrainingPlots
from .plugin import LabelSpec
from .probe import OnlineProbe
from .recipe import Recipe
from .registry import load_domain
from .tracking import flatten, make_logger, tracking_uri

CONFIG_FILE = "config.yaml"
RUN_FILE = "run.json"


def cache_dir() -> Path:
    """Where domains keep generated demo data: ``$JEPA_PLATFORM_CACHE`` or ``~/.cache/jepa-platform``."""
    return Path(os.environ.get("JEPA_PLATFORM_CACHE", Path.home() / ".cache" / "jepa-platform"))


def last_checkpoint(out: Path) -> Path:
    return out / "checkpoints" / "last.ckpt"


@dataclass
class RunSummary:
    out: Path
    checkpoint: Path
    config: Path
    tracking_uri: str
    run_id: str
    steps: int
    metrics: dict[str, float]


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


def check_run_folder(out: Path, resume: bool) -> None:
    """Refuse to overwrite a run, and to resume one that has no checkpoint."""
    ckpt = last_checkpoint(out)
    if resume and not ckpt.is_file():
        raise JepaError(f"--resume: {ckpt} does not exist; nothing to resume in {out}")
    if not resume and ckpt.exists():
        raise JepaError(f"{out} already holds a run; pass --resume to continue it or choose another --out")
    for stale in ckpt.parent.glob(".*.tmp"):  # left by a run killed while writing; never read
        stale.unlink()


def build_callbacks(recipe: Recipe, out: Path, labels: LabelSpec | None) -> list[L.Callback]:
    """Checkpoints, throughput, label-free monitoring, the online probe (with labels) and plots."""
    callbacks = [
        LastCheckpoint(last_checkpoint(out), recipe.trainer.checkpoint_every_n_steps),
        SamplesPerSecond(),
        RankMeMonitor(recipe.monitor),
        TrainingPlots(out / "plots"),
        TQDMProgressBar(refresh_rate=5),
    ]
    if labels is not None and recipe.monitor.probe:
        callbacks.append(OnlineProbe(labels, recipe.monitor.probe_lr, recipe.seed))
    return callbacks


def build_trainer(recipe: Recipe, callbacks: list[L.Callback], out: Path, logger: Logger | bool) -> L.Trainer:
    cfg = recipe.trainer
    return L.Trainer(
        max_steps=cfg.max_steps,
        accelerator=cfg.accelerator,
        devices=cfg.devices,
        strategy=cfg.strategy,
        num_nodes=cfg.num_nodes,
        precision=cfg.precision,
        gradient_clip_val=recipe.optim.grad_clip,
        log_every_n_steps=cfg.log_every_n_steps,
        val_check_interval=cfg.val_every_n_steps,
        check_val_every_n_epoch=None if cfg.val_every_n_steps else 1,
        limit_val_batches=cfg.limit_val_batches,
        logger=logger,
        callbacks=callbacks,
        plugins=[AtomicCheckpointIO()],
        default_root_dir=out,
        enable_checkpointing=False,  # LastCheckpoint writes the run's checkpoints
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )


def pretrain(recipe: Recipe, out: Path, resume: bool = False) -> RunSummary:
    """Pretrain ``recipe`` into ``out`` (or continue the run there with ``resume``).

    The data is read and checked before anything is written, so bad input
    leaves no half-made run folder behind.
    """
    check_run_folder(out, resume)
    quiet_library_chatter()
    plugin = load_domain(recipe.domain)
    L.seed_everything(recipe.seed, workers=True, verbose=False)
    datamodule = JEPADataModule(
        plugin, recipe.data, recipe.trainer.batch_size, recipe.trainer.num_workers, recipe.seed, cache_dir()
    )
    datamodule.prepare_data()
    datamodule.setup("fit")
    module = JEPAModule(recipe.to_dict())

    out.mkdir(parents=True, exist_ok=True)
    run_file = out / RUN_FILE
    previous_run = json.loads(run_file.read_text())["run_id"] if resume and run_file.exists() else None
    logger = make_logger(out, f"jepa-platform/{recipe.domain}", previous_run)
    atomic_write_text(out / CONFIG_FILE, recipe.to_yaml())
    run_id = logger.run_id
    atomic_write_text(run_file, json.dumps({"run_id": run_id, "tracking_uri": tracking_uri(out)}))
    if resume:  # MLflow params are immutable: the resumed recipe is logged as the config artifact
        logger.experiment.set_tag(run_id, "resumed", "true")
    else:
        logger.log_hyperparams(flatten(recipe.to_dict()))
    assert datamodule.splits is not None
    trainer = build_trainer(recipe, build_callbacks(recipe, out, datamodule.splits.labels), out, logger)
    trainer.fit(module, datamodule=datamodule, ckpt_path=last_checkpoint(out) if resume else None, weights_only=True)
    metrics = {key: float(value) for key, value in trainer.callback_metrics.items()}
    logger.experiment.log_artifact(run_id, str(out / CONFIG_FILE))
    return RunSummary(
        out=out,
        checkpoint=last_checkpoint(out),
        config=out / CONFIG_FILE,
        tracking_uri=tracking_uri(out),
        run_id=run_id,
        steps=trainer.global_step,
        metrics=metrics,
    )
