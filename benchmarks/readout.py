"""Which pooling of the frozen tokens shows what pretraining learned? The monitor's linear probe on several readouts.

For each pretraining run folder: its target encoder and a random-init encoder of
the same architecture and seed (as the monitor builds it) embed the monitor's
fixed training and validation samples; the monitor's linear probe
(``pretrain.probe.linear_probe``, the run's ``probe_lr`` and ``probe_steps``) is
fitted on each pooling of the tokens (``model.pooling``): the mean of the valid
tokens, their mean and standard deviation concatenated, and their maximum.
Prints one row per run and readout, the run's own pooling marked, and the mean
and spread over runs. Each run's rows are its end-of-run line again (the probe
on its own pooling and, with ``monitor.other_poolings``, on the others).

    .venv/bin/python benchmarks/readout.py runs/sar-s0 runs/sar-s1 runs/sar-s2
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from jepa_platform.data.datamodule import JEPADataModule
from jepa_platform.domain import DomainPlugin, LabelSpec, cache_dir, load_domain
from jepa_platform.downstream.pretrained import load_encoder
from jepa_platform.model import Encoder, Pooling
from jepa_platform.pretrain.config import Recipe, recipe_model
from jepa_platform.pretrain.monitor import POOLINGS, encode_poolings, fixed_batches, labels_of
from jepa_platform.pretrain.probe import linear_probe


@dataclass
class MonitorView:
    """A finished run as its monitor saw it: the resolved recipe, its plugin and labels, the fixed training and
    validation batches, and the random-init encoder of the same architecture and seed."""

    recipe: Recipe
    plugin: DomainPlugin
    labels: LabelSpec
    train: list[Any]
    val: list[Any]
    random_init: Encoder


def run_config(run: Path) -> dict[str, Any]:
    """The resolved recipe a pretraining run folder saved; exits when ``run`` is not one."""
    if not (run / "config.yaml").is_file():
        raise SystemExit(f"{run}: not a pretraining run folder (no config.yaml)")
    return yaml.safe_load((run / "config.yaml").read_text())


def monitor_view(run: Path) -> MonitorView:
    """The :class:`MonitorView` of a pretraining run folder (its ``config.yaml``); exits when the run's data has no
    per-sample labels or validation split."""
    saved = run_config(run)
    plugin = load_domain(saved["domain"])
    recipe = recipe_model(plugin).model_validate(saved)
    monitor, batch_size = recipe.monitor, recipe.trainer.batch_size
    datamodule = JEPADataModule(plugin, recipe.data, batch_size, 0, recipe.seed, cache_dir())
    datamodule.prepare_data()
    datamodule.setup("fit")
    splits = datamodule.splits
    if splits.labels is None or splits.val is None or splits.labels.per_token:
        raise SystemExit(f"{run}: the monitor's probe needs per-sample labels and a validation split")
    train = fixed_batches(splits.train, monitor.samples, batch_size, recipe.seed)
    val = fixed_batches(splits.val, monitor.samples, batch_size, recipe.seed + 1)
    torch.manual_seed(recipe.seed)  # the monitor's random-init encoder
    random_init = Encoder(plugin.build_tokenizer(recipe.data, recipe.model.embed_dim), recipe.model).eval()
    return MonitorView(recipe, plugin, splits.labels, train, val, random_init)


def scores(run: Path) -> tuple[Pooling, dict[str, tuple[float, float]]]:
    """The run's own pooling, and ``readout -> (pretrained, random init)`` probe scores of one run folder."""
    view = monitor_view(run)
    monitor, seed = view.recipe.monitor, view.recipe.seed
    pretrained = load_encoder(run / "checkpoints" / "last.ckpt")
    cpu = torch.device("cpu")
    encoded = {which: (encode_poolings(encoder, view.train, cpu), encode_poolings(encoder, view.val, cpu))
               for which, encoder in (("pretrained", pretrained), ("random", view.random_init))}
    targets = labels_of(view.train), labels_of(view.val)
    result = {}
    for name in POOLINGS:
        result[name] = tuple(
            linear_probe((encoded[which][0][name], targets[0]), (encoded[which][1][name], targets[1]),
                         view.labels, monitor.probe_lr, monitor.probe_steps, seed)
            for which in ("pretrained", "random")
        )
    return view.recipe.model.pooling, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", type=Path, nargs="+", help="pretraining run folders (config.yaml, checkpoints/)")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    table = {run: scores(run) for run in args.runs}
    print("| run | readout | pretrained | random init | difference |\n|---|---|---:|---:|---:|")
    names = [run.name for run in args.runs]
    for run, (own, rows) in table.items():
        shown = run.name if names.count(run.name) == 1 else str(run)
        for name, (pretrained, random_init) in rows.items():
            label = f"{name} (the run's)" if name == own else name
            print(f"| {shown} | {label} | {pretrained:.3f} | {random_init:.3f} | {pretrained - random_init:+.3f} |")
    for name in POOLINGS:
        pretrained, random_init = (np.array([table[run][1][name][i] for run in args.runs]) for i in (0, 1))
        print(f"| mean of {len(args.runs)} | {name} | {pretrained.mean():.3f} ± {pretrained.std():.3f} "
              f"| {random_init.mean():.3f} ± {random_init.std():.3f} | {pretrained.mean() - random_init.mean():+.3f} |")


if __name__ == "__main__":
    main()
