"""``pretrain``: one run folder holding the resolved recipe, checkpoints and the MLflow store."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import lightning as L
from lightning.pytorch.accelerators import CPUAccelerator
from lightning.pytorch.callbacks import TQDMProgressBar
from lightning.pytorch.loggers import Logger, MLFlowLogger
from lightning.pytorch.utilities.rank_zero import rank_zero_info, rank_zero_only

from ..data.datamodule import JEPADataModule
from ..domain.contract import DatasetSplits, cache_dir
from ..domain.registry import load_domain
from ..errors import JepaError
from ..runs.atomic import AtomicCheckpointIO, atomic_write_text
from ..runs.folder import CONFIG_FILE, RUN_FILE, quiet_library_chatter, refuse_existing
from ..runs.tracking import flatten, make_logger, tracking_uri
from .callbacks import LastCheckpoint, SamplesPerSecond
from .config import Recipe
from .distributed import build_strategy
from .module import JEPAModule
from .monitor import RepresentationMonitor
from .plots import TrainingPlots
from .speed import slow_step_line


def last_checkpoint(out: Path) -> Path:
    return out / "checkpoints" / "last.ckpt"


@dataclass
class RunSummary:
    out: Path
    checkpoint: Path
    config: Path
    tracking_uri: str
    run_id: str | None
    steps: int
    metrics: dict[str, float]


def check_run_folder(out: Path, resume: bool) -> None:
    """Refuse to overwrite a run, and to resume one that has no checkpoint."""
    ckpt = last_checkpoint(out)
    if resume and not ckpt.is_file():
        raise JepaError(f"--resume: {ckpt} does not exist; nothing to resume in {out}")
    if not resume:
        refuse_existing(out, ckpt.relative_to(out), advice="pass --resume to continue it or choose another --out")
    for stale in ckpt.parent.glob(".*.tmp"):  # left by a run killed while writing; never read
        stale.unlink(missing_ok=True)  # every process of a distributed run gets here


def build_callbacks(recipe: Recipe, out: Path, splits: DatasetSplits) -> list[L.Callback]:
    """Checkpoints, throughput, the representation monitor (RankMe, alarm, probe against random init) and plots."""
    callbacks = [
        LastCheckpoint(last_checkpoint(out), recipe.trainer.checkpoint_every_n_steps),
        SamplesPerSecond(),
        RepresentationMonitor(recipe.monitor, splits, recipe.trainer.batch_size, recipe.seed),
        TrainingPlots(out / "plots"),
        # Refreshed at the logging steps: reading the logged loss for it waits on the device.
        TQDMProgressBar(refresh_rate=recipe.trainer.log_every_n_steps),
    ]
    return callbacks


def build_trainer(recipe: Recipe, callbacks: list[L.Callback], out: Path, logger: Logger | bool) -> L.Trainer:
    cfg = recipe.trainer
    return L.Trainer(
        max_steps=cfg.max_steps,
        accelerator=cfg.accelerator,
        devices=cfg.devices,
        strategy=build_strategy(cfg.strategy),
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


def start_run(recipe: Recipe, out: Path, resume: bool, stats: dict[str, int]) -> MLFlowLogger | None:
    """On the first process: the run's ``config.yaml``, ``run.json`` and MLflow run (with the data's ``stats``
    as ``data/<name>`` metrics), and its logger.

    ``None`` on the other processes of a distributed run: they write and log nothing
    (each would otherwise open the tracking store, and an sqlite store at once).
    """
    if rank_zero_only.rank != 0:
        return None
    run_file = out / RUN_FILE
    previous_run = json.loads(run_file.read_text())["run_id"] if resume and run_file.exists() else None
    logger = make_logger(out, f"jepa-platform/{recipe.domain}", previous_run)
    atomic_write_text(out / CONFIG_FILE, recipe.to_yaml())
    atomic_write_text(run_file, json.dumps({"run_id": logger.run_id, "tracking_uri": tracking_uri(out)}))
    if resume:  # MLflow params are immutable: the resumed recipe is logged as the config artifact
        logger.experiment.set_tag(logger.run_id, "resumed", "true")
    else:
        logger.log_hyperparams(flatten(recipe.to_dict()))
    if stats:
        logger.log_metrics({f"data/{name}": value for name, value in stats.items()}, step=0)
    return logger


def pretrain(recipe: Recipe, out: Path, resume: bool = False) -> RunSummary:
    """Pretrain ``recipe`` into ``out`` (or continue the run there with ``resume``).

    The data is read and checked before anything is written, so bad input
    leaves no half-made run folder behind. Every process of a distributed run
    calls this; only the first writes the run's files and logs (``run_id`` is
    ``None`` on the others).
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
    assert datamodule.splits is not None
    logger = start_run(recipe, out, resume, datamodule.splits.stats)
    trainer = build_trainer(recipe, build_callbacks(recipe, out, datamodule.splits), out, logger or False)
    if rank_zero_only.rank == 0 and isinstance(trainer.accelerator, CPUAccelerator):
        slow = slow_step_line(recipe, datamodule.batch_size)
        if slow is not None:
            rank_zero_info(slow)
    trainer.fit(module, datamodule=datamodule, ckpt_path=last_checkpoint(out) if resume else None, weights_only=True)
    metrics = {key: float(value) for key, value in trainer.callback_metrics.items()}
    run_id = None if logger is None else logger.run_id
    if logger is not None:
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
