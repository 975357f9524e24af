"""``probe`` and ``finetune``: train on a domain's labelled task, keep the best validation epoch, test it.

The run folder holds ``config.yaml`` (the resolved recipe), ``checkpoints/best.ckpt``,
``results.json``, ``result.md`` (one markdown row), ``per_class.csv`` (classification)
and the MLflow store. The data is read and checked before anything is written.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint, TQDMProgressBar
from torch.utils.data import DataLoader, Dataset

from ..config import DataArgument, recipe_overrides
from ..data.shards import ShardSet
from ..domain.contract import DataConfig, DomainPlugin, DownstreamTask, TaskConfig, cache_dir
from ..domain.registry import load_domain
from ..errors import JepaError
from ..model.config import Pooling
from ..pretrain.plots import downstream_panels, plot_run
from ..runs.atomic import AtomicCheckpointIO, atomic_write_text, load_checkpoint
from ..runs.folder import CONFIG_FILE, RUN_FILE, quiet_library_chatter, refuse_existing, usable_workers
from ..runs.tracking import experiment_name, flatten, make_logger, provenance_tags, tracking_uri
from .config import DownstreamRecipe, FinetuneConfig, Mode, resolve_downstream
from .heads import build_head
from .metrics import LOWER_IS_BETTER, direction
from .model import DownstreamModule
from .pretrained import Pretrained, build_encoder, load_weights
from .results import PER_CLASS_FILE, RESULTS_FILE, ROW_FILE, markdown_row, method_name, per_class_csv

BEST_CHECKPOINT = Path("checkpoints") / "best.ckpt"


def load_probe_head(head: torch.nn.Module, run: Path, task: DownstreamTask, kind: str, pooling: Pooling) -> None:
    """Start ``head`` from the head of a probe run (its folder or its checkpoint) of the same task, head and
    pooling."""
    path = run / BEST_CHECKPOINT if run.is_dir() else run
    if not path.is_file():
        raise JepaError(f"finetune.head_from: {path} does not exist")
    checkpoint = load_checkpoint(path)
    saved = checkpoint.get("hyper_parameters", {})
    if saved.get("mode") != "probe":
        raise JepaError(f"finetune.head_from: {path} is not the checkpoint of a probe run")
    if saved.get("task") != task.name or saved.get("classes") != list(task.labels.names):
        raise JepaError(f"finetune.head_from: {path} was trained on task '{saved.get('task')}', not '{task.name}'")
    probe_head = saved["recipe"]["probe"]["head"]
    if probe_head != kind:
        raise JepaError(f"finetune.head_from: {path} has a {probe_head} head; set finetune.head to {probe_head}")
    probe_pooling = saved["recipe"].get("model", {}).get("pooling", "mean")
    if kind in ("linear", "mlp") and probe_pooling != pooling:
        raise JepaError(f"finetune.head_from: {path}'s head reads {probe_pooling}-pooled tokens, this run's {pooling}")
    weights = checkpoint["state_dict"]
    head.load_state_dict({key.removeprefix("head."): value for key, value in weights.items() if key.startswith("head.")})


def labelled_task(plugin: DomainPlugin, data: DataConfig, task: TaskConfig) -> DownstreamTask:
    """The domain's ``task`` on the raw data ``data`` points at, or on the prepared shards of a shard folder.

    Raises:
        JepaError: The shards were prepared for another domain or with other ``data`` settings, or the domain
            cannot build the task (naming what is missing).
    """
    shards = ShardSet.find(data.path) if isinstance(data.path, str) else None
    if shards is None:
        return plugin.downstream_task(plugin.ensure_data(data, cache_dir()), data, task)
    shards.check(plugin, data)
    return plugin.downstream_task_from_shards(shards.contents(), data, task)


def check_metric(task: DownstreamTask) -> None:
    """The task's metric must fit its kind: errors and R² for regression, scores of classes otherwise."""
    regression_metric = task.metric in LOWER_IS_BETTER or task.metric == "r2"
    if regression_metric != task.labels.regression:
        kind = "regression" if task.labels.regression else "classification"
        raise JepaError(f"task '{task.name}' is a {kind} task; its metric cannot be {task.metric} (task.metric)")
    if task.labels.per_token != (task.metric in ("mean_iou", "mean_ap")):
        kind = "a dense (per-token)" if task.labels.per_token else "a per-example"
        raise JepaError(f"task '{task.name}' is {kind} task; its metric cannot be {task.metric} (task.metric)")
    if task.labels.multilabel and task.metric != "macro_auc":
        raise JepaError(f"task '{task.name}' is multi-label; its metric must be macro_auc, not {task.metric}")


def target_scale(dataset: Dataset, batch_size: int, num_workers: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std (constant targets: 1) of each regression target over ``dataset``, read in batches."""
    targets = torch.cat([
        batch["label"].reshape(len(batch["label"]), -1).double()
        for batch in DataLoader(dataset, batch_size=max(batch_size, 256), num_workers=num_workers)
    ])
    if not torch.isfinite(targets).all():
        raise JepaError("the training split holds regression targets that are NaN or infinite")
    std = targets.std(dim=0, unbiased=False)
    return targets.mean(dim=0), torch.where(std > 1e-12, std, torch.ones_like(std))


def loader(dataset: Dataset, batch_size: int, num_workers: int, train: bool, seed: int) -> DataLoader:
    size = min(batch_size, len(dataset)) if train else batch_size
    return DataLoader(
        dataset,
        batch_size=size,
        shuffle=train,
        drop_last=train,
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
        pin_memory=torch.cuda.is_available(),
        generator=torch.Generator().manual_seed(seed) if train else None,
    )


def run_downstream(recipe: DownstreamRecipe, mode: Mode, pretrained: Pretrained | None, out: Path) -> dict[str, Any]:
    """Probe or fine-tune ``pretrained`` (random init when ``None``) as ``recipe`` says; the results of the test set."""
    refuse_existing(out, RESULTS_FILE, BEST_CHECKPOINT)
    quiet_library_chatter()
    plugin = load_domain(recipe.domain)
    stage = recipe.stage(mode)
    L.seed_everything(recipe.seed, workers=True, verbose=False)
    task = labelled_task(plugin, recipe.data, recipe.task)
    for split in ("train", "val", "test"):
        if len(getattr(task, split)) == 0:
            raise JepaError(f"task '{task.name}': the {split} set is empty")
    check_metric(task)
    cfg = recipe.trainer
    workers = usable_workers(cfg.num_workers)
    scale = target_scale(task.train, cfg.batch_size, workers) if task.labels.regression else None

    model = recipe.model
    if isinstance(stage, FinetuneConfig):
        model = model.model_copy(update={"drop_path": stage.drop_path})
    encoder = build_encoder(plugin, model, task.data)
    if pretrained is not None:
        load_weights(encoder, pretrained)
    head = build_head(
        stage.head, model.embed_dim, len(task.labels.names), model.num_heads, task.labels.per_token, model.pooling
    )
    if isinstance(stage, FinetuneConfig) and stage.head_from:
        load_probe_head(head, Path(stage.head_from), task, stage.head, model.pooling)
    module = DownstreamModule(encoder, head, task, recipe, mode, scale)
    loaders = {
        split: loader(getattr(task, split), cfg.batch_size, workers, split == "train", recipe.seed)
        for split in ("train", "val", "test")
    }

    init = "pretrained" if pretrained is not None else "random"
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / CONFIG_FILE, recipe.to_yaml())
    tags = downstream_tags(recipe.domain, mode, init, pretrained, tracking_uri(out))
    logger = make_logger(out, experiment_name(recipe.domain), tags=tags)
    atomic_write_text(out / RUN_FILE, json.dumps({"run_id": logger.run_id, "tracking_uri": tracking_uri(out)}))
    logger.log_hyperparams({**flatten(recipe.to_dict()), "mode": mode, "init": init})
    monitor, better = f"val/{task.metric}", direction(task.metric)
    best = ModelCheckpoint(
        dirpath=out / BEST_CHECKPOINT.parent, filename=BEST_CHECKPOINT.stem, monitor=monitor, mode=better,
        save_top_k=1, save_weights_only=True, auto_insert_metric_name=False, enable_version_counter=False,
    )
    trainer = L.Trainer(
        max_epochs=stage.max_epochs,
        accelerator=cfg.accelerator,
        devices=1,
        precision=cfg.precision,
        gradient_clip_val=stage.grad_clip,
        log_every_n_steps=max(1, min(cfg.log_every_n_steps, len(loaders["train"]))),  # a point every epoch
        logger=logger,
        callbacks=[best, EarlyStopping(monitor, mode=better, patience=stage.patience), TQDMProgressBar(refresh_rate=5)],
        plugins=[AtomicCheckpointIO()],
        default_root_dir=out,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(module, loaders["train"], loaders["val"])
    trainer.test(module, loaders["test"], ckpt_path=best.best_model_path, weights_only=True, verbose=False)

    evaluation = module.evaluations["test"]
    results = {
        "task": task.name,
        "method": method_name(mode, stage.head),
        "init": init,
        "metric": task.metric,
        "value": evaluation.metrics[task.metric],
        "test": evaluation.metrics,
        "best_val": float(best.best_model_score),
        "epochs": trainer.current_epoch,
        "examples": {"train": len(task.train), "val": module.evaluations["val"].examples, "test": evaluation.examples},
        "classes": len(task.labels.names),
        "regression": task.labels.regression,
        "seed": recipe.seed,
        "domain": recipe.domain,
        "mode": mode,
        "head": stage.head,
        "encoder": pretrained.source if pretrained is not None else "random init",
        "data": recipe.data.path or "demo",
        "out": str(out),
    }
    files = [CONFIG_FILE, RESULTS_FILE]
    if evaluation.per_class:
        atomic_write_text(out / PER_CLASS_FILE, per_class_csv(evaluation))
        files.append(PER_CLASS_FILE)
    atomic_write_text(out / ROW_FILE, markdown_row(results) + "\n")
    atomic_write_text(out / RESULTS_FILE, json.dumps(results, indent=2) + "\n")
    for name in files:
        logger.experiment.log_artifact(logger.run_id, str(out / name))
    if cfg.log_checkpoint:
        logger.experiment.log_artifact(logger.run_id, str(out / BEST_CHECKPOINT), "checkpoints")
    plot = plot_run(logger.experiment, logger.run_id, downstream_panels(task.metric), out / "plots" / "training.png")
    if plot is not None:
        logger.experiment.log_artifact(logger.run_id, str(plot))
    return results


def downstream_tags(domain: str, mode: Mode, init: str, pretrained: Pretrained | None, uri: str) -> dict[str, str]:
    """The provenance tags, the command, and the pretraining run the encoder comes from (its MLflow run id;
    the parent run in MLflow's view when both share the store ``uri``)."""
    tags = {**provenance_tags(domain), "jepa.command": mode, "jepa.init": init}
    if pretrained is not None:
        tags["jepa.encoder"] = pretrained.source[:5000]
    if pretrained is not None and pretrained.run is not None:
        tags["jepa.pretraining_run_id"] = pretrained.run["run_id"]
        tags["jepa.pretraining_tracking_uri"] = pretrained.run["tracking_uri"]
        if pretrained.run["tracking_uri"] == uri:
            tags["mlflow.parentRunId"] = pretrained.run["run_id"]
    return tags


def run_task(
    mode: Mode, recipe: str | Path | None, checkpoint: str | Path | None, data: DataArgument,
    out: str | Path | None, overrides: dict[str, Any],
) -> dict[str, Any]:
    """Resolve a downstream recipe (with the overrides of keyword arguments) and probe or fine-tune it."""
    resolved, pretrained = resolve_downstream(recipe, recipe_overrides(overrides, data), checkpoint)
    init = "pretrained" if pretrained else "random"
    stamp = f"{datetime.now():%Y%m%d-%H%M%S}"
    folder = Path(out) if out is not None else Path("runs") / f"{resolved.domain}-{resolved.task.name}-{mode}-{init}-{stamp}"
    return run_downstream(resolved, mode, pretrained, folder)
