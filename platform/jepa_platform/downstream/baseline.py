"""``baseline``: gradient-boosted trees on a task's raw columns, the bar an encoder's head has to clear.

The domain supplies the raw columns of the downstream task's own train / val /
test examples (:meth:`DomainPlugin.baseline_data`). scikit-learn's
HistGradientBoosting fits the training split, stops on the validation loss and
is scored on the test split with the same metrics as ``probe`` and ``finetune``,
once per seed (the seed only matters where scikit-learn subsamples: binning more
than 200,000 rows; below that the seeds agree). The run folder holds ``config.yaml``, ``results.json`` and
``result.md``, which ``jepa-platform report`` reads beside probe and fine-tune runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..domain.contract import BaselineData, LabelSpec, cache_dir
from ..domain.registry import load_domain
from ..errors import JepaError
from ..runs.atomic import atomic_write_text
from ..runs.folder import CONFIG_FILE, refuse_existing
from .config import BaselineConfig, DownstreamRecipe
from .metrics import evaluate
from .results import RESULTS_FILE, ROW_FILE, markdown_row
from .run import check_metric

METHOD = "HistGradientBoosting (raw columns)"


def fit_trees(raw: BaselineData, labels: LabelSpec, cfg: BaselineConfig, seed: int) -> Any:
    """A HistGradientBoosting classifier or regressor fitted on ``train``, early-stopped on ``val``."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    kind = HistGradientBoostingRegressor if labels.regression else HistGradientBoostingClassifier
    trees = kind(
        learning_rate=cfg.learning_rate, max_iter=cfg.max_iter, max_leaf_nodes=cfg.max_leaf_nodes,
        min_samples_leaf=cfg.min_samples_leaf, l2_regularization=cfg.l2_regularization,
        early_stopping=True, n_iter_no_change=cfg.patience, categorical_features=raw.categorical,
        random_state=seed,
    )
    try:
        return trees.fit(raw.features["train"], raw.labels["train"], X_val=raw.features["val"], y_val=raw.labels["val"])
    except ValueError as exc:
        raise JepaError(f"HistGradientBoosting cannot fit the training split: {exc}") from None


def predictions(trees: Any, features: np.ndarray, labels: LabelSpec) -> torch.Tensor:
    """Regression: ``E × 1`` predictions; classification: ``E × C`` log-probabilities over every class of the task."""
    if labels.regression:
        return torch.from_numpy(trees.predict(features).astype(np.float64)).reshape(-1, 1)
    logits = torch.full((len(features), len(labels.names)), -torch.inf, dtype=torch.float64)
    with np.errstate(divide="ignore"):
        logits[:, torch.from_numpy(trees.classes_.astype(np.int64))] = torch.from_numpy(
            np.log(trees.predict_proba(features))
        )
    return logits


def scores(trees: Any, raw: BaselineData, split: str, labels: LabelSpec) -> dict[str, float]:
    targets = torch.from_numpy(raw.labels[split])
    if labels.regression:
        targets = targets.double().reshape(-1, 1)
    return evaluate(predictions(trees, raw.features[split], labels), targets, labels).metrics


def run_baseline(recipe: DownstreamRecipe, seeds: list[int], out: Path) -> dict[str, Any]:
    """Fit and score the trees once per seed; the results (mean test metrics and each seed's), written to ``out``."""
    refuse_existing(out, RESULTS_FILE)
    plugin = load_domain(recipe.domain)
    root = plugin.ensure_data(recipe.data, cache_dir())
    task = plugin.downstream_task(root, recipe.data, recipe.task)
    check_metric(task)
    raw = plugin.baseline_data(root, recipe.data, recipe.task)
    per_seed = []
    for seed in seeds:
        trees = fit_trees(raw, task.labels, recipe.baseline, seed)
        per_seed.append({
            "seed": seed,
            "test": scores(trees, raw, "test", task.labels),
            "val": scores(trees, raw, "val", task.labels),
            "trees": int(trees.n_iter_),
        })
    test = {name: float(np.mean([entry["test"][name] for entry in per_seed])) for name in per_seed[0]["test"]}
    results = {
        "task": task.name,
        "method": METHOD,
        "init": "none",
        "metric": task.metric,
        "value": test[task.metric],
        "test": test,
        "best_val": float(np.mean([entry["val"][task.metric] for entry in per_seed])),
        "per_seed": per_seed,
        "examples": {split: len(raw.labels[split]) for split in ("train", "val", "test")},
        "classes": len(task.labels.names),
        "regression": task.labels.regression,
        "domain": recipe.domain,
        "mode": "baseline",
        "data": recipe.data.path or "demo",
    }
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / CONFIG_FILE, recipe.to_yaml())
    atomic_write_text(out / ROW_FILE, markdown_row(results) + "\n")
    atomic_write_text(out / RESULTS_FILE, json.dumps(results, indent=2) + "\n")
    return results
