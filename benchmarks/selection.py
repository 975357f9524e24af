"""Label-free model selection: which criterion ranks pretraining runs as their linear probe does?

Pretrains a sweep of runs per method (objective) on the ECG demo, each varying
the settings a user would vary (learning rate, mask ratio, depth, and EMA
momentum or SIGReg's lambda, drawn from a seeded grid), and reads back what
``jepa-platform select`` reads: each run's final label-free criteria
(``monitor/rankme``, ``monitor/rankme_tokens``, ``monitor/lidar``, ``monitor/retrieval``, and for
SIGReg runs the training SIGReg loss ``train/sigreg``, lower is better) and its
final frozen linear probe (``probe/val_auc``, the monitor's probe on the
target encoder). Reports, per method, the Spearman correlation of each
criterion with the probe, with the sign that makes agreement positive.

How far a criterion can agree is bounded by how far the labels agree with
themselves, so a second table ranks the same runs by label-based scores
alone: the probe read with the other poolings the monitor scores, and, with
several ``--pretrain-seeds``, one seed's probe against another's (each
setting pretrained once per seed; criteria and probe are then the mean over
seeds). Finished runs are reused and interrupted ones continued from their last
checkpoint, so an interrupted sweep continues where it stopped.

    .venv/bin/python benchmarks/selection.py --out runs/selection                    # 10 runs per method, 200 steps
    .venv/bin/python benchmarks/selection.py --out T --runs-per-method 3 --steps 2 --demo-records 60   # smoke test
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import logging
import random
import re
import time
from pathlib import Path
from statistics import fmean
from typing import Any

import torch
from jepa_platform.config import deep_merge
from jepa_platform.pretrain.config import resolve_recipe
from jepa_platform.pretrain.run import has_checkpoint, pretrain
from jepa_platform.pretrain.select import CRITERIA, final_of_folder, score, spearman

READOUT_KEY = re.compile(r"probe/pooling_(\w+)/val_\w+")
COMMON_GRID: dict[str, list[dict[str, Any]]] = {
    "lr": [{"optim": {"lr": lr}} for lr in (3e-4, 1e-3, 3e-3)],
    "keep": [{"masking": {"keep_ratio": ratio}} for ratio in ([0.1, 0.2], [0.15, 0.25], [0.3, 0.4])],
    "depth": [{"model": {"depth": depth}} for depth in (2, 4)],
}
METHOD_GRID: dict[str, dict[str, list[dict[str, Any]]]] = {
    "ema": {"momentum": [{"objective": {"kind": "ema", "ema_momentum": m}} for m in ([0.99, 0.999], [0.996, 1.0])]},
    "sigreg": {"lambda": [{"objective": {"kind": "sigreg", "sigreg": {"weight": w}}} for w in (0.02, 0.05, 0.1, 0.3)]},
}


def sweep(method: str, runs: int, seed: int) -> list[dict[str, Any]]:
    """``runs`` distinct override sets for ``method``: combinations of the grids, drawn without replacement."""
    combinations = list(itertools.product(*{**COMMON_GRID, **METHOD_GRID[method]}.values()))
    if runs > len(combinations):
        raise SystemExit(f"{method}: the grid holds {len(combinations)} combinations, fewer than {runs} runs")
    drawn = random.Random(f"{method}-{seed}").sample(combinations, runs)
    return [functools.reduce(deep_merge, parts, {}) for parts in drawn]


def agreement(rows: list[dict[str, Any]], criterion: str) -> float | None:
    """Spearman correlation of ``criterion`` with the probe over ``rows``, signed so that agreement is positive."""
    pairs = [(row["criteria"][criterion], row["probe"]) for row in rows if row["criteria"].get(criterion) is not None]
    return spearman([a for a, _ in pairs], [b for _, b in pairs], CRITERIA[criterion].higher_is_better)


def pretrained_run(folder: Path, recipe: dict[str, Any]) -> dict[str, Any]:
    """Pretrain ``recipe`` into ``folder`` unless it holds a finished run (one that was interrupted is continued
    from its last checkpoint, or started again if it stopped before one); its probe, criteria and the probe at
    each other pooling the monitor scored (``probe/pooling_<name>/val_<metric>``)."""
    if final_of_folder(folder) is None:  # run.json is written when a run starts, its final metrics when it ends
        resume = has_checkpoint(folder)
        if resume:
            print(f"{folder}: the run there did not finish; continuing it from its last checkpoint", flush=True)
        elif (folder / "run.json").is_file():
            print(f"{folder}: the run there stopped before its first checkpoint; starting it again", flush=True)
        pretrain(recipe, folder, resume=resume)
    run = score(str(folder))
    assert run.probe is not None, f"{folder}: the run has no probe score"
    metrics = (final_of_folder(folder) or {}).get("metrics", {})
    readouts = {match[1]: value for key, value in metrics.items() if (match := READOUT_KEY.fullmatch(key))}
    return {"probe": run.probe, "criteria": run.criteria, "readouts": readouts}


def label_agreement(rows: list[dict[str, Any]]) -> dict[str, float | None]:
    """How far label-based scores rank the runs alike: the probe at each other pooling against the recipe's
    probe (each the mean over seeds), and each pair of pretraining seeds' probes against each other."""
    seeds = [run["seeds"] for run in rows]
    probes = [row["probe"] for row in rows]
    result = {}
    for pooling in next(iter(seeds[0].values()))["readouts"]:
        readouts = [fmean([run["readouts"][pooling] for run in runs.values()]) for runs in seeds]
        result[f"probe read by {pooling} pooling"] = spearman(readouts, probes)
    for a, b in itertools.combinations(seeds[0], 2):
        result[f"probe, seed {b} against seed {a}"] = spearman([runs[a]["probe"] for runs in seeds],
                                                               [runs[b]["probe"] for runs in seeds])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the runs and results.json")
    parser.add_argument("--methods", nargs="+", choices=list(METHOD_GRID), default=list(METHOD_GRID))
    parser.add_argument("--runs-per-method", type=int, default=10)
    parser.add_argument("--steps", type=int, default=200, help="pretraining steps per run (the ECG demo's)")
    parser.add_argument("--seed", type=int, default=0, help="draws the sweep")
    parser.add_argument("--pretrain-seeds", type=int, nargs="+", default=[0],
                        help="each setting is pretrained once per seed (two or more: the seeds' agreement is shown)")
    parser.add_argument("--demo-records", type=int, help="size of the ECG demo data set (default: the demo's)")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    args = parser.parse_args()
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    torch.set_num_threads(args.threads)

    common: dict[str, Any] = {
        "trainer": {"max_steps": args.steps},
        "monitor": {"random_init": False, "every_n_steps": max(1, args.steps)},
    }
    if args.demo_records is not None:
        common["data"] = {"demo_records": args.demo_records}
    start = time.perf_counter()
    rows: dict[str, list[dict[str, Any]]] = {}
    for method in args.methods:
        rows[method] = []
        for index, overrides in enumerate(sweep(method, args.runs_per_method, args.seed)):
            name = f"{method}-{index:02d}"
            seeds = {}
            for seed in args.pretrain_seeds:
                recipe = resolve_recipe("ecg", overrides=deep_merge(deep_merge(common, overrides), {"seed": seed}))
                seeds[str(seed)] = pretrained_run(args.out / f"{name}-seed{seed}", recipe)
            criteria = {key: fmean([run["criteria"][key] for run in seeds.values()])
                        for key in CRITERIA if all(key in run["criteria"] for run in seeds.values())}
            probe = fmean([run["probe"] for run in seeds.values()])
            rows[method].append({"run": name, "overrides": overrides, "probe": probe, "criteria": criteria,
                                 "seeds": seeds})
            print(f"{name}: probe {probe:.4f}", {k: round(v, 3) for k, v in criteria.items()}, flush=True)

    criteria = {method: {name: agreement(rows[method], name) for name in CRITERIA} for method in rows}
    labels = {method: label_agreement(rows[method]) for method in rows}
    seconds = time.perf_counter() - start
    (args.out / "results.json").write_text(json.dumps(
        {"rows": rows, "spearman": criteria, "label_agreement": labels, "seconds": seconds}, indent=1))
    seed_names = "seed " + ", ".join(map(str, args.pretrain_seeds))
    print(f"\nSpearman correlation with the final linear probe (positive: the criterion ranks runs as the probe does), "
          f"{args.runs_per_method} runs per method ({seed_names}), {args.steps} steps each, {seconds / 60:.1f} min in all")
    described = {method: {CRITERIA[key].description: value for key, value in cells.items()}
                 for method, cells in criteria.items()}
    print(markdown("criterion", rows, described))
    print("\nThe labels' own agreement: Spearman correlation of other label-based scores with the same probe")
    print(markdown("label-based score", rows, labels))


def markdown(header: str, rows: dict[str, Any], cells: dict[str, dict[str, float | None]]) -> str:
    """A table of one row per score and one column per method (``n/a`` where undefined)."""
    names = list(dict.fromkeys(name for method in rows for name in cells[method]))
    lines = [f"| {header} | " + " | ".join(rows) + " |", "|---|" + "---:|" * len(rows)]
    for name in names:
        values = [cells[method].get(name) for method in rows]
        lines.append(f"| {name} | " + " | ".join("n/a" if v is None else f"{v:+.2f}" for v in values) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
