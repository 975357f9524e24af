"""Evaluation: predictions averaged over the views of each example, then the task's metrics.

Classification: macro AUC is the mean one-vs-rest ROC AUC over the classes that
have both positive and negative examples in the evaluated set (a class without
either has no AUC; it is reported as ``None`` and left out of the mean).
Single-label tasks add accuracy, balanced accuracy and macro F1 (the mean F1 of
the classes that are true or predicted at least once). Regression: RMSE, MAE
and R² in the targets' own units, averaged over the targets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torchmetrics.functional.classification import binary_auroc

from ..domain.contract import LabelSpec
from ..metrics import dense_scores

LOWER_IS_BETTER = frozenset({"rmse", "mae"})


def direction(metric: str) -> Literal["min", "max"]:
    """``min`` for errors (RMSE, MAE), ``max`` for scores: how early stopping and model selection compare."""
    return "min" if metric in LOWER_IS_BETTER else "max"


def average_by_group(
    logits: torch.Tensor, targets: torch.Tensor, groups: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean logits of each group's views and the group's target, ordered by group id.

    Args:
        logits: ``V × C`` logits of ``V`` views.
        targets: ``V × ...`` targets (equal within a group).
        groups: ``V`` group ids.
    """
    unique, inverse = torch.unique(groups, return_inverse=True)
    sums = torch.zeros(len(unique), logits.shape[1], dtype=torch.float64).index_add_(0, inverse, logits.double())
    counts = torch.bincount(inverse, minlength=len(unique)).unsqueeze(1)
    first = torch.full((len(unique),), len(groups), dtype=torch.long).scatter_reduce_(
        0, inverse, torch.arange(len(groups)), reduce="amin"
    )
    return (sums / counts).float(), targets[first]


@dataclass
class Evaluation:
    """Metrics of one evaluated set.

    Args:
        metrics: Classification: ``macro_auc``, and for single-label tasks ``accuracy``,
            ``balanced_accuracy`` and ``macro_f1``. Regression: ``rmse``, ``mae`` and ``r2``.
        per_class: One-vs-rest ROC AUC per class (``None`` without positives or negatives); empty for regression.
        positives: Examples of each class; empty for regression.
        examples: Evaluated examples (groups).
    """

    metrics: dict[str, float]
    per_class: dict[str, float | None]
    positives: dict[str, int]
    examples: int
    per_class_metric: str = "auc"
    """What ``per_class`` holds: ``auc``, or ``ap`` (average precision, dense tasks)."""


def regression_metrics(predictions: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
    """RMSE, MAE and R² of ``E × T`` predictions (each averaged over the ``T`` targets); R² is NaN for a constant target."""
    predictions, targets = predictions.double(), targets.double().reshape(predictions.shape)
    errors = predictions - targets
    spread = (targets - targets.mean(dim=0)).square().sum(dim=0)
    r2 = 1 - errors.square().sum(dim=0) / spread
    return {
        "rmse": float(errors.square().mean(dim=0).sqrt().mean()),
        "mae": float(errors.abs().mean()),
        "r2": float(torch.where(spread > 0, r2, torch.nan).mean()),
    }


def dense_evaluation(logits: torch.Tensor, targets: torch.Tensor, labels: LabelSpec) -> Evaluation:
    """Metrics of a per-token task over every scored token (``logits`` ``E × N·C``, ``targets`` ``E × N``,
    -1: not scored): per-class IoU and AP and their means over the object classes (:func:`dense_scores`)."""
    scores = dense_scores(logits, targets, list(labels.names))
    return Evaluation(scores.metrics, scores.per_class_ap, scores.counts, examples=len(logits), per_class_metric="ap")


def evaluate(logits: torch.Tensor, targets: torch.Tensor, labels: LabelSpec) -> Evaluation:
    """Metrics of per-example ``logits`` (predictions, for regression) against ``targets``."""
    if labels.per_token:
        return dense_evaluation(logits, targets, labels)
    if labels.regression:
        return Evaluation(regression_metrics(logits, targets), {}, {}, examples=len(logits))
    if labels.multilabel:
        scores, onehot = logits.sigmoid(), targets.float()
    else:
        scores = logits.softmax(dim=1)
        onehot = torch.nn.functional.one_hot(targets.long(), len(labels.names)).float()
    positives = onehot.sum(dim=0)
    per_class: dict[str, float | None] = {}
    for index, name in enumerate(labels.names):
        defined = 0 < positives[index] < len(onehot)
        per_class[name] = float(binary_auroc(scores[:, index], onehot[:, index].long())) if defined else None
    defined_aucs = [auc for auc in per_class.values() if auc is not None]
    metrics = {"macro_auc": sum(defined_aucs) / len(defined_aucs) if defined_aucs else float("nan")}
    if not labels.multilabel:
        predicted = scores.argmax(dim=1)
        metrics["accuracy"] = float((predicted == targets).float().mean())
        present = positives > 0
        hits = (onehot * torch.nn.functional.one_hot(predicted, len(labels.names))).sum(dim=0)
        recall = hits[present] / positives[present]
        metrics["balanced_accuracy"] = float(recall.mean())
        guessed = torch.bincount(predicted, minlength=len(labels.names)).float()
        seen = present | (guessed > 0)
        metrics["macro_f1"] = float((2 * hits[seen] / (positives[seen] + guessed[seen])).mean())
    return Evaluation(
        metrics=metrics,
        per_class=per_class,
        positives={name: int(count) for name, count in zip(labels.names, positives)},
        examples=len(onehot),
    )
