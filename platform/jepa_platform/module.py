"""The JEPA LightningModule: context encoder, predictor and EMA target encoder."""

from __future__ import annotations

import copy
from functools import partial
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F

from .masking import Masks, build_masking
from .network import Encoder, Predictor, gather_tokens, jepa_step_flops
from .recipe import Recipe, recipe_model
from .registry import load_domain
from .schedules import cosine, linear, warmup_cosine

LOSSES = {"l1": F.l1_loss, "smooth_l1": F.smooth_l1_loss, "mse": F.mse_loss}


class JEPAModule(L.LightningModule):
    """Joint-embedding predictive pretraining for any domain.

    Args:
        recipe: The resolved recipe as a plain dict (saved as hyperparameters,
            so a checkpoint rebuilds the model through the domain registry).
    """

    def __init__(self, recipe: dict[str, Any]) -> None:
        super().__init__()
        self.save_hyperparameters({"recipe": recipe}, logger=False)
        plugin = load_domain(recipe["domain"])
        self.recipe: Recipe = recipe_model(plugin).model_validate(recipe)
        cfg = self.recipe
        tokenizer = plugin.build_tokenizer(cfg.data, cfg.model.embed_dim)
        self.encoder = Encoder(tokenizer, cfg.model)
        self.predictor = Predictor(tokenizer.grid, cfg.model)
        self.teacher = copy.deepcopy(self.encoder).requires_grad_(False)
        self.masking = build_masking(cfg.masking)
        self.loss_fn = LOSSES[cfg.objective.loss]
        self._mask_generator: torch.Generator | None = None

    # ----------------------------------------------------------------- steps
    def masks_for(self, batch_size: int, valid: torch.Tensor | None, seed: int) -> Masks:
        """Masks drawn from a generator seeded by ``seed`` on the module's device (worker-count independent)."""
        if self._mask_generator is None or self._mask_generator.device != self.device:
            self._mask_generator = torch.Generator(device=self.device)
        self._mask_generator.manual_seed(seed)
        return self.masking.sample(self.encoder.grid, batch_size, self._mask_generator, valid)

    def jepa_loss(self, batch: dict[str, Any], masks_seed: int) -> torch.Tensor:
        """Predict the teacher's layer-normed embeddings of the K target blocks from the context."""
        embedded = self.encoder.embed(batch)
        masks = self.masks_for(embedded.tokens.shape[0], embedded.valid, masks_seed)
        context = self.encoder.encode(embedded.tokens, keep=masks.context)
        prediction = self.predictor(context, masks)
        with torch.no_grad():
            target = self.teacher(batch)
            target = F.layer_norm(target, target.shape[-1:])
            target = gather_tokens(target, masks.targets).transpose(0, 1)  # K × B × Nt × D
        return self.loss_fn(prediction.float(), target.float())

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        seed = self.recipe.seed * 1_000_003 + self.global_step
        loss = self.jepa_loss(batch, seed)
        self.log("train/loss", loss, prog_bar=True)
        self.log("train/lr", self.optimizers().param_groups[0]["lr"])
        self.log("train/ema_momentum", self.ema_momentum())
        return loss

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        loss = self.jepa_loss(batch, self.recipe.seed * 1_000_003 - 1 - batch_idx)  # fixed masks per batch
        self.log("val/loss", loss, prog_bar=True, sync_dist=True)
        return loss

    # ------------------------------------------------------------ schedules
    def progress(self) -> float:
        return self.global_step / max(1, self.recipe.trainer.max_steps)

    def ema_momentum(self) -> float:
        return linear(*self.recipe.objective.ema_momentum, self.progress())

    @torch.no_grad()
    def update_teacher(self) -> None:
        """teacher <- m * teacher + (1 - m) * student, all parameters in one fused op."""
        student = list(self.encoder.parameters())
        teacher = list(self.teacher.parameters())
        torch._foreach_lerp_(teacher, student, 1.0 - self.ema_momentum())

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        wd = cosine(*self.recipe.optim.weight_decay, self.progress())
        for group in self.optimizers().param_groups:
            if group["weight_decay"] > 0:
                group["weight_decay"] = wd

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.update_teacher()

    # ------------------------------------------------------------ optimizer
    def configure_optimizers(self) -> dict[str, Any]:
        opt = self.recipe.optim
        decay, no_decay = [], []
        for name, param in self.named_parameters():
            if not param.requires_grad:
                continue
            (no_decay if param.ndim < 2 or "pos_embed" in name or "mask_token" in name else decay).append(param)
        optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": opt.weight_decay[0]}, {"params": no_decay, "weight_decay": 0.0}],
            lr=opt.lr,
            betas=opt.betas,
        )
        total = self.recipe.trainer.max_steps
        warmup = int(opt.warmup_fraction * total)
        # A partial keeps no state in the checkpoint, so a resumed run follows its current max_steps.
        schedule = partial(
            warmup_cosine, total=total, warmup=warmup, start=opt.start_lr / opt.lr, peak=1.0, final=opt.final_lr / opt.lr
        )
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    # --------------------------------------------------------------- report
    def flops_per_sample(self) -> float:
        """Model FLOPs of one training step per sample, at the masking's expected sizes."""
        n = self.encoder.grid.num_tokens
        masks = self.masks_for(2, None, 0)
        return jepa_step_flops(
            self.recipe.model, n, masks.context.shape[1], masks.num_targets, masks.targets.shape[2]
        )

