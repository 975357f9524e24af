"""The DataModule every domain shares: the plugin supplies datasets (or prepared shards), the core the loaders."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_info
from torch.utils.data import DataLoader, Dataset, IterableDataset
from torchdata.stateful_dataloader import StatefulDataLoader
from torchdata.stateful_dataloader.sampler import RandomSampler

from ..domain.contract import DataConfig, DatasetSplits, DomainPlugin
from ..errors import JepaError


def batch_size_of(batch: Any) -> int:
    """Number of samples in a collated batch (a tensor, or a dict/list/tuple holding tensors)."""
    if isinstance(batch, torch.Tensor):
        return batch.shape[0]
    values = batch.values() if isinstance(batch, dict) else batch
    for value in values:
        if isinstance(value, (torch.Tensor, dict, list, tuple)):
            return batch_size_of(value)
    raise ValueError("cannot tell the batch size: no tensor in the batch")


def dataset_size(dataset: Dataset) -> int:
    """Samples in a map-style dataset, or in a :class:`~.shards.ShardedDataset` (all ranks together)."""
    return dataset.num_samples if isinstance(dataset, IterableDataset) else len(dataset)


class JEPADataModule(L.LightningDataModule):
    """Loaders over a domain's datasets, or over prepared shards when ``data.path`` is a shard folder.

    Shards are read rank- and worker-aware (see :class:`~.shards.ShardedDataset`),
    the domain's datasets through Lightning's distributed sampler. The training
    loader is stateful: a checkpoint holds its position (the sampler's order
    and how far into it; for shards, how many batches were read), so a resumed
    run continues with the batch it would have seen next.

    Args:
        plugin: The domain.
        data: Its resolved ``data`` recipe section.
        batch_size: Samples per step on each device.
        num_workers: Loader worker processes (0 loads in the training process); ``None``: as many as
            :func:`~..runs.folder.auto_workers` gives for the trainer's devices on this node, logged once.
        seed: Seeds the shuffling order.
        cache_dir: Where the domain keeps generated demo data.
    """

    def __init__(
        self,
        plugin: DomainPlugin,
        data: DataConfig,
        batch_size: int,
        num_workers: int | None,
        seed: int,
        cache_dir: Path,
    ) -> None:
        super().__init__()
        self.plugin, self.data, self.cache_dir = plugin, data, cache_dir
        self.batch_size, self.num_workers, self.seed = batch_size, num_workers, seed
        self.splits: DatasetSplits | None = None

    def prepare_data(self) -> None:
        self.plugin.ensure_data(self.data, self.cache_dir)

    def setup(self, stage: str | None = None) -> None:
        if self.splits is not None:
            return
        from .shards import ShardSet

        shards = ShardSet.find(self.data.path) if isinstance(self.data.path, str) else None
        if shards is not None:
            shards.check(self.plugin, self.data)
            self.splits = shards.splits(self.seed)
        else:
            self.splits = self.plugin.build_datasets(self.plugin.data_root(self.data, self.cache_dir), self.data)
        size = dataset_size(self.splits.train)
        if size == 0:
            raise JepaError("the training set is empty")
        if size < self.batch_size:
            warnings.warn(
                f"the training set has {size} samples, fewer than trainer.batch_size={self.batch_size}; "
                f"using batches of {size}",
                stacklevel=2,
            )
            self.batch_size = size
        val = 0 if self.splits.val is None else dataset_size(self.splits.val)
        source = "shards" if shards is not None else "data"
        for note in self.splits.notes:
            rank_zero_info(f"{self.plugin.name} {source}: {note}")
        held = f"{val} validation samples"
        if not val:
            held += ": nothing held out (too little data, or no validation share), so no validation loss or probe score"
        rank_zero_info(f"{self.plugin.name} {source}: {size} training samples, {held}")

    def workers(self) -> int:
        """Loader workers per process: as given, or (``None``) from the CPU cores and this node's devices."""
        if self.num_workers is None:
            from ..runs.folder import auto_workers

            self.num_workers, line = auto_workers(self.trainer.num_devices if self.trainer is not None else 1)
            rank_zero_info(f"{self.plugin.name} data: {line}")
        return self.num_workers

    def _loader(self, dataset: Dataset, train: bool) -> DataLoader | StatefulDataLoader:
        count = self.workers()
        workers = dict(num_workers=count, persistent_workers=count > 0, pin_memory=torch.cuda.is_available())
        if isinstance(dataset, IterableDataset):  # shards: batched by the dataset itself, for this rank
            from .shards import fit_readers

            trainer = self.trainer
            rank, world = (trainer.global_rank, trainer.world_size) if trainer is not None else (None, None)
            dataset = dataset.configured(
                batch_size=self.batch_size, rank=rank, world_size=world, epoch=trainer.current_epoch if trainer else 0
            )
            if train:  # as many readers as get a whole batch each, or one smaller batch per process
                fitted, drop_last, change = fit_readers(
                    dataset.num_samples, world or 1, count, self.batch_size
                )
                if change:
                    rank_zero_info(f"{self.plugin.name} shards: {change}")
                dataset = dataset.configured(drop_last=drop_last)
                workers.update(num_workers=fitted, persistent_workers=fitted > 0)
            loader = StatefulDataLoader if train else DataLoader
            return loader(dataset, batch_size=None, **workers)
        if not train:
            return DataLoader(dataset, batch_size=self.batch_size, **workers)
        # The order's generator is the sampler's alone (the loader draws worker seeds from its own), so the
        # position saved in a checkpoint gives the same order for this epoch and the next ones.
        order = RandomSampler(dataset, generator=torch.Generator().manual_seed(self.seed))
        return StatefulDataLoader(
            dataset, batch_size=self.batch_size, sampler=order, drop_last=True,
            generator=torch.Generator().manual_seed(self.seed + 1), **workers,
        )

    def train_dataloader(self) -> DataLoader | StatefulDataLoader:
        assert self.splits is not None
        return self._loader(self.splits.train, train=True)

    def val_dataloader(self) -> DataLoader | list:
        assert self.splits is not None
        if self.splits.val is None or dataset_size(self.splits.val) == 0:
            return []
        return self._loader(self.splits.val, False)
