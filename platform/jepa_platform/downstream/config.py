"""Downstream recipes: the labelled task, the probe and fine-tune settings, and the encoder's origin.

Layers, later ones winning: built-in defaults < the ``--recipe`` file <
command-line overrides. The encoder's architecture and preprocessing
(``model``, ``data``) come from the checkpoint, except ``model.pooling`` and
``data.path``, which a recipe may set; without one they are resolved
as ``pretrain`` resolves them (domain defaults, demo settings without a data
path, then the recipe's ``model`` and ``data`` keys), so a random-init baseline
has the architecture pretraining builds for the same data.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, NonNegativeFloat, PositiveFloat, PositiveInt, model_validator

from ..config import Section, deep_merge, read_yaml, validate, with_sections
from ..domain.contract import DomainPlugin, TaskConfig
from ..domain.registry import load_domain
from ..errors import JepaError
from ..pretrain.config import DomainRecipe, resolve_recipe
from .choices import HeadKind, Which

if TYPE_CHECKING:
    from .pretrained import Pretrained



Mode = Literal["probe", "finetune"]


class ProbeConfig(Section):
    """Training of a head on the frozen encoder. Defaults follow ECG-JEPA's linear evaluation
    (attentive pooling, constant learning rate 1e-3, weight decay 0.1, gradient clipping 1)."""

    head: HeadKind = "attentive"
    lr: float = 1e-3
    final_lr: float = 1e-3
    warmup_epochs: int = 0
    weight_decay: float = 0.1
    max_epochs: int = 40
    patience: int = 10
    grad_clip: float | None = 1.0

    @model_validator(mode="after")
    def _check(self) -> "ProbeConfig":
        if self.lr <= 0 or self.final_lr < 0 or self.weight_decay < 0:
            raise ValueError("lr must be positive, final_lr and weight_decay non-negative")
        if self.max_epochs < 1 or self.patience < 1 or not 0 <= self.warmup_epochs < self.max_epochs:
            raise ValueError("need max_epochs >= 1, patience >= 1 and 0 <= warmup_epochs < max_epochs")
        return self


class FinetuneConfig(ProbeConfig):
    """Training of the whole encoder and a head, with layer-wise learning-rate decay.

    Block ``i`` of ``depth`` learns at ``lr * layer_decay ** (depth - i)``; the
    tokenizer at ``lr * layer_decay ** (depth + 1)``; the head at ``lr``.
    ``head_from`` starts the head from a probe run of the same task and head.
    """

    lr: float = 1e-3
    final_lr: float = 1e-5
    """A cosine from ``lr`` after the warmup epochs."""
    warmup_epochs: int = 2
    weight_decay: float = 0.01
    max_epochs: int = 75
    patience: int = 15
    grad_clip: float | None = None
    layer_decay: float = 0.75
    drop_path: float = 0.05
    head_from: str | None = None

    @model_validator(mode="after")
    def _check_decay(self) -> "FinetuneConfig":
        if not 0 < self.layer_decay <= 1 or not 0 <= self.drop_path < 1:
            raise ValueError("need 0 < layer_decay <= 1 and 0 <= drop_path < 1")
        return self


class BaselineConfig(Section):
    """scikit-learn's HistGradientBoosting on the raw columns (``jepa-platform baseline``): it fits
    the training split and stops adding trees when the validation loss stalls for ``patience`` trees."""

    learning_rate: PositiveFloat = 0.1
    max_iter: PositiveInt = 1000
    max_leaf_nodes: int = Field(31, ge=2)
    min_samples_leaf: PositiveInt = 20
    l2_regularization: NonNegativeFloat = 0.0
    patience: PositiveInt = 20


class DownstreamTrainerConfig(Section):
    """Loader and Lightning trainer settings (one device)."""

    batch_size: int = 64
    num_workers: int = 2
    precision: Literal["32-true", "bf16-mixed", "16-mixed"] = "32-true"
    accelerator: str = "auto"
    log_every_n_steps: int = 10
    """Training steps between logged points; at least one point per epoch whatever the epoch's length."""
    log_checkpoint: bool = False
    """Also store the best checkpoint in the MLflow run's artifacts."""

    @model_validator(mode="after")
    def _check(self) -> "DownstreamTrainerConfig":
        if self.batch_size < 1 or self.num_workers < 0 or self.log_every_n_steps < 1:
            raise ValueError("need batch_size >= 1, num_workers >= 0 and log_every_n_steps >= 1")
        return self


class DownstreamRecipe(DomainRecipe):
    """A whole downstream recipe; ``task`` and ``data`` are replaced by the domain's section models."""

    encoder: Which = "target"
    task: TaskConfig
    probe: ProbeConfig = ProbeConfig()
    finetune: FinetuneConfig = FinetuneConfig()
    baseline: BaselineConfig = BaselineConfig()
    trainer: DownstreamTrainerConfig = DownstreamTrainerConfig()

    def stage(self, mode: Mode) -> ProbeConfig:
        return self.probe if mode == "probe" else self.finetune


def downstream_model(plugin: DomainPlugin) -> type[DownstreamRecipe]:
    """The :class:`DownstreamRecipe` model with the plugin's ``task`` and ``data`` sections."""
    return with_sections(DownstreamRecipe, plugin.name, task=plugin.task_config, data=plugin.data_config)


def _section(upper: dict[str, Any], key: str) -> dict[str, Any]:
    value = upper.get(key) or {}
    if not isinstance(value, dict):
        raise JepaError(f"recipe key '{key}' must be a mapping of keys, got {value!r}")
    return value


def resolve_downstream(
    recipe_file: str | Path | None, overrides: dict[str, Any], checkpoint: str | Path | None
) -> tuple[DownstreamRecipe, Pretrained | None]:
    """Merge the layers of the module docstring, take ``model``/``data`` from the checkpoint, and validate.

    Args:
        recipe_file: The ``--recipe`` YAML file.
        overrides: Nested command-line overrides.
        checkpoint: A pretraining checkpoint or exported encoder folder; ``None`` for random init.

    Returns:
        The recipe, and the encoder it names in the checkpoint (``None`` without one).

    Raises:
        JepaError: The checkpoint is of another domain than the recipe, the recipe
            sets the architecture of a checkpoint (any ``model`` key but ``pooling``), or a key is unknown
            or invalid.
    """
    upper = deep_merge(read_yaml(recipe_file) if recipe_file else {}, overrides)
    domain = upper.get("domain")
    which = upper.get("encoder", "target")
    if which not in ("target", "context"):
        raise JepaError(f"recipe key 'encoder': must be 'target' or 'context' (got {which!r})")
    pretrained = None
    if checkpoint is not None:
        from .pretrained import read_pretrained

        pretrained = read_pretrained(checkpoint, which)
    model_keys, data_keys = _section(upper, "model"), _section(upper, "data")
    if pretrained is not None:
        if domain and domain != pretrained.domain:
            raise JepaError(
                f"{pretrained.source} was pretrained on domain '{pretrained.domain}', "
                f"but the recipe is for domain '{domain}'"
            )
        fixed = [f"model.{key}" for key in model_keys if key != "pooling"]
        fixed += [f"data.{key}" for key in data_keys if key != "path"]
        if fixed:
            raise JepaError(
                f"recipe key '{fixed[0]}' cannot be set with --checkpoint: "
                "the encoder's architecture and preprocessing come from the checkpoint"
            )
        domain = pretrained.domain
        architecture = {"model": {**pretrained.model, **model_keys}, "data": {**pretrained.data, **data_keys}}
    else:
        if not domain:
            raise JepaError("no domain given: set 'domain:' in the recipe or pass --checkpoint")
        pretraining = resolve_recipe(str(domain), None, {"model": model_keys, "data": data_keys}).to_dict()
        architecture = {"model": pretraining["model"], "data": pretraining["data"]}
    schema = downstream_model(load_domain(str(domain)))
    return validate(schema, {**upper, "domain": domain, **architecture}), pretrained
