"""``pretrain``: one run folder holding the resolved recipe, checkpoints and the MLflow store."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.accelerators import CPUAccelerator
from lightning.pytorch.callbacks import TQDMProgressBar
from lightning.pytorch.loggers import Logger, MLFlowLogger
from lightning.pytorch.utilities.rank_zero import rank_zero_info, rank_zero_only, rank_zero_warn

from ..config import DataArgument
from ..data.datamodule import JEPADataModule
from ..domain.contract import DatasetSplits, cache_dir
from ..domain.registry import load_domain
from ..errors import JepaError
from ..runs.atomic import AtomicCheckpointIO, atomic_write_text
from ..runs.checkpoints import previous_of, resume_checkpoint
from ..runs.folder import CONFIG_FILE, RUN_FILE, quiet_library_chatter, refuse_existing, usable_workers
from ..runs.lock import locked_run_folder
from ..runs.status import fail_dead_run
from ..runs.tracking import experiment_name, flatten, make_logger, provenance_tags, tracking_uri
from .callbacks import LastCheckpoint, RandomStates, ResumeMarks, SamplesPerSecond
from .config import Recipe, pretrain_recipe
from .distributed import build_strategy
from .guard import StopGuard, record_stop, stopped_error
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
    notes: list[str] = field(default_factory=list)
    """What the run's metrics need explained (e.g. validated only once, at the last step)."""


def has_checkpoint(out: Path) -> bool:
    """Whether the run folder ``out`` holds a checkpoint to resume from (its last, or the one before)."""
    ckpt = last_checkpoint(out)
    return ckpt.is_file() or previous_of(ckpt).is_file()


def check_run_folder(out: Path, resume: bool) -> Path | None:
    """Refuse to overwrite a run, and to resume one that has no sound checkpoint; the checkpoint to resume from."""
    ckpt = last_checkpoint(out)
    if rank_zero_only.rank == 0:
        fail_dead_run(out)
    if resume and not has_checkpoint(out):
        raise JepaError(f"--resume: {ckpt} does not exist; nothing to resume in {out}")
    if not resume:  # previous.ckpt alone: a run killed while it replaced its last checkpoint
        refuse_existing(
            out, ckpt.relative_to(out), previous_of(ckpt).relative_to(out),
            advice="pass --resume to continue it or choose another --out",
        )
    for stale in ckpt.parent.glob(".*.tmp"):  # left by a run killed while writing; never read
        stale.unlink(missing_ok=True)  # every process of a distributed run gets here
    if not resume:
        return None
    chosen, fallback = resume_checkpoint(ckpt)
    if fallback:
        rank_zero_warn(fallback)
    return chosen


def build_callbacks(recipe: Recipe, out: Path, splits: DatasetSplits) -> list[L.Callback]:
    """Checkpoints, throughput, the representation monitor (RankMe, alarm, probe against random init) and plots."""
    checkpoint = LastCheckpoint(last_checkpoint(out), recipe.trainer.checkpoint_every_n_steps)
    callbacks = [
        checkpoint,
        StopGuard(checkpoint, recipe.trainer.nonfinite_loss_skips),
        RandomStates(),
        ResumeMarks(),
        SamplesPerSecond(),
        RepresentationMonitor(recipe.monitor, splits, recipe.trainer.batch_size, recipe.seed),
        TrainingPlots(out / "plots", recipe.model.embed_dim),
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
        log_every_n_steps=min(cfg.log_every_n_steps, cfg.max_steps),  # a short run still logs a point
        val_check_interval=cfg.val_every_n_steps,
        check_val_every_n_epoch=None if cfg.val_every_n_steps else 1,
        limit_val_batches=cfg.limit_val_batches,
        logger=logger,
        callbacks=callbacks,
        plugins=[AtomicCheckpointIO()],
        default_root_dir=out,
        enable_checkpointing=False,  # LastCheckpoint writes the run's checkpoints
        enable_model_summary=False,
        inference_mode=False,  # validate() outside fit probes too, and the probe trains a head with autograd
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
    tags = {**provenance_tags(recipe.domain), "jepa.command": "pretrain"}
    logger = make_logger(out, experiment_name(recipe.domain), previous_run, tags)
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

    The first process holds the run folder's lock throughout (checked writable
    first). The data is read and checked before anything else is written, so
    bad input leaves no half-made run folder behind. Every process of a
    distributed run calls this; only the first writes the run's files and logs
    (``run_id`` is ``None`` on the others).

    Raises:
        RunStopped: A signal or a non-finite loss stopped the run early.
    """
    with locked_run_folder(out, primary=rank_zero_only.rank == 0):
        return _pretrain(recipe, out, resume)


def _pretrain(recipe: Recipe, out: Path, resume: bool) -> RunSummary:
    resume_from = check_run_folder(out, resume)
    quiet_library_chatter()
    plugin = load_domain(recipe.domain)
    L.seed_everything(recipe.seed, workers=True, verbose=False)
    requested = recipe.trainer.num_workers
    workers = None if requested == "auto" else usable_workers(requested)  # auto: the datamodule, per device
    datamodule = JEPADataModule(plugin, recipe.data, recipe.trainer.batch_size, workers, recipe.seed, cache_dir())
    datamodule.prepare_data()
    datamodule.setup("fit")
    module = JEPAModule(recipe.to_dict())

    out.mkdir(parents=True, exist_ok=True)
    assert datamodule.splits is not None
    logger = start_run(recipe, out, resume, datamodule.splits.stats)
    if logger is not None and resume:  # open again (a killed run was marked FAILED) until this process ends it
        logger.experiment.update_run(logger.run_id, status="RUNNING")
    trainer = build_trainer(recipe, build_callbacks(recipe, out, datamodule.splits), out, logger or False)
    if rank_zero_only.rank == 0 and isinstance(trainer.accelerator, CPUAccelerator):
        slow = slow_step_line(recipe, datamodule.batch_size)
        if slow is not None:
            rank_zero_info(slow)
    trainer.fit(module, datamodule=datamodule, ckpt_path=resume_from, weights_only=True)
    guard = next(callback for callback in trainer.callbacks if isinstance(callback, StopGuard))
    stopped = stopped_error(guard, str(last_checkpoint(out)))
    if stopped is not None:
        if logger is not None:
            record_stop(guard, logger)
        raise stopped
    metrics = {key: float(value) for key, value in trainer.callback_metrics.items()}
    notes = validate_if_never_validated(trainer, module, datamodule, resumed=resume_from is not None)
    metrics.update({key: float(value) for key, value in trainer.callback_metrics.items()})  # validate's
    if datamodule.splits.labels is None:
        notes.append("no linear probe: the data has no labels")
    run_id = None if logger is None else logger.run_id
    if logger is not None:
        logger.experiment.log_artifact(run_id, str(out / CONFIG_FILE))
        if recipe.trainer.log_checkpoint:
            logger.experiment.log_artifact(run_id, str(last_checkpoint(out)), "checkpoints")
        final = {"method": recipe.objective.kind, "steps": recipe.trainer.max_steps,
                 "metrics": logger.experiment.get_run(run_id).data.metrics}  # what 'select' ranks, without MLflow
        atomic_write_text(out / RUN_FILE, json.dumps({"run_id": run_id, "tracking_uri": tracking_uri(out), "final": final}))
    return RunSummary(
        out=out,
        checkpoint=last_checkpoint(out),
        config=out / CONFIG_FILE,
        tracking_uri=tracking_uri(out),
        run_id=run_id,
        steps=trainer.global_step,
        metrics=metrics,
        notes=notes,
    )


def validate_if_never_validated(
    trainer: L.Trainer, module: JEPAModule, datamodule: JEPADataModule, resumed: bool = False
) -> list[str]:
    """Validate (and so probe) once at the last step when training ended before its first validation, as a
    run shorter than an epoch does, or one resumed at its end; the note saying so, for the summary."""
    assert datamodule.splits is not None
    if datamodule.splits.val is None:
        return ["no validation set: no val/loss and no linear probe score"]
    if "val/loss" in trainer.callback_metrics or trainer.interrupted:
        return []
    trainer.validate(module, datamodule=datamodule, verbose=False, weights_only=True)
    since = "since the run resumed" if resumed else "before training ended"
    return [f"no validation {since}: validated and probed once, at step {trainer.global_step}"]


def run_pretraining(
    domain: str | None = None,
    data: DataArgument = None,
    *,
    recipe: str | Path | None = None,
    out: str | Path | None = None,
    resume: bool = False,
    **overrides: Any,
) -> RunSummary:
    """Resolve the recipe and pretrain it; returns the run's summary. Documented as :func:`jepa_platform.api.pretrain`,
    which calls this; the ``pretrain`` command line does the same."""
    if resume and out is None:
        raise JepaError("resume needs out pointing at the run to continue")
    resolved = pretrain_recipe(domain, data, recipe, resume_from=out if resume else None, **overrides)
    folder = Path(out) if out is not None else Path("runs") / f"{resolved.domain}-{datetime.now():%Y%m%d-%H%M%S}"
    return pretrain(resolved, folder, resume=resume)
