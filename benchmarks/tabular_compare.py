"""T-JEPA against gradient-boosted trees on the same rows: one table of mean ± std over seeds.

For each table and seed: pretrain a tabular encoder, train the same head on its
frozen embeddings and on a random-init encoder's (``jepa-platform probe``), and
fit scikit-learn's HistGradientBoostingClassifier on the raw columns. All three
use the train / val / test rows of ``data.split_seed`` (the trees fit on train
and val); every score is on the test rows.

    .venv/bin/python benchmarks/tabular_compare.py --tables wine breast_cancer digits --seeds 0 1 2
    .venv/bin/python benchmarks/tabular_compare.py --data table.csv --target y

Classification only (the downstream commands score classes).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

METRICS = ("accuracy", "balanced_accuracy")


def tiny_model(depth: int) -> dict[str, Any]:
    return {
        "preset": "vit_tiny", "embed_dim": 64, "depth": depth, "num_heads": 2,
        "predictor_dim": 16, "predictor_depth": 2, "predictor_heads": 2,
    }


def pretrain_and_probe(data: dict[str, Any], seed: int, args: argparse.Namespace, work: Path) -> dict[str, dict]:
    """Test metrics of the probe on the pretrained encoder and on a random-init one."""
    from jepa_platform.downstream.config import resolve_downstream
    from jepa_platform.downstream.run import run_downstream
    from jepa_platform.recipe import resolve_recipe
    from jepa_platform.train import pretrain

    model = tiny_model(args.depth)
    overrides = {
        "seed": seed, "model": model, "data": data, "objective": {"kind": args.objective},
        "trainer": {
            "max_steps": args.steps, "batch_size": 64, "num_workers": 0, "checkpoint_every_n_steps": args.steps,
        },
        "monitor": {"probe": False},
    }
    run = work / f"pretrain-{seed}"
    summary = pretrain(resolve_recipe("tabular", None, overrides), run)
    probe = {
        "domain": "tabular", "seed": seed, "task": {"name": "target"},
        "probe": {"head": args.head, "max_epochs": args.epochs, "patience": 15, "weight_decay": 0.01},
        "trainer": {"batch_size": 64, "num_workers": 0},
    }
    results = {}
    inits = (("pretrained", summary.checkpoint, {}), ("random", None, {"model": model, "data": data}))
    for init, checkpoint, extra in inits:
        recipe, pretrained = resolve_downstream(None, {**probe, **extra}, checkpoint)
        results[init] = run_downstream(recipe, "probe", pretrained, work / f"probe-{init}-{seed}")["test"]
    return results


def boosted_trees(data: dict[str, Any], seed: int, cache: Path) -> dict[str, float]:
    """HistGradientBoosting on the raw numbers and the category indices, same split, scored on the test rows."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import accuracy_score, balanced_accuracy_score

    from jepa_domains.tabular import TabularDataConfig, plugin
    from jepa_domains.tabular.dataset import fitted
    from jepa_domains.tabular.encoding import encode

    config = TabularDataConfig.model_validate(data)
    plugin.prepare_data(config, cache)
    columns, rows, config = fitted(plugin.data_root(config, cache), config)
    encoded = encode(columns, config.encoding)
    numeric = np.column_stack([columns.features[f.name].to_numpy(float) for f in config.encoding.numeric] or
                              [np.zeros((len(columns.features), 0))])
    codes = encoded.categorical.astype(float)
    codes[encoded.missing[:, len(config.encoding.numeric):]] = np.nan
    features = np.concatenate([numeric, codes], axis=1)
    categorical = np.arange(features.shape[1]) >= numeric.shape[1]
    fit = np.concatenate([rows["train"], rows["val"]])
    trees = HistGradientBoostingClassifier(random_state=seed, categorical_features=categorical)
    trees.fit(features[fit], encoded.label[fit])
    predicted = trees.predict(features[rows["test"]])
    truth = encoded.label[rows["test"]]
    return {
        "accuracy": accuracy_score(truth, predicted),
        "balanced_accuracy": balanced_accuracy_score(truth, predicted),
    }


def cell(values: list[float]) -> str:
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", nargs="+", default=["wine", "breast_cancer", "digits"], help="demo tables")
    parser.add_argument("--data", help="your own table (CSV / Parquet file or folder) instead of the demo tables")
    parser.add_argument("--target", help="its target column")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=300, help="pretraining steps")
    parser.add_argument("--depth", type=int, default=4, help="encoder depth (width 64, 2 heads)")
    parser.add_argument("--objective", choices=["ema", "sigreg"], default="ema", help="EMA teacher or SIGReg")
    parser.add_argument("--head", choices=["linear", "attentive"], default="linear")
    parser.add_argument("--epochs", type=int, default=60, help="probe epochs (early stopping on val accuracy)")
    args = parser.parse_args()
    if args.data and not args.target:
        parser.error("--data needs --target")

    work = Path(tempfile.mkdtemp(prefix="tabular-compare-"))
    os.environ.setdefault("JEPA_PLATFORM_CACHE", str(work / "cache"))
    cache = Path(os.environ["JEPA_PLATFORM_CACHE"])
    datasets = {args.data: {"path": args.data, "target": args.target}} if args.data else {
        name: {"demo_table": name, "target": "target"} for name in args.tables
    }
    rows = []
    for name, data in datasets.items():
        methods = ("pretrained", "random", "trees")
        scores: dict[str, dict[str, list[float]]] = {m: {k: [] for k in METRICS} for m in methods}
        for seed in args.seeds:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                heads = pretrain_and_probe(data, seed, args, work / Path(name).name)
            heads["trees"] = boosted_trees(data, seed, cache)
            for method, metrics in heads.items():
                for key in METRICS:
                    scores[method][key].append(float(metrics[key]))
            print(f"{name} seed {seed}: " + ", ".join(f"{m} {heads[m]['accuracy']:.3f}" for m in heads), flush=True)
        labels = {"pretrained": f"T-JEPA ({args.objective}, {args.steps} steps) + {args.head} probe",
                  "random": f"random init + {args.head} probe", "trees": "HistGradientBoosting (raw columns)"}
        rows += [f"| {name} | {labels[m]} | {cell(s['accuracy'])} | {cell(s['balanced_accuracy'])} |"
                 for m, s in scores.items()]
    print(f"\nTest rows, mean ± std over seeds {args.seeds} (work folder {work}):\n")
    print("| table | model | accuracy | balanced accuracy |\n|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
