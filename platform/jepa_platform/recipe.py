"""Recipes: YAML files of typed, validated settings, every key overridable from the command line.

A recipe is resolved from layers, later ones winning:
core defaults < domain defaults < demo settings (only without a data path) or
the data settings of prepared shards (a data path holding a shard manifest)
< the ``--recipe`` file < command-line overrides (``--model.depth 4``).
"""

from __future__ import annotations

import difflib
import re
from functools import cache
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, Tag, ValidationError, create_model, model_validator

from .errors import JepaError
from .masking import MaskingConfig, SpanMaskingConfig, strategy_of
from .monitor import MonitorConfig
from .network import ModelConfig
from .plugin import DataConfig, DomainPlugin
from .registry import load_domain
from .schema import Section
from .sigreg import SIGRegConfig

_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


class ObjectiveConfig(Section):
    """What the predictor regresses, and what keeps the embeddings from collapsing.

    ``ema``: the layer-normed embeddings of an EMA teacher (momentum rising
    linearly from start to end). ``sigreg``: the embeddings of the same encoder
    on the whole input, with no teacher, stop-gradient or schedule; the loss is
    ``(1 - lambda) * prediction + lambda * SIGReg`` (``sigreg.weight`` is lambda).

    ``target`` says what the masked tokens regress: ``latent`` (the embeddings
    above), ``domain`` (the domain plugin's target function, e.g. SAR gradient
    features, computed from the raw input; with ``kind: ema`` there is then no
    teacher) or ``both``: the prediction loss is the latent loss plus
    ``domain_weight`` times the domain loss.
    """

    kind: Literal["ema", "sigreg"] = "ema"
    target: Literal["latent", "domain", "both"] = "latent"
    domain_weight: float = 1.0
    ema_momentum: tuple[float, float] = (0.996, 1.0)
    loss: Literal["l1", "smooth_l1", "mse"] = "smooth_l1"
    sigreg: SIGRegConfig = SIGRegConfig()

    @model_validator(mode="after")
    def _check(self) -> "ObjectiveConfig":
        if not all(0.0 <= m <= 1.0 for m in self.ema_momentum):
            raise ValueError(f"ema_momentum values must lie in [0, 1], got {self.ema_momentum}")
        if self.domain_weight < 0:
            raise ValueError(f"domain_weight must be non-negative, got {self.domain_weight}")
        return self

    @property
    def latent(self) -> bool:
        """Whether latent (embedding) targets are regressed."""
        return self.target != "domain"

    @property
    def domain(self) -> bool:
        """Whether the domain's target function is regressed."""
        return self.target != "latent"

    @property
    def full_pass(self) -> bool:
        """Whether a step encodes the whole input: for latent targets, or for SIGReg to test its embeddings."""
        return self.latent or self.kind == "sigreg"


class OptimConfig(Section):
    """AdamW with linear warmup then cosine decay; weight decay on a cosine from start to end."""

    lr: float = 1e-3
    start_lr: float = 2e-4
    final_lr: float = 1e-6
    warmup_fraction: float = 0.1
    weight_decay: tuple[float, float] = (0.04, 0.4)
    betas: tuple[float, float] = (0.9, 0.999)
    grad_clip: float | None = 1.0

    @model_validator(mode="after")
    def _check(self) -> "OptimConfig":
        if not 0.0 <= self.warmup_fraction < 1.0:
            raise ValueError(f"warmup_fraction must lie in [0, 1), got {self.warmup_fraction}")
        if self.lr <= 0 or min(self.start_lr, self.final_lr) < 0:
            raise ValueError("lr must be positive, start_lr and final_lr non-negative")
        return self


class TrainerConfig(Section):
    """Lightning trainer settings and the loader's batch size and workers."""

    max_steps: int = 1000
    batch_size: int = 64
    num_workers: int = 2
    precision: Literal["32-true", "bf16-mixed", "16-mixed", "bf16-true"] = "32-true"
    accelerator: str = "auto"
    devices: int | str = "auto"
    strategy: str = "auto"
    num_nodes: int = 1
    log_every_n_steps: int = 10
    checkpoint_every_n_steps: int = 100
    val_every_n_steps: int | None = None
    limit_val_batches: int | float = 1.0

    @model_validator(mode="after")
    def _check(self) -> "TrainerConfig":
        for key in ("max_steps", "batch_size", "log_every_n_steps", "checkpoint_every_n_steps", "num_nodes"):
            if getattr(self, key) < 1:
                raise ValueError(f"{key} must be at least 1")
        if self.num_workers < 0:
            raise ValueError("num_workers must be at least 0")
        return self


class Recipe(Section):
    """A whole pretraining recipe; ``data`` is replaced by the domain's own section model."""

    domain: str
    seed: int = 0
    model: ModelConfig = ModelConfig()
    masking: MaskingConfig = SpanMaskingConfig()
    objective: ObjectiveConfig = ObjectiveConfig()
    optim: OptimConfig = OptimConfig()
    trainer: TrainerConfig = TrainerConfig()
    monitor: MonitorConfig = MonitorConfig()
    data: DataConfig = DataConfig()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-compatible values (tuples become lists)."""
        return self.model_dump(mode="json")

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


@cache
def _recipe_model_for(name: str, data_config: type[DataConfig]) -> type[Recipe]:
    return create_model(f"Recipe_{name}", __base__=Recipe, data=(data_config, data_config()))


def recipe_model(plugin: DomainPlugin) -> type[Recipe]:
    """The :class:`Recipe` model whose ``data`` section is the plugin's (one class per domain)."""
    return _recipe_model_for(plugin.name, plugin.data_config)


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``override`` merged in, nested mappings merged key by key."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def read_yaml(path: str | Path) -> dict[str, Any]:
    """A YAML mapping read with the safe loader; clear errors for a missing or malformed file."""
    path = Path(path)
    if not path.is_file():
        raise JepaError(f"recipe file {path} does not exist")
    try:
        content = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise JepaError(f"recipe file {path} is not valid YAML: {exc}") from exc
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise JepaError(f"recipe file {path} must hold a mapping of keys, not {type(content).__name__}")
    return content


def parse_overrides(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """``[("model.depth", "4")]`` -> ``{"model": {"depth": 4}}``; values are parsed as YAML scalars/lists."""
    tree: dict[str, Any] = {}
    for dotted, text in pairs:
        try:
            value = yaml.safe_load(text) if text != "" else ""
        except yaml.YAMLError:
            value = text
        if isinstance(value, str) and _FLOAT.fullmatch(value):
            value = float(value)  # YAML 1.1 reads "5e-4" as a string
        node = tree
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise JepaError(f"override --{dotted} conflicts with another override of '{part}'")
        node[leaf] = value
    return tree


def merge_layer(lower: dict[str, Any], upper: dict[str, Any]) -> dict[str, Any]:
    """:func:`deep_merge`, except that a ``masking`` section naming another strategy replaces the one below.

    Each masking strategy has its own keys, so ``--masking.strategy multiblock``
    drops the span keys a domain's defaults set.
    """
    masking = upper.get("masking")
    if isinstance(masking, dict) and "strategy" in masking:
        if masking["strategy"] != strategy_of(lower.get("masking") or {}):
            lower = {key: value for key, value in lower.items() if key != "masking"}
    return deep_merge(lower, upper)


def sections(annotation: Any) -> dict[str | None, type[BaseModel]]:
    """The recipe sections a field holds: ``{None: model}`` (also in a list), or ``{tag: model}`` for a tagged union."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {None: annotation}
    if get_origin(annotation) is list:
        return sections(get_args(annotation)[0])
    if get_origin(annotation) is Annotated:
        model, *metadata = get_args(annotation)
        tags = [item.tag for item in metadata if isinstance(item, Tag)]
        return {tags[0]: model} if tags and isinstance(model, type) else sections(model)
    if get_origin(annotation) in (Union, UnionType):
        return {tag: model for member in get_args(annotation) for tag, model in sections(member).items()}
    return {}


def known_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every dotted key a recipe model accepts (the keys of every strategy of a tagged union)."""
    keys = []
    for name, field in model.model_fields.items():
        dotted = f"{prefix}{name}"
        keys.append(dotted)
        for section in sections(field.annotation).values():
            keys.extend(known_keys(section, dotted + "."))
    return list(dict.fromkeys(keys))


def recipe_key(loc: tuple[str | int, ...], model: type[BaseModel]) -> tuple[str, str | None]:
    """The dotted recipe key of a validation error's location, and the tag of the union member it is in."""
    parts: list[str] = []
    inside: dict[str | None, type[BaseModel]] = {None: model}
    tag = None
    for part in loc:
        if isinstance(part, int):
            continue
        if part in inside:  # the tag of the union member that was validated
            inside, tag = {None: inside[part]}, part
            continue
        parts.append(part)
        field = next((m.model_fields[part] for m in inside.values() if part in m.model_fields), None)
        inside = sections(field.annotation) if field is not None else {}
    return ".".join(parts) or "(recipe)", tag


def explain(error: ValidationError, model: type[BaseModel]) -> str:
    """One readable line per problem, naming the recipe key."""
    keys = known_keys(model)
    lines = []
    for problem in error.errors():
        key, tag = recipe_key(problem["loc"], model)
        if problem["type"] == "extra_forbidden" and tag is not None and key in keys:
            lines.append(f"recipe key '{key}' does not apply to '{tag}'")
        elif problem["type"] == "extra_forbidden":
            hint = difflib.get_close_matches(key, keys, n=1)
            lines.append(f"unknown recipe key '{key}'" + (f" (did you mean '{hint[0]}'?)" if hint else ""))
        else:
            message = problem["msg"].removeprefix("Value error, ")
            lines.append(f"recipe key '{key}': {message} (got {problem.get('input')!r})")
    return "; ".join(lines)


def prepared_data(path: str) -> dict[str, Any]:
    """The ``data`` settings shards at ``path`` were prepared with, as a recipe layer; empty for raw data."""
    from .shards import read_manifest

    manifest = read_manifest(path)
    if manifest is None:
        return {}
    return {"data": {key: value for key, value in manifest["data"].items() if key != "path"}}


def resolve_recipe(
    domain: str | None = None,
    recipe_file: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
    base: dict[str, Any] | None = None,
) -> Recipe:
    """Merge the layers described in the module docstring and validate the result.

    Args:
        domain: ``--domain``; falls back to the recipe's ``domain`` key.
        recipe_file: Optional ``--recipe`` YAML file.
        overrides: Nested overrides from the command line.
        base: A saved resolved recipe (``--resume``) used in place of the defaults.
    """
    from_file = read_yaml(recipe_file) if recipe_file else {}
    upper = merge_layer(from_file, overrides or {})
    if domain:
        upper["domain"] = domain
    name = upper.get("domain") or (base or {}).get("domain")
    if not name:
        raise JepaError("no domain given: pass --domain NAME or set 'domain:' in the recipe")
    plugin = load_domain(str(name))
    if base is not None:
        layers = [base, upper]
    else:
        layers = [plugin.default_recipe(), upper]
        path = deep_merge(*layers).get("data", {}).get("path")
        layers.insert(1, plugin.demo_recipe() if path is None else prepared_data(str(path)))
    merged: dict[str, Any] = {}
    for layer in layers:
        merged = merge_layer(merged, layer)
    model = recipe_model(plugin)
    try:
        return model.model_validate(merged)
    except ValidationError as exc:
        raise JepaError(explain(exc, model)) from None
