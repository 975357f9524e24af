"""The pretraining recipe: its sections, and how its layers resolve into one validated recipe.

A recipe is resolved from layers, later ones winning:
core defaults < domain defaults < demo settings (only without a data path: the core's
small CPU model, then the domain's demo settings) or
the data settings of prepared shards (a data path holding a shard manifest)
< the ``--recipe`` file < command-line overrides (``--model.depth 4``).
Then the domain fills in the settings it derives from the data itself
(:meth:`~jepa_platform.domain.DomainPlugin.resolve_data`), and the recipe is final.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import PositiveInt, model_validator

from ..config import DataArgument, Section, deep_merge, read_yaml, recipe_overrides, validate, with_sections
from ..domain.contract import DataConfig, DomainPlugin, cache_dir
from ..domain.registry import load_domain
from ..errors import JepaError
from ..masking import MaskingConfig, SpanMaskingConfig, strategy_of
from ..model import ModelConfig
from ..objectives import ObjectiveConfig


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
    num_workers: int | Literal["auto"] = "auto"
    """Loader worker processes per training process; ``auto``: this node's CPU cores shared among its
    training processes, one core each left to the process itself (see :func:`~..runs.folder.auto_workers`)."""
    precision: Literal["32-true", "bf16-mixed", "16-mixed", "bf16-true"] = "32-true"
    accelerator: str = "auto"
    devices: int | str = "auto"
    strategy: str = "auto"
    num_nodes: int = 1
    log_every_n_steps: int = 10
    checkpoint_every_n_steps: int = 100
    nonfinite_loss_skips: int = 0
    """Steps with a NaN/Inf loss skipped (no update) before the run stops; 0 stops at the first."""
    val_every_n_steps: int | None = None
    limit_val_batches: int | float = 1.0
    log_checkpoint: bool = False
    """Also store the last checkpoint in the MLflow run's artifacts when training ends."""
    compile: bool | Literal["auto"] = "auto"
    """``torch.compile`` the transformer stacks (encoder, predictor, teacher); ``auto``: on CUDA only."""
    compile_mode: Literal["default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"] = (
        "max-autotune-no-cudagraphs"
    )
    """``torch.compile``'s mode on CUDA (the CPU compiles in the default mode); ``reduce-overhead`` adds CUDA graphs
    (best with ``masking.size_buckets``)."""

    @model_validator(mode="after")
    def _check(self) -> "TrainerConfig":
        for key in ("max_steps", "batch_size", "log_every_n_steps", "checkpoint_every_n_steps", "num_nodes"):
            if getattr(self, key) < 1:
                raise ValueError(f"{key} must be at least 1")
        if (self.num_workers != "auto" and self.num_workers < 0) or self.nonfinite_loss_skips < 0:
            raise ValueError("num_workers and nonfinite_loss_skips must be at least 0")
        return self


class MonitorConfig(Section):
    """The ``monitor`` recipe section."""

    every_n_steps: PositiveInt = 50
    samples: int = 512
    """Training samples the monitor encodes (RankMe, the alarm, the probe's training set) and validation
    samples the probe is scored on, each drawn once per run."""
    probe: bool = True
    probe_lr: float = 1e-2
    probe_steps: PositiveInt = 300
    """Full-batch AdamW steps of each fit of the linear probe."""
    random_init: bool = True
    """Score a random-init encoder of the same architecture and seed beside the trained one."""
    other_poolings: bool = True
    """When training ends, also fit the probe on the tokens pooled the other ways (``model.pooling``)."""
    token_samples: int = 32
    """Samples whose token embeddings (every valid token) give ``monitor/rankme_tokens``."""
    lidar_samples: int = 128
    lidar_views: int = 4
    """LiDAR's surrogate classes (and view retrieval's samples): ``lidar_samples`` samples, each seen through
    ``lidar_views`` context masks."""
    collapse_ratio: float = 0.25
    collapse_after_steps: int = 100
    stop_on_collapse: bool = False

    @model_validator(mode="after")
    def _check(self) -> "MonitorConfig":
        if self.samples < 2 or self.probe_lr <= 0:
            raise ValueError("need samples >= 2 and probe_lr > 0")
        if self.token_samples < 1 or self.lidar_samples < 2 or self.lidar_views < 2:
            raise ValueError("need token_samples >= 1, lidar_samples >= 2 and lidar_views >= 2")
        if not 0.0 < self.collapse_ratio < 1.0:
            raise ValueError(f"collapse_ratio must lie in (0, 1), got {self.collapse_ratio}")
        return self


class DomainRecipe(Section):
    """What every recipe holds: the domain, the seed, the encoder's size and the domain's ``data`` section."""

    domain: str
    seed: int = 0
    model: ModelConfig = ModelConfig()
    data: DataConfig = DataConfig()


class Recipe(DomainRecipe):
    """A whole pretraining recipe; ``data`` is replaced by the domain's own section model."""

    masking: MaskingConfig = SpanMaskingConfig()
    objective: ObjectiveConfig = ObjectiveConfig()
    optim: OptimConfig = OptimConfig()
    trainer: TrainerConfig = TrainerConfig()
    monitor: MonitorConfig = MonitorConfig()


DEMO_DEFAULTS: dict[str, Any] = {
    "model": {"preset": "vit_tiny", "depth": 4, "predictor_depth": 2},
    "optim": {"lr": 1e-3, "start_lr": 1e-4, "warmup_fraction": 0.05},
    "trainer": {"max_steps": 300, "batch_size": 32, "num_workers": 0, "checkpoint_every_n_steps": 100},
}
"""Settings of every domain's demo (no data path), below the domain's own demo settings: a small ViT
that pretrains in minutes on a laptop's CPU."""


def recipe_model(plugin: DomainPlugin) -> type[Recipe]:
    """The :class:`Recipe` model whose ``data`` section is the plugin's (one class per domain)."""
    return with_sections(Recipe, plugin.name, data=plugin.data_config)


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


def prepared_data(path: str | list[str]) -> dict[str, Any]:
    """The ``data`` settings shards at ``path`` were prepared with, as a recipe layer; empty for raw data
    (a list of paths is raw data: shards are one folder)."""
    from ..data.shards import read_manifest

    manifest = read_manifest(path) if isinstance(path, str) else None
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
        layers[1:1] = [DEMO_DEFAULTS, plugin.demo_recipe()] if path is None else [prepared_data(path)]
    merged: dict[str, Any] = {}
    for layer in layers:
        merged = merge_layer(merged, layer)
    recipe = validate(recipe_model(plugin), merged)
    if recipe.data.on_bad_file == "skip" and not plugin.skips_bad_files:
        raise JepaError(f"recipe key 'data.on_bad_file': domain '{plugin.name}' cannot skip unreadable files; "
                        "use 'fail' (the default)")
    resolved = plugin.resolve_data(recipe.data, cache_dir())
    return recipe if resolved is recipe.data else recipe.model_copy(update={"data": resolved})


def pretrain_recipe(
    domain: str | None = None,
    data: DataArgument = None,
    recipe: str | Path | None = None,
    resume_from: str | Path | None = None,
    **overrides: Any,
) -> Recipe:
    """The resolved pretraining recipe (what ``pretrain --print-config`` prints); no training, no torch."""
    from ..runs.folder import CONFIG_FILE

    base = None
    if resume_from is not None:
        saved = Path(resume_from) / CONFIG_FILE
        if not saved.is_file():
            raise JepaError(f"resume: {saved} does not exist; nothing to resume in {resume_from}")
        base = read_yaml(saved)
    return resolve_recipe(domain, recipe, recipe_overrides(overrides, data), base=base)
