"""The JEPA LightningModule: context encoder and predictor, trained against an objective's targets.

The objectives are components (:mod:`jepa_platform.objectives`): an EMA
teacher, SIGReg on the encoder's own embeddings, or a domain's target
function. This module wires them into Lightning's step, schedules and
optimizer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lightning as L
import torch
from lightning.pytorch.strategies import DDPStrategy, SingleDeviceStrategy

from ..data.datamodule import batch_size_of
from ..domain.registry import load_domain
from ..domain.tokens import TokenGrid
from ..errors import JepaError
from ..masking import Masks, MaskStrategy, build_masking, mask_seed
from ..model import Encoder, Predictor, gather_tokens, jepa_step_flops
from ..objectives import LOSSES, DomainTargets, EMATeacher, prediction_loss, sigreg
from ..schedules import TrainingSchedule, cosine
from .config import Recipe, recipe_model
from .guard import StopGuard


@dataclass
class StepResult:
    """A JEPA step: the loss to minimize and its parts."""

    loss: torch.Tensor
    prediction: torch.Tensor
    domain: torch.Tensor | None
    regularizer: torch.Tensor | None
    auxiliary: torch.Tensor | None = None


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
        function = plugin.target_function(cfg.data) if cfg.objective.domain else None
        if cfg.objective.domain and function is None:
            raise JepaError(
                f"objective.target '{cfg.objective.target}': domain '{plugin.name}' has no target function; "
                "use objective.target latent"
            )
        self.target_function = function  # registered here, so it follows the module's device
        grid = tokenizer.grid
        self.domain_targets = None if function is None else DomainTargets(function, grid.num_tokens, grid.shape)
        domain_dim = None if function is None else function.dim
        self.predictor = Predictor(tokenizer.grid, cfg.model, latent=cfg.objective.latent, domain_dim=domain_dim)
        self.ema = EMATeacher(self.encoder, cfg.objective.ema_momentum) if cfg.objective.teacher else None
        self.teacher = None if self.ema is None else self.ema.network  # registered here: checkpoints hold "teacher."
        self.auxiliary = plugin.auxiliary_loss(cfg.data, cfg.model.embed_dim)  # the domain's supervised term, if any
        self.conditioning = plugin.predictor_conditioning(cfg.data, cfg.model.predictor_dim)  # e.g. actions, if any
        self.masking = build_masking(cfg.masking)
        self.loss_fn = LOSSES[cfg.objective.loss]
        self._mask_generator = torch.Generator()
        opt, total = cfg.optim, cfg.trainer.max_steps
        self.schedule = TrainingSchedule(
            total, int(opt.warmup_fraction * total), opt.start_lr / opt.lr, 1.0, opt.final_lr / opt.lr
        )
        self._val_batches = 0

    def configure_model(self) -> None:
        """Under the ``fsdp2`` strategy, shard the encoder, predictor and teacher per transformer block;
        then compile their transformer stacks as ``trainer.compile`` says."""
        if self.device_mesh is not None:
            from .distributed import shard_jepa

            encoders = [self.encoder] if self.teacher is None else [self.encoder, self.teacher]
            shard_jepa(encoders, self.predictor, self.device_mesh["data_parallel"])
        device = self.trainer.strategy.root_device
        if self.recipe.trainer.compile is True or (self.recipe.trainer.compile == "auto" and device.type == "cuda"):
            self.compile_stacks(self.recipe.trainer.compile_mode if device.type == "cuda" else "default")

    def compile_stacks(self, mode: str = "default") -> None:
        """``torch.compile`` the encoder's, predictor's and teacher's transformer stacks in place.

        In place, so state-dict keys stay as they are (no ``_orig_mod.``) and
        the EMA update and FSDP see the same parameters. Inputs whose length
        the masks set are marked dynamic where they are made, so a new mask
        size reuses the compiled graph instead of compiling another.
        """
        for network in (self.encoder, self.predictor, self.teacher):
            if network is not None and not network.stack.compiled:
                network.stack.compile(mode=mode)

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
        if self.trainer.training:  # each process its own masks (see mask_seed)
            seed = mask_seed(self.recipe.seed, self.global_step, self.global_rank, self.trainer.world_size)
        else:  # validation: the same masks for the same batch at every evaluation
            seed = mask_seed(self.recipe.seed, -1 - self._val_batches, self.global_rank, self.trainer.world_size)
            self._val_batches += 1
        batch, valid, masks = self.prepare_batch(batch, seed)
        if self.device.type == "cuda":  # pinned memory copies to the GPU without blocking
            valid = None if valid is None else valid.pin_memory()
            masks = Masks(masks.context.pin_memory(), masks.targets.pin_memory())
        return batch, valid, masks

    def on_validation_epoch_start(self) -> None:
        self._val_batches = 0

    # ----------------------------------------------------------------- steps
    @property
    def target_encoder(self) -> Encoder:
        """The encoder whose embeddings are the targets and the result: the EMA teacher, or the encoder itself."""
        return self.teacher if self.teacher is not None else self.encoder

    def jepa_loss(self, batch: Any, valid: torch.Tensor | None, masks: Masks, seed: int = 0) -> StepResult:
        """Predict the targets of the target tokens from the context.

        ``seed`` draws SIGReg's slices (the same on every rank). A domain's
        auxiliary loss on the context embeddings is added to the loss as it is; a domain's predictor
        conditioning is added to the predictor's target queries.
        """
        objective = self.recipe.objective
        context = self.encoder.encode(self.encoder.embed_tokens(batch).tokens, keep=masks.context)
        condition = None if self.conditioning is None else self.conditioning(batch, masks.context, masks.targets)
        latent_prediction, domain_prediction = self.predictor(context, masks, condition)
        latent = domain = None
        full = None
        if self.ema is not None:
            full, target = self.ema.targets(batch, valid)
        elif objective.full_pass:
            full = target = self.encoder.encode(self.encoder.embed_tokens(batch).tokens, valid=valid)
        if objective.latent:
            target = gather_tokens(target, masks.targets).transpose(0, 1)  # K × B × Nt × D
            latent = self.target_loss(latent_prediction.float(), target.float(), batch, masks)
        if self.domain_targets is not None:
            domain_target = self.domain_targets.targets(batch, masks)
            domain = self.target_loss(domain_prediction.float(), domain_target, batch, masks)
        predictive = prediction_loss(objective, latent, domain)
        domain_part = None if domain is None else domain.detach()
        auxiliary = None if self.auxiliary is None else self.auxiliary(context, masks.context, batch).float()
        auxiliary_part = None if auxiliary is None else auxiliary.detach()
        if objective.kind == "ema":
            loss = predictive if auxiliary is None else predictive + auxiliary
            return StepResult(loss, predictive.detach(), domain_part, None, auxiliary_part)
        regularizer = sigreg(full, objective.sigreg, seed, valid)
        weight = objective.sigreg.weight
        loss = (1 - weight) * predictive + weight * regularizer
        if auxiliary is not None:
            loss = loss + auxiliary
        return StepResult(loss, predictive.detach(), domain_part, regularizer.detach(), auxiliary_part)

    def target_loss(self, prediction: torch.Tensor, target: torch.Tensor, batch: Any, masks: Masks) -> torch.Tensor:
        """The loss of ``K × B × Nt × D`` predictions, weighted per target token by the tokenizer's
        :meth:`~jepa_platform.domain.Tokenizer.target_weights` when it gives any."""
        weights = self.encoder.tokenizer.target_weights(batch)
        if weights is None:
            return self.loss_fn(prediction, target)
        weights = gather_tokens(weights.unsqueeze(-1).float(), masks.targets).transpose(0, 1)  # K × B × Nt × 1
        losses = self.loss_fn(prediction, target, reduction="none").mean(dim=-1, keepdim=True)
        return (losses * weights).sum() / weights.sum().clamp(min=1e-12)

    def training_step(self, inputs: tuple[Any, torch.Tensor | None, Masks], batch_idx: int) -> dict[str, Any]:
        result = self.jepa_loss(*inputs, seed=self.recipe.seed * 1_000_003 + self.global_step)
        guard = next((c for c in self.trainer.callbacks if isinstance(c, StopGuard)), None)
        if guard is not None and not guard.check_loss(self.trainer, result.loss, batch_idx):
            return None  # no backward, no optimizer step: the weights stay as they were
        # Lightning reads every progress-bar value back to the host after each step: the device's loss
        # stays off the bar, which shows a host copy made at the logging steps only.
        self.log("train/loss", result.loss, batch_size=inputs[2].context.shape[0])
        if (self.global_step + 1) % self.trainer.log_every_n_steps == 0:  # a logged number is a host-to-device copy
            self.log("loss", result.loss.detach().cpu(), prog_bar=True, logger=False)
            self.log("train/lr", self.optimizers().param_groups[0]["lr"])
            if self.teacher is not None:
                self.log("train/ema_momentum", self.ema_momentum())
            if result.regularizer is not None:
                self.log("train/prediction_loss", result.prediction)
                self.log("train/sigreg", result.regularizer)
            if result.domain is not None:
                self.log("train/domain_loss", result.domain)
            if result.auxiliary is not None:
                self.log("train/auxiliary_loss", result.auxiliary)
        return result.loss

    def validation_step(self, inputs: tuple[Any, torch.Tensor | None, Masks], batch_idx: int) -> dict[str, Any]:
        result = self.jepa_loss(*inputs, seed=self.recipe.seed * 1_000_003 - 1 - batch_idx)
        self.log("val/loss", result.loss, prog_bar=True, sync_dist=True, batch_size=inputs[2].context.shape[0])
        if result.auxiliary is not None:
            self.log("val/auxiliary_loss", result.auxiliary, sync_dist=True, batch_size=inputs[2].context.shape[0])
        return result.loss

    # ------------------------------------------------------------ schedules
    def progress(self) -> float:
        return self.schedule.progress(self.global_step)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["schedule"] = self.schedule.state_dict()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Resumed with another ``trainer.max_steps``: the schedules continue from the checkpoint's step (no jump)."""
        saved = checkpoint.get("schedule") or {
            "total": checkpoint["hyper_parameters"]["recipe"]["trainer"]["max_steps"], "anchor": None
        }
        self.schedule.load_state_dict(saved)
        if self.schedule.total != self.recipe.trainer.max_steps:
            self.schedule.retarget(checkpoint["global_step"], self.recipe.trainer.max_steps)

    def ema_momentum(self) -> float:
        return self.ema.momentum(self.progress()) if self.ema is not None else 1.0

    def update_teacher(self) -> None:
        """The EMA teacher's step (EMA objective only)."""
        if self.ema is not None:
            self.ema.update(self.encoder, self.progress())

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        wd = cosine(*self.recipe.optim.weight_decay, self.progress())
        for group in self.optimizers().param_groups:
            if group["decays"]:
                group["weight_decay"] = wd

    def optimizer_step(self, *args: Any, **kwargs: Any) -> None:
        """The optimizer's step, then the EMA teacher's: before any callback (a checkpoint) sees the step."""
        super().optimizer_step(*args, **kwargs)
        self.update_teacher()

    # ------------------------------------------------------------ optimizer
    def configure_gradient_clipping(
        self, optimizer: torch.optim.Optimizer, gradient_clip_val: float | None = None,
        gradient_clip_algorithm: str | None = None,
    ) -> None:
        """Norm clipping in a few multi-tensor operators on one device or under DDP; Lightning's elsewhere."""
        if gradient_clip_val is None or gradient_clip_algorithm not in (None, "norm") or not isinstance(
            self.trainer.strategy, (SingleDeviceStrategy, DDPStrategy)
        ):
            return super().configure_gradient_clipping(optimizer, gradient_clip_val, gradient_clip_algorithm)
        grads = [param.grad for group in optimizer.param_groups for param in group["params"] if param.grad is not None]
        clip_grad_norm(grads, gradient_clip_val)

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
        # A bound method keeps no state in the scheduler's checkpoint: the schedule's own is in "schedule".
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, self.schedule.lr_factor)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    # --------------------------------------------------------------- report
    def flops_per_sample(self) -> float:
        """Model FLOPs of one training step per sample, at the mask sizes of one seeded draw."""
        return step_flops(self.recipe, self.encoder.grid, self.masking)


@torch.no_grad()
def clip_grad_norm(grads: list[torch.Tensor], max_norm: float) -> None:
    """Scale ``grads`` (on one device) in place to a total 2-norm of at most ``max_norm``, as
    ``torch.nn.utils.clip_grad_norm_`` does, without its one device copy per gradient."""
    if grads:
        total = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
        torch._foreach_mul_(grads, (max_norm / (total + 1e-6)).clamp(max=1.0))


def step_flops(recipe: Recipe, grid: TokenGrid, masking: MaskStrategy) -> float:
    """Model FLOPs of one training step of ``recipe`` per sample on ``grid``, at the mask sizes of one seeded draw."""
    masks = masking.sample(grid, 2, torch.Generator().manual_seed(0))
    return jepa_step_flops(
        recipe.model,
        grid.num_tokens,
        masks.context.shape[1],
        masks.num_targets,
        masks.targets.shape[2],
        recipe.objective.teacher,
        full_pass=recipe.objective.full_pass,
    )

