"""Data parallelism on 2 CPU processes (gloo), launched like torchrun: DDP and FSDP2 train exactly
like one process on the same global batch; the EMA teacher, RankMe queue and SIGReg stay consistent."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import lightning as L
import pytest
import torch
import torch.multiprocessing as mp
from jepa_platform.data.datamodule import JEPADataModule
from jepa_platform.data.prepare import prepare
from jepa_platform.data.shards import ShardSet
from jepa_platform.domain.registry import load_domain
from jepa_platform.errors import JepaError
from jepa_platform.masking import Masks, mask_seed
from jepa_platform.pretrain import module
from jepa_platform.pretrain.callbacks import LastCheckpoint
from jepa_platform.pretrain.config import Recipe, resolve_recipe
from jepa_platform.pretrain.module import JEPAModule
from jepa_platform.pretrain.monitor import RepresentationMonitor
from jepa_platform.pretrain.run import build_trainer
from torch.distributed.tensor import DTensor
from torch.utils.data import IterableDataset

BATCH, STEPS = 4, 3  # per process
RUNS = [("ddp", "ema"), ("ddp", "sigreg"), ("fsdp2", "ema")]


def tiny_recipe(shards: Path, strategy: str, objective: str, devices: int) -> Recipe:
    return resolve_recipe("ecg", overrides={
        "data": {"path": str(shards)},
        "model": {"preset": "vit_tiny", "embed_dim": 32, "num_heads": 2, "depth": 1,
                  "predictor_dim": 16, "predictor_heads": 2, "predictor_depth": 1},
        "masking": {"min_block": 5},
        "objective": {"kind": objective, "sigreg": {"slices": 16}},
        "optim": {"warmup_fraction": 0.0},
        "monitor": {"every_n_steps": 1},
        "trainer": {"max_steps": STEPS, "batch_size": BATCH * 2 // devices, "num_workers": 0, "accelerator": "cpu",
                    "devices": devices, "strategy": strategy if devices > 1 else "auto"},
    })


class Recorder(L.Callback):
    def __init__(self) -> None:
        self.losses: list[float] = []
        self.batches: list[tuple[dict, torch.Tensor]] = []  # each step's samples and target masks

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.losses.append(float(outputs["loss"]))
        self.batches.append(({key: value.clone() for key, value in batch[0].items()}, batch[2].targets.clone()))


def fit(module: JEPAModule, recipe: Recipe, out: Path, datamodule: L.LightningDataModule) -> dict[str, Any]:
    splits = ShardSet.find(recipe.data.path).splits(recipe.seed)  # the monitor's fixed samples: alike everywhere
    recorder, monitor = Recorder(), RepresentationMonitor(recipe.monitor, splits, BATCH, recipe.seed)
    callbacks = [LastCheckpoint(out / "last.ckpt", recipe.trainer.checkpoint_every_n_steps), monitor, recorder]
    trainer = build_trainer(recipe, callbacks, out, logger=False)
    trainer.fit(module, datamodule=datamodule)
    weights = {
        name: (value.full_tensor() if isinstance(value, DTensor) else value).detach().clone()
        for name, value in module.state_dict().items()
    }
    return {"losses": recorder.losses, "weights": weights, "monitor": dict(monitor.latest), "batches": recorder.batches}


def _rank(rank: int, port: int, shards: Path, out: Path, results: dict) -> None:
    os.environ.update(  # what torchrun sets
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank), GROUP_RANK="0",
        WORLD_SIZE="2", LOCAL_WORLD_SIZE="2",
    )
    torch.set_num_threads(1)
    seeded_by_rank = module.mask_seed
    for strategy, objective in [*RUNS, ("ddp", "masks")]:
        # the comparisons with one process need the same masks on both ranks; the last run draws them per rank
        module.mask_seed = seeded_by_rank if objective == "masks" else lambda seed, step, *_: seed_by_step(seed, step)
        recipe = tiny_recipe(shards, strategy, "ema" if objective == "masks" else objective, devices=2)
        L.seed_everything(recipe.seed, verbose=False)
        datamodule = JEPADataModule(load_domain("ecg"), recipe.data, BATCH, 0, recipe.seed, out)
        run = fit(JEPAModule(recipe.to_dict()), recipe, out / f"{strategy}-{objective}", datamodule)
        results[(strategy, objective, rank)] = run


def seed_by_step(seed: int, step: int) -> int:
    return mask_seed(seed, step)


class GlobalBatches(IterableDataset):
    """Each step, the two ranks' batches concatenated: the global batch of a 2-process run."""

    def __init__(self, parts: list) -> None:
        self.parts = parts

    def __iter__(self):
        for halves in zip(*self.parts):
            yield {key: torch.cat([half[key] for half in halves]) for key in halves[0]}


class GlobalData(L.LightningDataModule):
    def __init__(self, shards: Path, seed: int) -> None:
        super().__init__()
        train = ShardSet.find(shards).splits(seed).train
        self.dataset = GlobalBatches([train.configured(batch_size=BATCH, rank=r, world_size=2) for r in (0, 1)])

    def train_dataloader(self):
        return torch.utils.data.DataLoader(self.dataset, batch_size=None)


class SameMasksPerHalf(JEPAModule):
    """One process emulating two: each half of the global batch gets the masks its rank would draw."""

    def prepare_batch(self, batch, seed):
        half = {key: value[: len(value) // 2] for key, value in batch.items()}
        _, valid, masks = super().prepare_batch(half, seed)
        assert valid is None
        return batch, None, Masks(masks.context.repeat(2, 1), masks.targets.repeat(2, 1, 1))


@pytest.fixture(scope="module")
def demo_shards(tmp_path_factory) -> Path:
    recipe = resolve_recipe("ecg", overrides={"data": {"demo_records": 40}})
    out = tmp_path_factory.mktemp("shards") / "ecg"
    prepare(load_domain("ecg"), recipe.data, out, Path(os.environ["JEPA_PLATFORM_CACHE"]), shard_size=8, workers=1)
    return out


@pytest.fixture(scope="module")
def two_ranks(demo_shards, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("ranks")
    with mp.Manager() as manager:
        results = manager.dict()
        port = 29500 + os.getpid() % 2000
        mp.spawn(_rank, args=(port, demo_shards, out, results), nprocs=2, join=True)
        return {**dict(results), "out": out}


def reference(demo_shards: Path, objective: str, tmp_path: Path) -> dict[str, Any]:
    recipe = tiny_recipe(demo_shards, "auto", objective, devices=1)
    L.seed_everything(recipe.seed, verbose=False)
    return fit(SameMasksPerHalf(recipe.to_dict()), recipe, tmp_path, GlobalData(demo_shards, recipe.seed))


@pytest.mark.parametrize("strategy,objective", RUNS)
def test_data_parallel_training_equals_one_process_on_the_global_batch(two_ranks, demo_shards, tmp_path, strategy, objective):
    ranks = [two_ranks[(strategy, objective, rank)] for rank in (0, 1)]
    single = reference(demo_shards, objective, tmp_path)
    assert len(single["losses"]) == STEPS and ranks[0]["losses"] != ranks[1]["losses"]  # the ranks read other samples
    # the loss of the global batch is the mean of the ranks' losses, at every step (weights stay in step)
    mean = torch.tensor(ranks[0]["losses"]) / 2 + torch.tensor(ranks[1]["losses"]) / 2
    torch.testing.assert_close(mean, torch.tensor(single["losses"]), rtol=1e-5, atol=1e-6)
    for name, expected in single["weights"].items():  # encoder, predictor and the EMA teacher
        assert torch.equal(ranks[0]["weights"][name], ranks[1]["weights"][name]), name
        torch.testing.assert_close(ranks[0]["weights"][name], expected, rtol=1e-4, atol=1e-5, msg=name)
    # every rank measures the same (sharded) target encoder on the same fixed samples as one process does
    assert ranks[0]["monitor"] == ranks[1]["monitor"] and "monitor/rankme" in single["monitor"]
    for name, value in single["monitor"].items():
        assert ranks[0]["monitor"][name] == pytest.approx(value, rel=1e-3, abs=1e-4), name
    # rank 0 wrote one full checkpoint, loadable without the sharding
    checkpoint = torch.load(two_ranks["out"] / f"{strategy}-{objective}" / "last.ckpt", weights_only=True)
    for name, value in checkpoint["state_dict"].items():
        torch.testing.assert_close(value, ranks[0]["weights"][name], msg=name)


def test_unknown_strategy_is_a_clear_error(demo_shards, tmp_path):
    recipe = tiny_recipe(demo_shards, "auto", "ema", devices=1)
    recipe.trainer.strategy = "dpp"
    with pytest.raises(JepaError, match="trainer.strategy.*'dpp'.*ddp"):
        build_trainer(recipe, [], tmp_path, logger=False)


def test_each_rank_draws_its_own_masks_reproducibly(two_ranks, demo_shards):
    ranks = [two_ranks[("ddp", "masks", rank)]["batches"] for rank in (0, 1)]
    recipe = tiny_recipe(demo_shards, "auto", "ema", devices=1)
    again = JEPAModule(recipe.to_dict())
    assert len(ranks[0]) == len(ranks[1]) == STEPS
    for step in range(STEPS):
        assert not torch.equal(ranks[0][step][1], ranks[1][step][1]), f"both ranks drew the same masks at step {step}"
        for rank in (0, 1):  # the masks follow from (seed, step, rank) alone: drawn again here, they are the same
            batch, targets = ranks[rank][step]
            redrawn = again.prepare_batch(batch, mask_seed(recipe.seed, step, rank, 2))[2].targets
            assert torch.equal(redrawn, targets), (step, rank)
