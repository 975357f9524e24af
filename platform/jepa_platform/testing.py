"""The plugin contract as a test: what every domain, built-in or third-party, must do for the core.

A plugin's own test suite calls it with settings that keep its demo data small::

    from jepa_platform.testing import check_domain

    def test_my_domain_keeps_the_contract():
        check_domain("audio", {"data": {"demo_clips": 16}})

Each check raises an ``AssertionError`` that says which part of the contract
failed: the plugin's declarations, a light entry-point module (no heavy
library imported by it), its recipes, its demo data and datasets,
the samples and batches, the tokenizer's grid and validity, the labels the
linear probe reads, and one JEPA step on a real batch (finite loss, gradients
reach the tokenizer).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import torch
from torch.utils.data import DataLoader

from .config import deep_merge
from .domain import DataConfig, DomainPlugin, TaskConfig, cache_dir, load_domain, registry
from .domain.tokens import Tokenizer
from .pretrain.config import Recipe, resolve_recipe
from .pretrain.module import JEPAModule

TINY_MODEL = {"preset": "vit_tiny", "depth": 1, "predictor_depth": 1}
HEAVY_MODULES = ("torch", "lightning", "mlflow", "matplotlib", "pandas")
"""Libraries a plugin's entry-point module must not import: ``jepa-platform domains list`` imports every plugin's."""


def check_declarations(plugin: DomainPlugin) -> None:
    """Name, description and the section models of the plugin."""
    assert isinstance(plugin.name, str) and plugin.name, "the plugin needs a name"
    assert isinstance(plugin.description, str) and plugin.description, f"{plugin.name}: the plugin needs a description"
    assert issubclass(plugin.data_config, DataConfig), f"{plugin.name}: data_config must subclass DataConfig"
    assert issubclass(plugin.task_config, TaskConfig), f"{plugin.name}: task_config must subclass TaskConfig"
    plugin.data_config()  # every data key has a default: a recipe may leave the section out


def check_light_entry_point(module: str) -> None:
    """Importing the entry-point ``module`` in a fresh interpreter imports none of :data:`HEAVY_MODULES`."""
    code = f"import json, sys, {module}; print(json.dumps([m for m in {list(HEAVY_MODULES)!r} if m in sys.modules]))"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, f"importing {module} failed: {done.stderr[-2000:]}"
    heavy = json.loads(done.stdout.strip().splitlines()[-1])
    assert not heavy, (
        f"importing the entry-point module {module} imports {', '.join(heavy)}: import heavy libraries inside the "
        "plugin's methods (or modules they import), so that listing domains stays fast"
    )


def check_tokenizer(tokenizer: Tokenizer, batch: Any, batch_size: int, embed_dim: int) -> None:
    """The tokens of ``batch`` lie on the tokenizer's grid; its validity mask has their shape."""
    grid = tokenizer.grid
    tokens = tokenizer(batch)
    expected = (batch_size, grid.num_tokens, embed_dim)
    assert tuple(tokens.tokens.shape) == expected, f"tokens {tuple(tokens.tokens.shape)}, expected {expected}"
    assert torch.isfinite(tokens.tokens).all(), "the tokenizer gave non-finite tokens"
    valid = tokenizer.valid_mask(batch)
    for mask in (valid, tokens.valid):
        if mask is not None:
            assert mask.dtype == torch.bool and tuple(mask.shape) == expected[:2], "validity must be B × N bool"
            assert mask.any(dim=1).all(), "a sample has no valid token"


def check_labels(recipe: Recipe, batch: Any, labels: Any) -> None:
    """Samples carry the ``label`` their :class:`~jepa_platform.domain.LabelSpec` describes."""
    if labels is None:
        return
    assert isinstance(batch, dict) and "label" in batch, "DatasetSplits.labels is set, but samples have no 'label'"
    label = batch["label"]
    if labels.multilabel:
        assert label.shape[1:] == (len(labels.names),), f"multi-hot labels of {len(labels.names)} classes expected"
    elif not labels.regression:
        assert label.dtype == torch.int64 and int(label.max()) < len(labels.names), "class indices expected"


def check_step(recipe: Recipe, batch: Any) -> None:
    """One JEPA step on ``batch``: a finite loss whose gradient reaches the tokenizer."""
    torch.manual_seed(recipe.seed)
    module = JEPAModule(recipe.to_dict())
    batch, valid, masks = module.prepare_batch(batch, seed=0)
    result = module.jepa_loss(batch, valid, masks)
    assert torch.isfinite(result.loss), f"the JEPA loss is {float(result.loss)}"
    result.loss.backward()
    grads = [p.grad for p in module.encoder.tokenizer.parameters() if p.requires_grad]
    assert any(g is not None and g.abs().sum() > 0 for g in grads), "no gradient reaches the tokenizer"


def check_domain(name: str, overrides: dict[str, Any] | None = None, batch_size: int = 4) -> None:
    """Run every check of this module on the installed domain ``name`` and its demo data.

    Args:
        name: The domain's ``--domain`` name.
        overrides: Recipe keys that keep the demo small (e.g. the number of demo records).
        batch_size: Samples in the checked batch.
    """
    plugin = load_domain(name)
    check_declarations(plugin)
    check_light_entry_point(registry.domain_entry_points()[name].module)
    recipe = resolve_recipe(name, overrides=deep_merge({"model": TINY_MODEL}, overrides or {}))
    root = plugin.ensure_data(recipe.data, cache_dir())
    assert root.exists(), f"{name}: the demo data was not written to {root}"
    splits = plugin.build_datasets(root, recipe.data)
    assert len(splits.train) >= batch_size, f"{name}: the demo's training set has {len(splits.train)} samples"
    batch = next(iter(DataLoader(splits.train, batch_size=batch_size)))
    tokenizer = plugin.build_tokenizer(recipe.data, recipe.model.embed_dim)
    check_tokenizer(tokenizer, batch, batch_size, recipe.model.embed_dim)
    check_labels(recipe, batch, splits.labels)
    check_step(recipe, batch)
