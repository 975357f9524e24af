"""The Python API: what the command line does, as functions for notebooks and scripts.

Each function takes the command's options as keyword arguments and any recipe
key as an override, nested (``trainer={"max_steps": 20}``) or dotted
(``**{"trainer.max_steps": 20}``)::

    import jepa_platform as jp

    run = jp.pretrain(domain="ecg", out="runs/ecg-demo", trainer={"max_steps": 200})
    result = jp.probe(recipe="recipes/ecg/ptbxl-all.yaml", checkpoint=run.checkpoint)
    folder = jp.export(run.checkpoint, "runs/ecg-demo/export")
    embedding = jp.load_encoder("runs/ecg-demo").embed("record.hea")

Heavy libraries are imported when a function runs, not with the package.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import DataArgument

if TYPE_CHECKING:
    from .downstream.choices import Which
    from .pretrain.config import Recipe
    from .pretrain.run import RunSummary


def pretrain(
    domain: str | None = None,
    data: DataArgument = None,
    *,
    recipe: str | Path | None = None,
    out: str | Path | None = None,
    resume: bool = False,
    **overrides: Any,
) -> RunSummary:
    """Pretrain an encoder; returns the run's summary (checkpoint, metrics, MLflow run).

    Args:
        domain: A domain plugin's name (``jepa-platform domains list``); or ``domain:`` in ``recipe``.
        data: Raw data file(s) or folder(s), or prepared shards; ``None``: the domain's demo data; or a mapping
            of ``data`` keys, e.g. ``{"path": "records/", "sampling_rate": 250}``.
        recipe: A recipe YAML file.
        out: The run folder; default ``runs/<domain>-<time>``.
        resume: Continue the run in ``out`` from its last checkpoint (with its saved recipe).
        **overrides: Recipe keys, e.g. ``model={"depth": 4}``, ``seed=1``, ``**{"optim.lr": 5e-4}``.

    Raises:
        JepaError: Bad input or configuration, explained in one line.
    """
    from .pretrain.run import run_pretraining

    return run_pretraining(domain, data, recipe=recipe, out=out, resume=resume, **overrides)


def pretrain_recipe(
    domain: str | None = None, data: DataArgument = None, recipe: str | Path | None = None, **overrides: Any
) -> Recipe:
    """The resolved pretraining recipe (what ``pretrain --print-config`` prints); no training, no torch."""
    from .pretrain.config import pretrain_recipe as resolve

    return resolve(domain, data, recipe, **overrides)


def probe(
    recipe: str | Path | None = None,
    checkpoint: str | Path | None = None,
    data: DataArgument = None,
    *,
    out: str | Path | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """Train a head on a frozen encoder; returns the results (``results.json``: test metric, best validation...).

    Args:
        recipe: A downstream recipe YAML (e.g. ``recipes/ecg/ptbxl-all.yaml``); or give ``domain`` and ``task``.
        checkpoint: A pretraining checkpoint, run folder or exported encoder; ``None``: random init.
        data: Labelled data; default: the checkpoint's data, or the demo data.
        out: The run folder; default ``runs/<domain>-<task>-probe-<init>-<time>``.
        **overrides: Recipe keys, e.g. ``probe={"head": "linear"}``, ``seed=1``.
    """
    from .downstream.run import run_task

    return run_task("probe", recipe, checkpoint, data, out, overrides)


def finetune(
    recipe: str | Path | None = None,
    checkpoint: str | Path | None = None,
    data: DataArgument = None,
    *,
    out: str | Path | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """Fine-tune the encoder and a head; returns the results like :func:`probe`."""
    from .downstream.run import run_task

    return run_task("finetune", recipe, checkpoint, data, out, overrides)


def export(checkpoint: str | Path, out: str | Path, encoder: Which = "target") -> Path:
    """Write a checkpoint's encoder (or a run folder's) as ``encoder.safetensors`` + ``config.json``; returns ``out``.

    Args:
        checkpoint: A pretraining checkpoint or run folder.
        out: The folder to write (must not exist or be empty).
        encoder: ``target`` (the EMA teacher; the encoder itself without one) or ``context`` (the student).
    """
    from .downstream.pretrained import export_encoder

    return export_encoder(checkpoint, out, encoder)
