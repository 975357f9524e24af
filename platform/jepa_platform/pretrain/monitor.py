"""Watching the representation itself: RankMe, LiDAR, the collapse alarm, and the linear probe against random init.

The monitor encodes a fixed set of ``monitor.samples`` training samples with
the target encoder (the EMA teacher, or the encoder itself), over the whole
input, every ``monitor.every_n_steps`` steps: it measures the representation,
whatever the objective regresses. It logs the label-free criteria of
:mod:`.criteria`: RankMe of the pooled embeddings (``monitor/rankme``) and of
the token embeddings of the first ``monitor.token_samples`` samples
(``monitor/rankme_tokens``), and LiDAR and view retrieval over
``monitor.lidar_views`` context masks of the first ``monitor.lidar_samples``
samples (``monitor/lidar``, ``monitor/retrieval``). A
fall of RankMe or of the embeddings' spread below ``collapse_ratio`` of its
peak raises the collapse alarm, unless the latest linear probe (below) still
scores the encoder above its random-init one.

When the data has labels, at each validation (and when training ends) a
linear probe is fitted on the same training samples and scored on the
validation samples (:mod:`.probe`; per token embedding when the labels are
per token), and beside it the same probe on a random-init encoder of the same
architecture and seed: every run shows whether pretraining made the encoder
better than where it started. When training ends, the probe is also fitted on
the tokens pooled the other ways (``probe/pooling_max/val_accuracy`` ...; see
``model.pooling``), so a run shows what its pooling may hide.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any, get_args

import lightning as L
import torch
from lightning.fabric.utilities.apply_func import move_data_to_device
from lightning.pytorch.utilities.rank_zero import rank_zero_info
from torch.utils.data import DataLoader, Dataset, IterableDataset, Subset

from ..data.datamodule import batch_size_of
from ..domain.contract import DatasetSplits, LabelSpec
from ..domain.registry import load_domain
from ..masking import MaskStrategy
from ..model import Encoder, Pooling, pooled
from .config import MonitorConfig
from .criteria import lidar, rankme, view_retrieval
from .probe import linear_probe, probe_metric

Batches = list[Any]
POOLINGS: tuple[Pooling, ...] = get_args(Pooling)


def fixed_batches(dataset: Dataset, count: int, batch_size: int, seed: int) -> Batches:
    """About ``count`` samples of ``dataset`` in collated CPU batches, the same on every process and run."""
    if isinstance(dataset, IterableDataset):  # prepared shards yield batches
        source = dataset.configured(batch_size=batch_size, rank=0, world_size=1, epoch=0, drop_last=False)
        batches, total = [], 0
        for batch in source:
            batches.append(batch)
            total += batch_size_of(batch)
            if total >= count:
                break
        return batches
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))[:count]
    return list(DataLoader(Subset(dataset, order.tolist()), batch_size=batch_size))


def labels_of(batches: Batches) -> torch.Tensor | None:
    """The ``label`` entries of dict batches, concatenated; ``None`` when they have none."""
    if not batches or not isinstance(batches[0], dict) or "label" not in batches[0]:
        return None
    return torch.cat([batch["label"] for batch in batches])


def precision(context: Any, device: torch.device) -> Any:
    """The trainer's forward context, or full precision."""
    return context() if context is not None else torch.autocast(device.type, enabled=False)


@torch.no_grad()
def encoded(
    encoder: Encoder, batches: Batches, device: torch.device, context: Any = None
) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
    """Each batch's tokens (float32) and valid mask on ``device``, the encoder in eval mode meanwhile."""
    was_training = encoder.training
    encoder.eval()
    try:
        for batch in batches:
            valid = encoder.tokenizer.valid_mask(batch)
            with precision(context, device):
                tokens = encoder(move_data_to_device(batch, device)).float()
            yield tokens, None if valid is None else valid.to(device)
    finally:
        encoder.train(was_training)


def encode(
    encoder: Encoder, batches: Batches, device: torch.device, context: Any = None, token_samples: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pooled embeddings (``N × D``, by the encoder's ``pooling``) of every sample of ``batches``, in eval
    mode, and the valid token embeddings of the first ``token_samples`` samples (``T × D``); float32 on the CPU."""
    rows, token_rows = [], []
    for tokens, valid in encoded(encoder, batches, device, context):
        rows.append(pooled(tokens, valid, encoder.pooling).cpu())
        wanted = token_samples - sum(len(r) for r in rows[:-1])
        if wanted > 0:
            kept = tokens[:wanted] if valid is None else tokens[:wanted][valid[:wanted]]
            token_rows.append(kept.reshape(-1, tokens.shape[-1]).cpu())
    return torch.cat(rows), torch.cat(token_rows) if token_rows else torch.empty(0, tokens.shape[-1])


def encode_poolings(
    encoder: Encoder, batches: Batches, device: torch.device, context: Any = None
) -> dict[Pooling, torch.Tensor]:
    """Every sample of ``batches`` under each pooling of its tokens (``pooling -> N × width``), in eval mode;
    float32 on the CPU."""
    rows: dict[Pooling, list[torch.Tensor]] = {pooling: [] for pooling in POOLINGS}
    for tokens, valid in encoded(encoder, batches, device, context):
        for pooling, parts in rows.items():
            parts.append(pooled(tokens, valid, pooling).cpu())
    return {pooling: torch.cat(parts) for pooling, parts in rows.items()}


@torch.no_grad()
def token_rows(
    encoder: Encoder, batches: Batches, device: torch.device, context: Any = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The per-token probe's rows: every valid token embedding of ``batches`` with a class (label ``>= 0``),
    ``R × D`` float32 on the CPU, and those classes (``R``)."""
    was_training = encoder.training
    encoder.eval()
    rows, targets = [], []
    for batch in batches:
        valid, label = encoder.tokenizer.valid_mask(batch), batch["label"]
        scored = label >= 0 if valid is None else (label >= 0) & valid.cpu()
        with precision(context, device):
            tokens = encoder(move_data_to_device(batch, device)).float().cpu()
        rows.append(tokens[scored])
        targets.append(label[scored])
    encoder.train(was_training)
    return torch.cat(rows), torch.cat(targets)


@torch.no_grad()
def context_views(
    encoder: Encoder, masking: MaskStrategy, batches: Batches, views: int, device: torch.device, context: Any = None
) -> torch.Tensor:
    """``n × views × D``: pooled embeddings (by the encoder's ``pooling``) of each sample of ``batches``
    under ``views`` context masks, drawn by ``masking`` from a fixed seed (the same masks at every measure)."""
    was_training = encoder.training
    encoder.eval()
    generator = torch.Generator().manual_seed(0)
    samples = []
    for batch in batches:
        valid = encoder.tokenizer.valid_mask(batch)
        valid = None if valid is None or bool(valid.all()) else valid.cpu()
        batch = move_data_to_device(batch, device)
        with precision(context, device):
            tokens = encoder.embed_tokens(batch).tokens
            drawn = [masking.sample(encoder.grid, tokens.shape[0], generator, valid).context for _ in range(views)]
            in_view = [encoder.encode(tokens, keep=keep.to(device)).float() for keep in drawn]
        seen = [pooled(view, None, encoder.pooling) for view in in_view]
        samples.append(torch.stack(seen, dim=1).cpu())
    encoder.train(was_training)
    return torch.cat(samples)


class RepresentationMonitor(L.Callback):
    """RankMe, the collapse alarm and the linear probe of the target encoder, beside a random-init encoder.

    Args:
        config: The recipe's ``monitor`` section.
        splits: The pretraining datasets (their ``labels`` enable the probe).
        batch_size: Samples per batch when encoding.
        seed: The run's seed: it draws the fixed samples and initializes the random-init encoder.
    """

    def __init__(self, config: MonitorConfig, splits: DatasetSplits, batch_size: int, seed: int) -> None:
        self.config, self.splits, self.batch_size, self.seed = config, splits, batch_size, seed
        self.train_batches: Batches = []
        self.val_batches: Batches = []
        self.baseline: dict[str, float] | None = None
        self.peaks: dict[str, float] = {}
        self.collapsed_at: int | None = None
        self.noted_fall = False
        self.latest: dict[str, float] = {}
        self._measured: dict[str, int] = {}

    @property
    def labels(self) -> LabelSpec | None:
        return self.splits.labels if self.config.probe and self.val_batches else None

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        cfg = self.config
        self.train_batches = fixed_batches(self.splits.train, cfg.samples, self.batch_size, self.seed)
        if cfg.probe and self.splits.labels is not None and self.splits.val is not None:
            self.val_batches = fixed_batches(self.splits.val, cfg.samples, self.batch_size, self.seed + 1)

    # ------------------------------------------------------------- hooks
    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if trainer.global_step % self.config.every_n_steps == 0:
            self.measure(trainer, pl_module, probe=False)

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            self.measure(trainer, pl_module, probe=True)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.measure(trainer, pl_module, probe=True)
        self.compare(trainer)
        others = self.other_poolings(pl_module, trainer.precision_plugin.forward_context)
        record(trainer, others)
        self.compare_readouts(trainer, pl_module.target_encoder.pooling, others)

    # ---------------------------------------------------------- measures
    def measure(self, trainer: L.Trainer, pl_module: L.LightningModule, probe: bool) -> None:
        """Log RankMe (and, with ``probe``, the probe's score) at this step, once per kind."""
        step = trainer.global_step
        kinds = ["rankme", "probe"] if probe and self.labels is not None else ["rankme"]
        kinds = [kind for kind in kinds if self._measured.get(kind) != step]
        if not kinds:
            return
        context = trainer.precision_plugin.forward_context
        values, embeddings = self.criteria(pl_module, context)
        if not bool(torch.isfinite(embeddings).all()):  # diverged weights: nothing meaningful to measure
            warnings.warn(f"monitor: the target encoder's embeddings are not finite at step {step}; not measured",
                          stacklevel=2)
            return
        if "probe" in kinds:
            values[self.probe_key()] = self.probe_score(pl_module.target_encoder, pl_module.device, context, embeddings)
        values.update(self.random_init_values(pl_module, context, "probe" in kinds))
        for kind in kinds:
            self._measured[kind] = step
        self.latest.update(values)
        record(trainer, values)
        self.check_collapse(trainer, values)

    def criteria(self, pl_module: L.LightningModule, context: Any) -> tuple[dict[str, float], torch.Tensor]:
        """The label-free criteria of the target encoder, and its pooled embeddings of the training samples."""
        cfg, encoder, device = self.config, pl_module.target_encoder, pl_module.device
        embeddings, tokens = encode(encoder, self.train_batches, device, context, cfg.token_samples)
        views = context_views(encoder, pl_module.masking, self.lidar_batches, cfg.lidar_views, device, context)
        if not bool(torch.isfinite(embeddings).all()):
            return {}, embeddings
        values = {
            "monitor/rankme": rankme(embeddings),
            "monitor/rankme_tokens": rankme(tokens),
            "monitor/lidar": lidar(views[: cfg.lidar_samples]),
            "monitor/retrieval": view_retrieval(views[: cfg.lidar_samples]),
            "monitor/embedding_std": float(embeddings.std(dim=0).mean()),
        }
        return values, embeddings

    @property
    def lidar_batches(self) -> Batches:
        """The first batches of the fixed training samples that hold ``monitor.lidar_samples`` samples."""
        chosen, total = [], 0
        for batch in self.train_batches:
            if total >= self.config.lidar_samples:
                break
            chosen.append(batch)
            total += batch_size_of(batch)
        return chosen

    def probe_key(self, prefix: str = "") -> str:
        assert self.labels is not None
        return f"probe/{prefix}val_{probe_metric(self.labels)}"

    def probe_score(self, encoder: Encoder, device: torch.device, context: Any, train: torch.Tensor) -> float:
        """The probe's score of ``encoder``, whose pooled embeddings of the training samples are ``train``."""
        assert self.labels is not None
        cfg = self.config
        if self.labels.per_token:
            pairs = (token_rows(encoder, self.train_batches, device, context),
                     token_rows(encoder, self.val_batches, device, context))
        else:
            val, _ = encode(encoder, self.val_batches, device, context)
            pairs = (train, labels_of(self.train_batches)), (val, labels_of(self.val_batches))
        return linear_probe(*pairs, self.labels, cfg.probe_lr, cfg.probe_steps, self.seed)

    def random_init_encoder(self, pl_module: L.LightningModule) -> Encoder:
        """An encoder of the run's architecture initialized from the run's seed (the same one at every call)."""
        recipe = pl_module.recipe
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            tokenizer = load_domain(recipe.domain).build_tokenizer(recipe.data, recipe.model.embed_dim)
            return Encoder(tokenizer, recipe.model).to(pl_module.device)

    def random_init_values(self, pl_module: L.LightningModule, context: Any, probe: bool) -> dict[str, float]:
        """RankMe and the probe's score of a random-init encoder (computed once, then logged beside each measure)."""
        if not self.config.random_init:
            return {}
        if self.baseline is None:
            encoder = self.random_init_encoder(pl_module)
            embeddings, _ = encode(encoder, self.train_batches, pl_module.device, context)
            self.baseline = {"monitor/random_init_rankme": rankme(embeddings)}
            if self.labels is not None:
                score = self.probe_score(encoder, pl_module.device, context, embeddings)
                self.baseline[self.probe_key("random_init_")] = score
        return {key: value for key, value in self.baseline.items() if probe or key.startswith("monitor/")}

    def other_poolings(self, pl_module: L.LightningModule, context: Any) -> dict[str, float]:
        """The probe's scores on the tokens pooled the ways the run's ``model.pooling`` does not
        (``probe/pooling_<name>/val_<metric>``), for the target encoder and, as ``.../random_init_val_<metric>``,
        the random-init one; empty without per-sample labels or with ``monitor.other_poolings`` off."""
        labels, cfg, device = self.labels, self.config, pl_module.device
        if labels is None or labels.per_token or not cfg.other_poolings:
            return {}
        encoders = {"": pl_module.target_encoder}
        if cfg.random_init:
            encoders["random_init_"] = self.random_init_encoder(pl_module)
        targets = labels_of(self.train_batches), labels_of(self.val_batches)
        values = {}
        for prefix, encoder in encoders.items():
            train, val = (encode_poolings(encoder, batches, device, context)
                          for batches in (self.train_batches, self.val_batches))
            for pooling in POOLINGS:
                if pooling == encoder.pooling or not bool(torch.isfinite(train[pooling]).all()):
                    continue
                score = linear_probe((train[pooling], targets[0]), (val[pooling], targets[1]), labels,
                                     cfg.probe_lr, cfg.probe_steps, self.seed)
                values[f"probe/pooling_{pooling}/{prefix}val_{probe_metric(labels)}"] = score
        return values

    def compare(self, trainer: L.Trainer) -> None:
        """Warn (and tag the MLflow run) when the trained encoder's probe ends below the random-init encoder's."""
        if self.labels is None or self.baseline is None:
            return
        trained = float(trainer.callback_metrics[self.probe_key()])
        initial = self.baseline[self.probe_key("random_init_")]
        if trained >= initial:
            return
        name = probe_metric(self.labels)
        message = (
            f"the pretrained encoder's linear probe ({name} {trained:.4f}) is below the random-init encoder's "
            f"({initial:.4f}): pretraining has not helped yet (train longer, or try another objective or recipe)"
        )
        warnings.warn(message, stacklevel=2)
        tag(trainer, "below_random_init", message)

    def compare_readouts(self, trainer: L.Trainer, own: str, others: dict[str, float]) -> None:
        """Warn (and tag the MLflow run) when, each encoder read by its best pooling, the random-init encoder's probe
        is ahead: then the gain at the recipe's pooling is the readout's, not the encoder's."""
        if self.labels is None or self.baseline is None or not others:
            return
        metric = probe_metric(self.labels)
        trained = {own: float(trainer.callback_metrics[self.probe_key()])}
        initial = {own: self.baseline[self.probe_key("random_init_")]}
        for key, value in others.items():
            pooling = key.split("/")[1].removeprefix("pooling_")
            (initial if "/random_init_val_" in key else trained)[pooling] = value
        best_trained, best_initial = max(trained, key=trained.get), max(initial, key=initial.get)
        if trained[best_trained] >= initial[best_initial]:
            return
        message = (
            f"read by its best pooling ({best_trained}, {metric} {trained[best_trained]:.4f}), the pretrained "
            f"encoder's linear probe is below the random-init encoder's read by its best ({best_initial}, "
            f"{initial[best_initial]:.4f}): a gain over random init at one pooling is that readout's, not a better "
            "encoder (try more data, or another objective or recipe)"
        )
        warnings.warn(message, stacklevel=2)
        tag(trainer, "below_random_init_best_readout", message)

    def check_collapse(self, trainer: L.Trainer, values: dict[str, float]) -> None:
        watched = {name: values[name] for name in ("monitor/rankme", "monitor/embedding_std")}
        for name, value in watched.items():
            self.peaks[name] = max(self.peaks.get(name, value), value)
        if self.collapsed_at is not None or trainer.global_step < self.config.collapse_after_steps:
            return
        fallen = [
            f"{name.split('/')[1]} {value:.4g} (peak {self.peaks[name]:.4g})"
            for name, value in watched.items()
            if value < self.config.collapse_ratio * self.peaks[name]
        ]
        if not fallen:
            return
        if self.probe_ahead():  # the labels say the representation is better than at the start: a fall, not a collapse
            if not self.noted_fall:
                rank_zero_info(
                    f"monitor: {', '.join(fallen)} at step {trainer.global_step}, below monitor.collapse_ratio of "
                    f"the peak, while the linear probe stays above the random-init encoder's "
                    f"({self.latest[self.probe_key()]:.4g} against {self.latest[self.probe_key('random_init_')]:.4g}): "
                    "not taken for a collapse"
                )
                self.noted_fall = True
            return
        self.collapsed_at = trainer.global_step
        message = f"representation collapse suspected at step {trainer.global_step}: " + ", ".join(fallen)
        warnings.warn(message, stacklevel=2)
        tag(trainer, "collapse", message)
        if self.config.stop_on_collapse:
            trainer.should_stop = True

    def probe_ahead(self) -> bool:
        """Whether the latest probe of the trained encoder scores above the random-init encoder's."""
        if self.labels is None:
            return False
        trained, random = self.latest.get(self.probe_key()), self.latest.get(self.probe_key("random_init_"))
        return trained is not None and random is not None and trained > random

    def state_dict(self) -> dict[str, Any]:
        return {"peaks": dict(self.peaks), "collapsed_at": self.collapsed_at}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.peaks = dict(state_dict["peaks"])
        self.collapsed_at = state_dict["collapsed_at"]


def record(trainer: L.Trainer, values: dict[str, float]) -> None:
    """Log ``values`` at the current step (first process only) and keep them as the run's latest metrics."""
    if trainer.is_global_zero:
        for logger in trainer.loggers:
            logger.log_metrics(values, step=trainer.global_step)
    trainer.callback_metrics.update({name: torch.tensor(value) for name, value in values.items()})


def tag(trainer: L.Trainer, name: str, message: str) -> None:
    """Set an MLflow tag on the run (first process only)."""
    for logger in trainer.loggers:
        if hasattr(logger, "experiment") and hasattr(logger, "run_id") and trainer.is_global_zero:
            logger.experiment.set_tag(logger.run_id, name, message)
