"""Does pretraining make a better encoder? Random init, pretrained and a supervised ceiling on every domain's demo.

For each domain and seed: a pretraining run of the domain's demo recipe (with
``--objectives``, each objective in turn; ``default`` keeps the recipe's),
whose monitor scores the pretrained encoder and a random-init encoder of the
same architecture and seed with the same linear probe on the same samples
(``probe/val_*`` and ``probe/random_init_val_*``); then the ceiling: the same
architecture trained end to end with every training label (encoder and a
linear head on the pooled tokens, or on each token for a per-token label set) at its own learning rate (``--ceiling-lr``;
a pretraining rate of 3e-3 makes the supervised ECG run diverge), scored on the
same validation samples with the same metric. The table gives mean ± std over seeds and the share of the
headroom pretraining closes, ``(pretrained - random) / (ceiling - random)``.
A second table reads both encoders every way (the recipe's pooling and the
two the monitor scores besides) and each at its best: where a random-init
encoder is read better by another pooling, the gain at the recipe's is the
readout's, not the encoder's. Finished runs are reused, so an interrupted
benchmark continues.

    .venv/bin/python benchmarks/quality.py --out runs/quality                       # every domain, 3 seeds
    .venv/bin/python benchmarks/quality.py --out runs/quality --domains ecg --objectives default ema
    .venv/bin/python benchmarks/quality.py --out runs/q-digits --domains tabular --set data.demo_table=digits
    .venv/bin/python benchmarks/quality.py --out T --domains tabular --seeds 0 --steps 4 --ceiling-steps 4  # smoke
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from jepa_platform.config import deep_merge, parse_overrides
from jepa_platform.data.datamodule import JEPADataModule
from jepa_platform.domain import cache_dir, load_domain
from jepa_platform.model import Encoder, pooled, pooled_width
from jepa_platform.pretrain.config import Recipe, resolve_recipe
from jepa_platform.pretrain.monitor import POOLINGS, fixed_batches
from jepa_platform.pretrain.probe import probe_metric, probe_score
from jepa_platform.pretrain.run import pretrain

DOMAINS = ("ecg", "eeg", "sar", "tabular", "lidar")


def pretrained_scores(recipe: Recipe, out: Path) -> dict[str, Any]:
    """Pretrain ``recipe`` into ``out`` (unless done) and return its final probe scores and wall time."""
    saved = out / "scores.json"
    if saved.is_file():
        return json.loads(saved.read_text())
    start = time.perf_counter()
    summary = pretrain(recipe, out)
    metrics = summary.metrics
    key = next(k for k in ("probe/val_auc", "probe/val_accuracy", "probe/val_mean_ap") if k in metrics)
    metric = key.split("/val_", 1)[1]
    scores = {
        "metric": metric,
        "pretrained": metrics[key],
        "random": metrics[key.replace("/val_", "/random_init_val_")],
        "rankme": metrics["monitor/rankme"],
        "seconds": time.perf_counter() - start,
        "pooling": recipe.model.pooling,
        "poolings": readouts(metrics, metric),
    }
    saved.write_text(json.dumps(scores, indent=1))
    return scores


def readouts(metrics: dict[str, float], metric: str) -> dict[str, dict[str, float]]:
    """The probe on the other poolings the run's monitor scored at the end (``probe/pooling_<name>/...``), per pooling
    ``{"pretrained": ..., "random": ...}``; empty for a per-token label set or without random init."""
    found = {}
    for pooling in POOLINGS:
        key = f"probe/pooling_{pooling}/{{}}val_{metric}"
        trained, random = metrics.get(key.format("")), metrics.get(key.format("random_init_"))
        if trained is not None and random is not None:
            found[pooling] = {"pretrained": trained, "random": random}
    return found


def ceiling_score(recipe: Recipe, steps: int, lr: float, out: Path) -> dict[str, Any]:
    """The encoder and a linear head (on the tokens pooled as the recipe's ``model.pooling``) trained end to end on
    every training label, scored like the probe."""
    saved = out / "ceiling.json"
    pooling = recipe.model.pooling
    if saved.is_file():
        previous = json.loads(saved.read_text())
        if (previous.get("lr"), previous.get("steps"), previous.get("pooling", "mean")) == (lr, steps, pooling):
            return previous
    start = time.perf_counter()
    plugin, cfg = load_domain(recipe.domain), recipe.trainer
    datamodule = JEPADataModule(plugin, recipe.data, cfg.batch_size, 0, recipe.seed, cache_dir())
    datamodule.prepare_data()
    datamodule.setup("fit")
    splits, labels = datamodule.splits, datamodule.splits.labels
    assert labels is not None and splits.val is not None, f"{recipe.domain}: the demo needs labels and a val split"
    torch.manual_seed(recipe.seed)
    encoder = Encoder(plugin.build_tokenizer(recipe.data, recipe.model.embed_dim), recipe.model)
    head = torch.nn.Linear(pooled_width(recipe.model.embed_dim, recipe.model.pooling), len(labels.names))
    params = [*encoder.parameters(), *head.parameters()]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.05)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, lr, total_steps=steps, pct_start=0.1)
    loader = torch.utils.data.DataLoader(
        splits.train, batch_size=cfg.batch_size, shuffle=True, drop_last=True,
        generator=torch.Generator().manual_seed(recipe.seed),
    )

    def logits(batch: Any) -> torch.Tensor:
        """``B × C`` logits, or ``B·N × C`` for a per-token label set (one row per token)."""
        tokens = encoder(batch)
        if labels.per_token:
            return head(tokens).flatten(0, 1)
        return head(pooled(tokens, encoder.tokenizer.valid_mask(batch), encoder.pooling))

    def targets(batch: Any) -> torch.Tensor:
        label = batch["label"]
        return label.float() if labels.multilabel else label.long().flatten()

    step = 0
    while step < steps:
        for batch in loader:
            if labels.multilabel:
                loss = F.binary_cross_entropy_with_logits(logits(batch), targets(batch))
            else:
                loss = F.cross_entropy(logits(batch), targets(batch), ignore_index=-1)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            schedule.step()
            step += 1
            if step == steps:
                break
    val = fixed_batches(splits.val, recipe.monitor.samples, cfg.batch_size, recipe.seed + 1)  # the probe's samples
    encoder.eval()
    with torch.no_grad():
        value = probe_score(torch.cat([logits(batch) for batch in val]), torch.cat([targets(b) for b in val]), labels)
    result = {
        "metric": probe_metric(labels), "ceiling": value, "lr": lr, "steps": steps, "pooling": pooling,
        "seconds": time.perf_counter() - start,
    }
    saved.write_text(json.dumps(result, indent=1))
    return result


def objective_name(recipe: Recipe) -> str:
    """``ema``, ``sigreg``, ``domain targets`` or ``ema + domain targets``: what the run regressed."""
    objective = recipe.objective
    if objective.target == "domain":
        return "domain targets"
    return objective.kind + (" + domain targets" if objective.target == "both" else "")


def cell(values: list[float]) -> str:
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}" if len(values) > 1 else f"{values[0]:.3f}"


def table(rows: list[dict[str, Any]]) -> str:
    """Mean ± std over seeds per (domain, objective), and the headroom share pretraining closes."""
    lines = [
        "| domain | objective | metric | seeds | random init | pretrained | ceiling | share closed | pretrain s |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for domain, objective in dict.fromkeys((row["domain"], row["objective"]) for row in rows):
        group = [row for row in rows if row["domain"] == domain and row["objective"] == objective]
        random, trained, ceiling = ([row[key] for row in group] for key in ("random", "pretrained", "ceiling"))
        headroom = np.mean(ceiling) - np.mean(random)
        share = f"{(np.mean(trained) - np.mean(random)) / headroom:.2f}" if headroom > 0 else "no headroom"
        seconds = np.mean([row["seconds"] for row in group])
        lines.append(
            f"| {domain} | {objective} | {group[0]['metric']} | {len(group)} | {cell(random)} | {cell(trained)} | "
            f"{cell(ceiling)} | {share} | {seconds:.0f} |"
        )
    return "\n".join(lines)


def by_pooling(row: dict[str, Any]) -> dict[str, dict[str, float]]:
    """A row's probe scores per pooling: the run's own and those its monitor scored besides."""
    own = {row.get("pooling", "mean"): {"pretrained": row["pretrained"], "random": row["random"]}}
    return {**own, **row.get("poolings", {})}


def readout_table(rows: list[dict[str, Any]]) -> str:
    """Each encoder read every way, and each at its best readout: how much of the gain is the encoder's rather than
    the readout's (a random-init encoder's tokens may be read better by another pooling than the recipe's)."""
    lines = [
        "| domain | objective | readout | random init | pretrained | difference |",
        "|---|---|---|---:|---:|---:|",
    ]
    for domain, objective in dict.fromkeys((row["domain"], row["objective"]) for row in rows):
        members = [row for row in rows if row["domain"] == domain and row["objective"] == objective]
        group = [by_pooling(row) for row in members]
        poolings = [name for name in POOLINGS if all(name in scores for scores in group)]
        if len(poolings) < 2:
            continue
        means = {}
        for name in poolings:
            random, trained = ([scores[name][key] for scores in group] for key in ("random", "pretrained"))
            means[name] = np.mean(random), np.mean(trained)
            own = " (the recipe's)" if name == members[0].get("pooling", "mean") else ""
            lines.append(f"| {domain} | {objective} | {name}{own} | {cell(random)} | {cell(trained)} | "
                         f"{np.mean(trained) - np.mean(random):+.3f} |")
        best_random = max(poolings, key=lambda name: means[name][0])
        best_trained = max(poolings, key=lambda name: means[name][1])
        random, trained = means[best_random][0], means[best_trained][1]
        best = f"best of each (random init: {best_random}, pretrained: {best_trained})"
        lines.append(f"| {domain} | {objective} | {best} | {random:.3f} | {trained:.3f} | {trained - random:+.3f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the runs and results.json")
    parser.add_argument("--domains", nargs="+", default=list(DOMAINS), choices=DOMAINS)
    parser.add_argument("--objectives", nargs="+", default=["default"], choices=["default", "ema", "sigreg"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, help="pretraining steps (default: the demo recipe's)")
    parser.add_argument("--ceiling-steps", type=int, help="supervised steps (default: twice the pretraining steps)")
    parser.add_argument("--ceiling-lr", type=float, default=1e-3, help="peak learning rate of the supervised ceiling")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE",
                        help="recipe overrides for every run, e.g. data.demo_table=digits")
    args = parser.parse_args()
    pairs = [tuple(item.split("=", 1)) for item in args.set]
    if any(len(pair) != 2 for pair in pairs):
        parser.error("--set takes KEY=VALUE pairs")
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    torch.set_num_threads(args.threads)
    rows = []
    for domain in args.domains:
        for objective in args.objectives:
            for seed in args.seeds:
                overrides: dict[str, Any] = deep_merge(parse_overrides(pairs), {"seed": seed})
                if objective != "default":
                    overrides = deep_merge(overrides, {"objective": {"kind": objective}})
                if args.steps:
                    overrides = deep_merge(overrides, {"trainer": {"max_steps": args.steps}})
                recipe = resolve_recipe(domain, overrides=overrides)
                folder = args.out / domain / f"{objective}-seed{seed}"
                scores = pretrained_scores(recipe, folder / "pretrain")
                steps = args.ceiling_steps or 2 * recipe.trainer.max_steps
                ceiling = ceiling_score(recipe, steps, args.ceiling_lr, folder)
                row = {"domain": domain, "objective": objective_name(recipe), "seed": seed, **scores,
                       "ceiling": ceiling["ceiling"]}
                rows.append(row)
                print(json.dumps(row), flush=True)
    (args.out / "results.json").write_text(json.dumps(rows, indent=1))
    print("\n" + table(rows))
    readouts_by_pooling = readout_table(rows)
    if readouts_by_pooling.count("\n") > 1:
        print("\nEvery readout (the same linear probe on the tokens pooled each way):\n" + readouts_by_pooling)


if __name__ == "__main__":
    main()
