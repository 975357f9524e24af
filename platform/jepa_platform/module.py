"""The JEPA LightningModule: context encoder, predictor and EMA target encoder."""

from __future__ import annotations

import copy
from functools import partial
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F

from .data import batch_size_of
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
        self._mask_generator = torch.Generator()
        self._val_batches = 0

    # ----------------------------------------------------------------- masks
    def prepare_batch(self, batch: Any, seed: int) -> tuple[Any, torch.Tensor | None, Masks]:
        """``(batch, valid, masks)``: token validity and masks drawn on the CPU from ``seed``.

        Runs before the batch moves to the device, so the training step itself
        never waits on the device for mask sizes. ``valid`` is ``None`` when
        every token is valid. The same seed gives the same masks whatever the
        device or the number of loader workers.
        """
        valid = self.encoder.tokenizer.valid_mask(batch)
        if valid is not None:
            valid = valid.cpu()
            if bool(valid.all()):
                valid = None
        self._mask_generator.manual_seed(seed)
        masks = self.masking.sample(self.encoder.grid, batch_size_of(batch), self._mask_generator, valid)
        return batch, valid, masks

    def on_before_batch_transfer(self, batch: Any, dataloader_idx: int) -> tuple[Any, torch.Tensor | None, Masks]:
        if self.trainer.training:
            seed = self.recipe.seed * 1_000_003 + self.global_step
        else:  # validation: the same masks for the same batch at every evaluation
            seed = self.recipe.seed * 1_000_003 - 1 - self._val_batches
            self._val_batches += 1
        batch, valid, masks = self.prepare_batch(batch, seed)
        if self.device.type == "cuda":  # pinned memory copies to the GPU without blocking
            valid = None if valid is None else valid.pin_memory()
            masks = Masks(masks.context.pin_memory(), masks.targets.pin_memory())
        return batch, valid, masks

    def on_validation_epoch_start(self) -> None:
        self._val_batches = 0

    # ----------------------------------------------------------------- steps
    def jepa_loss(self, batch: Any, valid: torch.Tensor | None, masks: Masks) -> torch.Tensor:
        """Predict the teacher's layer-normed embeddings of the target tokens from the context."""
        context = self.encoder.encode(self.encoder.embed(batch).tokens, keep=masks.context)
        prediction = self.predictor(context, masks)
        with torch.no_grad():
            target = self.teacher.encode(self.teacher.embed(batch).tokens, valid=valid)
            target = F.layer_norm(target, target.shape[-1:])
            target = gather_tokens(target, masks.targets).transpose(0, 1)  # K × B × Nt × D
        return self.loss_fn(prediction.float(), target.float())

    def training_step(self, inputs: tuple[Any, torch.Tensor | None, Masks], batch_idx: int) -> torch.Tensor:
        loss = self.jepa_loss(*inputs)
        self.log("train/loss", loss, prog_bar=True)
        if (self.global_step + 1) % self.trainer.log_every_n_steps == 0:  # a logged number is a host-to-device copy
            self.log("train/lr", self.optimizers().param_groups[0]["lr"])
            self.log("train/ema_momentum", self.ema_momentum())
        return loss

    def validation_step(self, inputs: tuple[Any, torch.Tensor | None, Masks], batch_idx: int) -> torch.Tensor:
        loss = self.jepa_loss(*inputs)
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
            if group["decays"]:
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
            [
                {"params": decay, "weight_decay": opt.weight_decay[0], "decays": True},
                {"params": no_decay, "weight_decay": 0.0, "decays": False},  # biases, norms, positions, mask token
            ],
            lr=opt.lr,
            betas=opt.betas,
            fused=self.device.type == "cuda",
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
        """Model FLOPs of one training step per sample, at the mask sizes of one seeded draw."""
        n = self.encoder.grid.num_tokens
        masks = self.masking.sample(self.encoder.grid, 2, torch.Generator().manual_seed(0))
        return jepa_step_flops(
            self.recipe.model, n, masks.context.shape[1], masks.num_targets, masks.targets.shape[2]
        )

