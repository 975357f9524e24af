"""Label-free model selection: which criterion ranks pretraining runs as their linear probe does?

Pretrains a sweep of runs per method (objective) on the ECG demo, each varying
the settings a user would vary (learning rate, mask ratio, depth, and EMA
momentum or SIGReg's lambda, drawn from a seeded grid), and reads back what
``jepa-platform select`` reads: each run's final label-free criteria
(``monitor/rankme``, ``monitor/rankme_tokens``, ``monitor/lidar``, and for
SIGReg runs the training SIGReg loss ``train/sigreg``, lower is better) and its
final frozen linear probe (``probe/val_auc``, the monitor's probe on the
target encoder). Reports, per method, the Spearman correlation of each
criterion with the probe, with the sign that makes agreement positive.
Finished runs are reused, so an interrupted sweep continues.

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
import time
from pathlib import Path
from typing import Any

import torch
from jepa_platform.config import deep_merge
from jepa_platform.pretrain.config import resolve_recipe
from jepa_platform.pretrain.run import pretrain
from jepa_platform.pretrain.select import CRITERIA, score
from scipy.stats import spearmanr

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
    if len(pairs) < 3:
        return None
    rho = spearmanr(*zip(*pairs)).statistic
    return None if rho != rho else float(rho * (1 if CRITERIA[criterion].higher_is_better else -1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the runs and results.json")
    parser.add_argument("--methods", nargs="+", choices=list(METHOD_GRID), default=list(METHOD_GRID))
    parser.add_argument("--runs-per-method", type=int, default=10)
    parser.add_argument("--steps", type=int, default=200, help="pretraining steps per run (the ECG demo's)")
    parser.add_argument("--seed", type=int, default=0, help="draws the sweep; every run pretrains with seed 0")
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
            folder = args.out / f"{method}-{index:02d}"
            if not (folder / "run.json").is_file():
                pretrain(resolve_recipe("ecg", overrides=deep_merge(common, overrides)), folder)
            run = score(str(folder))
            assert run.probe is not None, f"{folder}: the run has no probe score"
            rows[method].append({"run": folder.name, "overrides": overrides, "probe": run.probe, "criteria": run.criteria})
            print(f"{folder.name}: probe {run.probe:.4f}", {k: round(v, 3) for k, v in run.criteria.items()}, flush=True)

    spearman = {method: {name: agreement(rows[method], name) for name in CRITERIA} for method in rows}
    seconds = time.perf_counter() - start
    (args.out / "results.json").write_text(json.dumps({"rows": rows, "spearman": spearman, "seconds": seconds}, indent=1))
    print(f"\nSpearman correlation with the final linear probe (positive: the criterion ranks runs as the probe does), "
          f"{args.runs_per_method} runs per method, {args.steps} steps each, {seconds / 60:.1f} min in all")
    print("\n| criterion | " + " | ".join(rows) + " |\n|---|" + "---:|" * len(rows))
    for name in CRITERIA:
        cells = ["n/a" if spearman[m][name] is None else f"{spearman[m][name]:+.2f}" for m in rows]
        print(f"| {CRITERIA[name].description} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
