"""T-JEPA against the same head from random init and gradient-boosted trees: one table of mean ± std over seeds.

For each table and seed: pretrain a tabular encoder, train the same head on its
frozen embeddings and on a random-init encoder's (``jepa-platform probe``); then
fit scikit-learn's HistGradientBoosting on the raw columns (``jepa-platform
baseline``). All use the train / val / test rows of ``data.split_seed``: the
heads and the trees fit the training rows and stop early on the validation
rows; every score is on the test rows. Classification tables report accuracy
and macro F1, regression tables RMSE and R² (in the target's units).

    .venv/bin/python benchmarks/tabular_compare.py --tables wine breast_cancer digits diabetes --seeds 0 1 2
    .venv/bin/python benchmarks/tabular_compare.py --data table.csv --target y --objectives ema sigreg
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any


def tiny_model(depth: int) -> dict[str, Any]:
    return {
        "preset": "vit_tiny", "embed_dim": 64, "depth": depth, "num_heads": 2,
        "predictor_dim": 16, "predictor_depth": 2, "predictor_heads": 2,
    }


def probe_recipe(seed: int, args: argparse.Namespace) -> dict[str, Any]:
    return {
        "domain": "tabular", "seed": seed, "task": {"name": "target"},
        "probe": {"head": args.head, "max_epochs": args.epochs, "patience": 15, "weight_decay": 0.01},
        "trainer": {"batch_size": 64, "num_workers": 0},
    }


def jepa_runs(data: dict[str, Any], seed: int, args: argparse.Namespace, work: Path) -> list[Path]:
    """Pretrain with each objective and probe its encoder; probe a random-init encoder of the same shape."""
    from jepa_platform.downstream.config import resolve_downstream
    from jepa_platform.downstream.results import RESULTS_FILE
    from jepa_platform.downstream.run import run_downstream
    from jepa_platform.pretrain.config import resolve_recipe
    from jepa_platform.pretrain.run import pretrain

    model = tiny_model(args.depth)
    runs = []
    for objective in args.objectives:
        overrides = {
            "seed": seed, "model": model, "data": data, "objective": {"kind": objective},
            "trainer": {
                "max_steps": args.steps, "batch_size": 64, "num_workers": 0, "checkpoint_every_n_steps": args.steps,
                "val_every_n_steps": args.steps,
            },
            "monitor": {"probe": False},
        }
        summary = pretrain(resolve_recipe("tabular", None, overrides), work / f"pretrain-{objective}-{seed}")
        recipe, pretrained = resolve_downstream(None, probe_recipe(seed, args), summary.checkpoint)
        out = work / f"probe-{objective}-{seed}"
        results = run_downstream(recipe, "probe", pretrained, out)
        results["init"] = f"T-JEPA {objective}"  # the report's rows then tell the objectives apart
        (out / RESULTS_FILE).write_text(json.dumps(results, indent=2) + "\n")
        runs.append(out)
    recipe, _ = resolve_downstream(None, {**probe_recipe(seed, args), "model": model, "data": data}, None)
    run_downstream(recipe, "probe", None, work / f"probe-random-{seed}")
    return [*runs, work / f"probe-random-{seed}"]


def trees_run(data: dict[str, Any], args: argparse.Namespace, work: Path) -> Path:
    """HistGradientBoosting on the raw columns, once per seed (``jepa-platform baseline``)."""
    from jepa_platform.downstream.baseline import run_baseline
    from jepa_platform.downstream.config import resolve_downstream

    recipe, _ = resolve_downstream(None, {**probe_recipe(args.seeds[0], args), "data": data}, None)
    run_baseline(recipe, args.seeds, work / "trees")
    return work / "trees"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", nargs="+", default=["wine", "breast_cancer", "digits", "diabetes"],
                        help="demo tables")
    parser.add_argument("--data", help="your own table (CSV / Parquet file or folder) instead of the demo tables")
    parser.add_argument("--target", help="its target column")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=300, help="pretraining steps")
    parser.add_argument("--depth", type=int, default=4, help="encoder depth (width 64, 2 heads)")
    parser.add_argument("--objectives", nargs="+", choices=["ema", "sigreg"], default=["ema"],
                        help="pretraining objectives to compare (EMA teacher, SIGReg)")
    parser.add_argument("--head", choices=["linear", "mlp", "attentive"], default="mlp")
    parser.add_argument("--epochs", type=int, default=60, help="probe epochs (early stopping on the validation rows)")
    args = parser.parse_args()
    if args.data and not args.target:
        parser.error("--data needs --target")

    work = Path(tempfile.mkdtemp(prefix="tabular-compare-"))
    os.environ.setdefault("JEPA_PLATFORM_CACHE", str(work / "cache"))
    datasets = {args.data: {"path": args.data, "target": args.target}} if args.data else {
        name: {"demo_table": name, "target": "target"} for name in args.tables
    }
    from jepa_platform.downstream.results import report_table

    runs: list[Path] = []
    for name, data in datasets.items():
        folder = work / Path(name).stem
        for seed in args.seeds:
            start = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                runs += jepa_runs(data, seed, args, folder)
            print(f"{name} seed {seed}: pretrain + probes in {time.perf_counter() - start:.0f} s", flush=True)
        runs.append(trees_run(data, args, folder))
    print(f"\nTest rows; mean ± std over seeds {args.seeds}; {args.head} head on frozen embeddings after "
          f"{args.steps} pretraining steps (depth {args.depth}); run folders under {work}:\n")
    print(report_table(runs), end="")


if __name__ == "__main__":
    main()
