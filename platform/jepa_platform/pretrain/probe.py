"""Online linear probe: a label-aware view of pretraining that never touches the encoder.

A linear head learns, with its own optimizer, from the detached pooled
embeddings each training step returns, standardized by a BatchNorm without
parameters (so its pace does not depend on the embeddings' scale, which
drifts during pretraining); at validation it is scored with
macro AUC (multi-label) or accuracy (multi-class). Under data parallelism
every rank trains its head on the gathered global batch, so the heads stay
identical.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torchmetrics.functional.classification import binary_auroc

from ..domain.contract import LabelSpec


def macro_auc(scores: torch.Tensor, targets: torch.Tensor) -> float:
    """Mean one-vs-rest ROC AUC over the classes that have both positives and negatives (NaN if none)."""
    present = (targets.sum(0) > 0) & (targets.sum(0) < targets.shape[0])
    aucs = [binary_auroc(scores[:, c], targets[:, c].long()) for c in torch.nonzero(present).flatten().tolist()]
    return float(torch.stack(aucs).mean()) if aucs else float("nan")


def labels_of(batch: Any) -> torch.Tensor | None:
    """The ``label`` entry of a (possibly masked) batch, if it has one."""
    inputs = batch[0] if isinstance(batch, tuple) else batch
    return inputs.get("label") if isinstance(inputs, dict) else None


class OnlineProbe(L.Callback):
    """Trains and scores a linear head on detached embeddings (see the module docstring)."""

    def __init__(self, labels: LabelSpec, lr: float, seed: int = 0) -> None:
        self.labels, self.lr, self.seed = labels, lr, seed
        self.head: torch.nn.Sequential | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self._scores: list[torch.Tensor] = []
        self._targets: list[torch.Tensor] = []

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        dim = pl_module.recipe.model.embed_dim
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.head = torch.nn.Sequential(
                torch.nn.BatchNorm1d(dim, affine=False), torch.nn.Linear(dim, len(self.labels.names))
            )
        self.head.to(pl_module.device)
        self.optimizer = torch.optim.AdamW(self.head.parameters(), lr=self.lr, weight_decay=1e-4)

    def loss(self, scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if self.labels.multilabel:
            return F.binary_cross_entropy_with_logits(scores, targets.float())
        return F.cross_entropy(scores, targets.long())

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        targets = labels_of(batch)
        if targets is None or self.head is None or self.optimizer is None or outputs["embeddings"].shape[0] < 2:
            return  # batch statistics need two samples
        embeddings = pl_module.all_gather(outputs["embeddings"].detach().float())
        targets = pl_module.all_gather(targets)
        embeddings = embeddings.reshape(-1, embeddings.shape[-1])
        targets = targets.reshape(-1, *targets.shape[2:]) if trainer.world_size > 1 else targets
        self.head.train()
        with torch.enable_grad():
            loss = self.loss(self.head(embeddings), targets)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
        if trainer.global_step % trainer.log_every_n_steps == 0:
            pl_module.log("probe/train_loss", loss.detach())

    def on_validation_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._scores, self._targets = [], []

    def on_validation_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        targets = labels_of(batch)
        if targets is None or self.head is None or trainer.sanity_checking:
            return
        self.head.eval()
        self._scores.append(self.head(outputs["embeddings"].float()).detach())
        self._targets.append(targets)

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self._scores:
            return
        scores = pl_module.all_gather(torch.cat(self._scores)).reshape(-1, len(self.labels.names)).cpu()
        targets = pl_module.all_gather(torch.cat(self._targets)).cpu()
        targets = targets.reshape(scores.shape[0], *targets.shape[2:]) if trainer.world_size > 1 else targets
        if self.labels.multilabel:
            pl_module.log("probe/val_auc", macro_auc(scores.sigmoid(), targets), rank_zero_only=True)
        else:
            accuracy = (scores.argmax(dim=1) == targets).float().mean()
            pl_module.log("probe/val_accuracy", float(accuracy), rank_zero_only=True)

    def state_dict(self) -> dict[str, Any]:
        assert self.head is not None and self.optimizer is not None
        return {"head": self.head.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Called by Lightning on resume, after :meth:`setup` built the head."""
        assert self.head is not None and self.optimizer is not None
        self.head.load_state_dict(state_dict["head"])
        self.optimizer.load_state_dict(state_dict["optimizer"])
