"""The downstream LightningModule: an encoder (frozen for a probe) and a head on a labelled task.

Regression heads learn standardized targets (mean and std of the training
split, kept as buffers in the checkpoint); their predictions are mapped back to
the targets' units before evaluation.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn

from ..domain.contract import DownstreamTask
from ..errors import JepaError
from ..model import Encoder
from ..schedules import warmup_cosine
from .config import DownstreamRecipe, FinetuneConfig, Mode
from .metrics import Evaluation, average_by_group, evaluate


def encoder_layer(name: str, depth: int) -> int:
    """Layer of an encoder parameter: 0 the tokenizer, ``i + 1`` block ``i``, ``depth + 1`` the final norm."""
    if name.startswith("stack.blocks."):
        return int(name.split(".")[2]) + 1
    return depth + 1 if name.startswith("stack.") else 0


def param_groups(
    encoder: Encoder, head: nn.Module, lr: float, weight_decay: float, layer_decay: float | None
) -> list[dict]:
    """AdamW groups of the head and, with ``layer_decay``, the encoder at ``lr * layer_decay ** (depth + 1 - layer)``.

    Biases, norms and the head's learned query are not weight-decayed.
    """
    depth = len(encoder.stack.blocks)
    named = [(f"head.{name}", param, depth + 1) for name, param in head.named_parameters()]
    if layer_decay is not None:
        named += [(name, param, encoder_layer(name, depth)) for name, param in encoder.named_parameters()]
    groups: dict[tuple[int, bool], list[nn.Parameter]] = {}
    for name, param, layer in named:
        if param.requires_grad:
            groups.setdefault((layer, param.ndim >= 2 and not name.endswith("query")), []).append(param)
    return [
        {
            "params": params,
            "lr": lr * (layer_decay ** (depth + 1 - layer) if layer_decay is not None else 1.0),
            "weight_decay": weight_decay if decays else 0.0,
        }
        for (layer, decays), params in sorted(groups.items())
    ]


class DownstreamModule(L.LightningModule):
    """Trains ``head`` (and, fine-tuning, ``encoder``) on ``task``; evaluates on the averaged views of each example.

    Args:
        encoder: The encoder, pretrained or randomly initialized, on the task's token grid.
        head: Maps ``B × N × D`` tokens and their validity to logits.
        task: The labelled task (its datasets are not kept).
        recipe: The resolved downstream recipe.
        mode: ``probe`` (frozen encoder, in eval mode) or ``finetune``.
        target_scale: Regression: mean and std of each target over the training split.
    """

    def __init__(
        self, encoder: Encoder, head: nn.Module, task: DownstreamTask, recipe: DownstreamRecipe, mode: Mode,
        target_scale: tuple[torch.Tensor, torch.Tensor] | None = None,
    ):
        super().__init__()
        if task.labels.regression and target_scale is None:
            raise ValueError("a regression task needs the target_scale of its training split")
        self.save_hyperparameters(
            {"recipe": recipe.to_dict(), "mode": mode, "task": task.name, "classes": list(task.labels.names),
             "multilabel": task.labels.multilabel, "regression": task.labels.regression, "metric": task.metric},
            logger=False,
        )
        if target_scale is not None:
            self.register_buffer("target_mean", target_scale[0].float())
            self.register_buffer("target_std", target_scale[1].float())
        self.encoder, self.head = encoder, head
        self.labels, self.metric, self.mode = task.labels, task.metric, mode
        self.stage = recipe.stage(mode)
        if mode == "probe":
            encoder.requires_grad_(False)
        self.evaluations: dict[str, Evaluation] = {}
        self._outputs: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []

    def train(self, mode: bool = True) -> "DownstreamModule":
        super().train(mode)
        if self.mode == "probe":
            self.encoder.eval()  # a frozen encoder: no drop path, same features every epoch
        return self

    def forward(self, batch: dict[str, Any]) -> torch.Tensor:
        with torch.set_grad_enabled(torch.is_grad_enabled() and self.mode == "finetune"):
            embedded = self.encoder.embed_tokens(batch)
            valid = embedded.valid
            if valid is not None and bool(valid.all()):
                valid = None  # no mask: the fused attention kernels apply
            tokens = self.encoder.encode(embedded.tokens, valid=valid)
        return self.head(tokens, valid)

    def standardized(self, targets: torch.Tensor) -> torch.Tensor:
        """Regression targets ``B`` or ``B × T`` as ``B × T`` in training-split standard units."""
        return (targets.reshape(len(targets), -1).float() - self.target_mean) / self.target_std

    def loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if self.labels.regression:
            return F.mse_loss(logits.float(), self.standardized(targets))
        if self.labels.multilabel:
            return F.binary_cross_entropy_with_logits(logits.float(), targets.float())
        if self.labels.per_token:  # B × N × C logits, B × N classes (-1: not scored)
            return F.cross_entropy(logits.float().flatten(0, 1), targets.long().flatten(), ignore_index=-1)
        return F.cross_entropy(logits.float(), targets.long())

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        loss = self.loss(self(batch), batch["label"])
        self.log("train/loss", loss, prog_bar=True)
        return loss

    # ------------------------------------------------------------ evaluation
    def _collect(self, batch: dict[str, Any]) -> None:
        outputs, targets = self(batch).float(), batch["label"]
        if self.labels.regression:  # predictions and targets in the targets' units, B × T
            outputs = outputs * self.target_std + self.target_mean
            targets = targets.reshape(len(targets), -1).float()
        if self.labels.per_token:  # one row per view: its tokens' logits side by side
            outputs = outputs.flatten(1)
        self._outputs.append((outputs.cpu(), targets.cpu(), batch["group"].cpu()))

    def _evaluate(self, stage: str) -> Evaluation:
        logits, targets, groups = (torch.cat(parts) for parts in zip(*self._outputs))
        self._outputs = []
        evaluation = evaluate(*average_by_group(logits, targets, groups), self.labels)
        if evaluation.metrics[self.metric] != evaluation.metrics[self.metric]:  # NaN
            reason = "the target is constant" if self.labels.regression else (
                "no class has both positive and negative examples"
            )
            raise JepaError(f"{stage} set: {reason}, so {self.metric} is undefined")
        self.evaluations[stage] = evaluation
        for name, value in evaluation.metrics.items():
            self.log(f"{stage}/{name}", value, prog_bar=name == self.metric)
        return evaluation

    def on_validation_epoch_start(self) -> None:
        self._outputs = []

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._collect(batch)

    def on_validation_epoch_end(self) -> None:
        self._evaluate("val")

    def on_test_epoch_start(self) -> None:
        self._outputs = []

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._collect(batch)

    def on_test_epoch_end(self) -> None:
        self._evaluate("test")

    # ------------------------------------------------------------ optimizer
    def configure_optimizers(self) -> dict[str, Any]:
        cfg = self.stage
        layer_decay = cfg.layer_decay if isinstance(cfg, FinetuneConfig) else None
        groups = param_groups(self.encoder, self.head, cfg.lr, cfg.weight_decay, layer_decay)
        optimizer = torch.optim.AdamW(groups, lr=cfg.lr, fused=self.device.type == "cuda")
        total = int(self.trainer.estimated_stepping_batches)
        warmup = total * cfg.warmup_epochs // cfg.max_epochs
        schedule = partial(warmup_cosine, total=total, warmup=warmup, start=0.0, peak=1.0, final=cfg.final_lr / cfg.lr)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
