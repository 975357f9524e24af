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

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from .config import deep_merge
from .errors import JepaError

if TYPE_CHECKING:
    from .downstream.config import Which
    from .pretrain.config import Recipe
    from .pretrain.run import RunSummary

DataArgument = Union[str, Path, Sequence[Union[str, Path]], Mapping[str, Any], None]
"""A raw data file or folder, several of them, or a mapping of ``data`` recipe keys (``{"path": ..., ...}``)."""

RUNS = Path("runs")
"""Where runs go by default: ``runs/`` under the current folder, which also holds the MLflow store."""


def recipe_overrides(overrides: dict[str, Any], data: DataArgument = None) -> dict[str, Any]:
    """Nested recipe overrides from keyword arguments: dotted keys are split; ``data`` is ``data.path`` (one
    path or several), or a mapping of ``data`` keys."""
    nested: dict[str, Any] = {}
    for key, value in overrides.items():
        for name in reversed(key.split(".")):
            value = {name: value}
        nested = deep_merge(nested, value)
    if isinstance(data, Mapping):
        return deep_merge(nested, {"data": dict(data)})
    if isinstance(data, (list, tuple)):
        paths = [str(path) for path in data]
        return deep_merge(nested, {"data": {"path": paths[0] if len(paths) == 1 else paths}})
    if data is not None:
        return deep_merge(nested, {"data": {"path": str(data)}})
    return nested


def pretrain_recipe(
    domain: str | None = None,
    data: DataArgument = None,
    recipe: str | Path | None = None,
    resume_from: str | Path | None = None,
    **overrides: Any,
) -> Recipe:
    """The resolved pretraining recipe (what ``pretrain --print-config`` prints); no training, no torch."""
    from .config import read_yaml
    from .pretrain.config import resolve_recipe
    from .runs.folder import CONFIG_FILE

    base = None
    if resume_from is not None:
        saved = Path(resume_from) / CONFIG_FILE
        if not saved.is_file():
            raise JepaError(f"resume: {saved} does not exist; nothing to resume in {resume_from}")
        base = read_yaml(saved)
    return resolve_recipe(domain, recipe, recipe_overrides(overrides, data), base=base)


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
    from .pretrain.run import pretrain as run_pretrain

    if resume and out is None:
        raise JepaError("resume needs out pointing at the run to continue")
    resolved = pretrain_recipe(domain, data, recipe, resume_from=out if resume else None, **overrides)
    folder = Path(out) if out is not None else RUNS / f"{resolved.domain}-{datetime.now():%Y%m%d-%H%M%S}"
    return run_pretrain(resolved, folder, resume=resume)


def _downstream(
    mode: str, recipe: str | Path | None, checkpoint: str | Path | None, data: DataArgument,
    out: str | Path | None, overrides: dict[str, Any],
) -> dict[str, Any]:
    from .downstream.config import resolve_downstream
    from .downstream.run import run_downstream

    resolved, pretrained = resolve_downstream(recipe, recipe_overrides(overrides, data), checkpoint)
    init = "pretrained" if pretrained else "random"
    stamp = f"{datetime.now():%Y%m%d-%H%M%S}"
    folder = Path(out) if out is not None else RUNS / f"{resolved.domain}-{resolved.task.name}-{mode}-{init}-{stamp}"
    return run_downstream(resolved, mode, pretrained, folder)  # type: ignore[arg-type]


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
    return _downstream("probe", recipe, checkpoint, data, out, overrides)


def finetune(
    recipe: str | Path | None = None,
    checkpoint: str | Path | None = None,
    data: DataArgument = None,
    *,
    out: str | Path | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """Fine-tune the encoder and a head; returns the results like :func:`probe`."""
    return _downstream("finetune", recipe, checkpoint, data, out, overrides)


def export(checkpoint: str | Path, out: str | Path, encoder: Which = "target") -> Path:
    """Write a checkpoint's encoder (or a run folder's) as ``encoder.safetensors`` + ``config.json``; returns ``out``.

    Args:
        checkpoint: A pretraining checkpoint or run folder.
        out: The folder to write (must not exist or be empty).
        encoder: ``target`` (the EMA teacher; the encoder itself without one) or ``context`` (the student).
    """
    from .downstream.pretrained import export_encoder

    return export_encoder(checkpoint, out, encoder)
