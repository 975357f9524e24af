"""The linear probe of pretraining: how linearly readable the frozen embeddings are, without touching the encoder.

At each validation the monitor encodes a fixed set of training samples and
the validation samples, standardizes the pooled embeddings with the training
set's statistics, and fits a linear head full-batch (AdamW, seeded); the
head's validation macro AUC (multi-label) or accuracy (single-label) is the
score. A dense (per-token) label set is probed per token: one row per
labelled token embedding, scored by the mean average precision over the
classes after the first (the background), as the dense downstream tasks
are. Refitting on fixed data each time makes scores comparable across the
run and with the random-init encoder scored the same way.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torchmetrics.functional.classification import binary_auroc

from ..domain.contract import LabelSpec
from ..metrics import dense_scores


def macro_auc(scores: torch.Tensor, targets: torch.Tensor) -> float:
    """Mean one-vs-rest ROC AUC over the classes that have both positives and negatives (NaN if none)."""
    present = (targets.sum(0) > 0) & (targets.sum(0) < targets.shape[0])
    aucs = [binary_auroc(scores[:, c], targets[:, c].long()) for c in torch.nonzero(present).flatten().tolist()]
    return float(torch.stack(aucs).mean()) if aucs else float("nan")


def probe_metric(labels: LabelSpec) -> str:
    """The probe's metric name: ``mean_ap`` (per-token), ``auc`` (multi-label) or ``accuracy``."""
    return "mean_ap" if labels.per_token else "auc" if labels.multilabel else "accuracy"


def probe_score(logits: torch.Tensor, targets: torch.Tensor, labels: LabelSpec) -> float:
    """The :func:`probe_metric` of ``R × C`` logits against ``R`` targets (class indices or multi-hot rows)."""
    if labels.per_token:
        return dense_scores(logits, targets, list(labels.names)).metrics["mean_ap"]
    if labels.multilabel:
        return macro_auc(logits.sigmoid(), targets)
    return float((logits.argmax(dim=1) == targets.long()).float().mean())


def linear_probe(
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor],
    labels: LabelSpec,
    lr: float = 1e-2,
    steps: int = 300,
    seed: int = 0,
) -> float:
    """The validation score of a linear head fitted on standardized ``train`` embeddings (``N × D``, labels;
    for a per-token label set, token embeddings and their class indices)."""
    (x, y), (xv, yv) = train, val
    x, xv = x.float(), xv.float()
    mean, std = x.mean(0), x.std(0).clamp(min=1e-6)
    x, xv = (x - mean) / std, (xv - mean) / std
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        head = torch.nn.Linear(x.shape[1], len(labels.names))
    optimizer = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=1e-3)
    loss = F.binary_cross_entropy_with_logits if labels.multilabel else F.cross_entropy
    target = y.float() if labels.multilabel else y.long()
    with torch.enable_grad():
        for _ in range(steps):
            optimizer.zero_grad(set_to_none=True)
            loss(head(x), target).backward()
            optimizer.step()
    with torch.no_grad():
        return probe_score(head(xv), yv, labels)
