"""Per-token classification scores shared by pretraining's monitor and the downstream tasks."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torchmetrics.functional.classification import binary_average_precision


@dataclass
class DenseScores:
    """Per-class IoU and AP of a per-token task, their means, and the scored tokens per class."""

    metrics: dict[str, float]
    per_class_ap: dict[str, float | None]
    counts: dict[str, int]


def dense_scores(logits: torch.Tensor, targets: torch.Tensor, names: list[str]) -> DenseScores:
    """Scores of ``logits`` ``E × N·C`` against ``targets`` ``E × N`` (-1: not scored), ``C = len(names)``.

    Per class (``iou/<name>``, ``ap/<name>``) the IoU of the argmax predictions and the average precision
    of the softmax scores; ``mean_iou`` and ``mean_ap`` average the classes after the first (the background)
    that occur (IoU: true or predicted; AP: true)."""
    classes = len(names)
    scores = logits.reshape(len(logits), -1, classes).softmax(dim=-1).reshape(-1, classes)
    truth = targets.reshape(-1).long()
    scored = truth >= 0
    scores, truth = scores[scored], truth[scored]
    predicted = scores.argmax(dim=1)
    metrics: dict[str, float] = {}
    per_class: dict[str, float | None] = {}
    ious, aps = [], []
    for index, name in enumerate(names):
        true, guess = truth == index, predicted == index
        union = int((true | guess).sum())
        iou = float((true & guess).sum()) / union if union else float("nan")
        ap = float(binary_average_precision(scores[:, index], true.long())) if true.any() else float("nan")
        metrics[f"iou/{name}"], metrics[f"ap/{name}"], per_class[name] = iou, ap, None if ap != ap else ap
        if index > 0:
            ious += [iou] if union else []
            aps += [ap] if true.any() else []
    metrics["mean_iou"] = sum(ious) / len(ious) if ious else float("nan")
    metrics["mean_ap"] = sum(aps) / len(aps) if aps else float("nan")
    positives = torch.bincount(truth, minlength=classes)
    return DenseScores(metrics, per_class, {n: int(c) for n, c in zip(names, positives)})
