"""Run results: ``results.json``, a one-line markdown row, per-class AUCs, and the comparison table.

A run's ``results.json`` holds its test metrics (``test``); a baseline run
fitted with several seeds also holds each seed's (``per_seed``). The report
pools the runs of one (task, method, init) and shows each metric's mean ± std
(population std over the pooled seeds).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..config import read_json
from ..errors import JepaError

if TYPE_CHECKING:
    from .metrics import Evaluation

RESULTS_FILE = "results.json"
ROW_FILE = "result.md"
PER_CLASS_FILE = "per_class.csv"
COLUMNS = {
    "macro_auc": "macro AUC", "accuracy": "accuracy", "balanced_accuracy": "balanced accuracy",
    "macro_f1": "macro F1", "rmse": "RMSE", "mae": "MAE", "r2": "R²", "mean_iou": "mean IoU", "mean_ap": "mean AP",
}


def method_name(mode: str, head: str) -> str:
    """``linear probe``, ``attentive probe``, ``fine-tune (linear head)``, ``fine-tune (attentive head)``."""
    return f"{head} probe" if mode == "probe" else f"fine-tune ({head} head)"


def markdown_row(results: dict[str, Any]) -> str:
    """``| task | method | init | metric | value |`` of one run."""
    cells = [results["task"], results["method"], results["init"], results["metric"], f"{results['value']:.4f}"]
    return "| " + " | ".join(cells) + " |"


def per_class_csv(evaluation: Evaluation) -> str:
    """One line per class: its AUC (dense tasks: AP) on the test set (empty when undefined) and its positives."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["class", evaluation.per_class_metric, "positives"])
    for name, auc in evaluation.per_class.items():
        writer.writerow([name, "" if auc is None else f"{auc:.6f}", evaluation.positives[name]])
    return buffer.getvalue()


def read_results(run: Path) -> dict[str, Any]:
    """The ``results.json`` of a run folder."""
    path = run / RESULTS_FILE
    if not path.is_file():
        raise JepaError(f"{run} holds no {RESULTS_FILE} (not a finished probe, finetune or baseline run)")
    results = read_json(path)
    missing = [key for key in ("task", "method", "init", "metric", "value") if key not in results]
    if missing:
        raise JepaError(f"{path}: missing keys {missing}")
    return results


def shown_metrics(results: dict[str, Any]) -> list[str]:
    """The run's selection metric and its companions: accuracy and macro F1 for single-label classes, RMSE and R²."""
    companions = ("rmse", "r2") if results.get("regression") else ("accuracy", "macro_f1", "mean_iou", "mean_ap")
    test = results.get("test", {})
    return [name for name in COLUMNS if name == results["metric"] or (name in companions and name in test)]


def seed_metrics(results: dict[str, Any]) -> list[dict[str, float]]:
    """The test metrics of each seed a run holds (one, unless it is a multi-seed baseline)."""
    if "per_seed" in results:
        return [entry["test"] for entry in results["per_seed"]]
    return [results.get("test", {results["metric"]: results["value"]})]


def cell(values: list[float]) -> str:
    """``0.9123`` for one value, ``0.9123 ± 0.0101`` for several; empty for none."""
    if not values:
        return ""
    return f"{values[0]:.4f}" if len(values) == 1 else f"{np.mean(values):.4f} ± {np.std(values):.4f}"


def report_table(runs: list[Path]) -> str:
    """A markdown table: one row per (task, method, init), each metric's mean ± std over its runs' seeds."""
    groups: dict[tuple[str, str, str], list[tuple[dict[str, Any], Path]]] = {}
    for run in runs:
        results = read_results(run)
        groups.setdefault((results["task"], results["method"], results["init"]), []).append((results, run))
    shown = {name for members in groups.values() for results, _ in members for name in shown_metrics(results)}
    columns = [name for name in COLUMNS if name in shown]
    lines = [
        "| task | method | init | seeds | " + " | ".join(COLUMNS[name] for name in columns) + " | runs |",
        "|---|---|---|---:|" + "---:|" * len(columns) + "---|",
    ]
    for (task, method, init), members in sorted(groups.items()):
        seeds = [metrics for results, _ in members for metrics in seed_metrics(results)]
        cells = [cell([m[name] for m in seeds if name in m]) for name in columns]
        folders = ", ".join(str(run) for _, run in members)
        lines.append(f"| {task} | {method} | {init} | {len(seeds)} | " + " | ".join(cells) + f" | {folders} |")
    return "\n".join(lines) + "\n" + "".join(f"\n{line}\n" for line in against_random_init(groups))


def against_random_init(groups: dict[tuple[str, str, str], list[tuple[dict[str, Any], Path]]]) -> list[str]:
    """One line per (task, method) run from both a pretrained and a random-init encoder: the difference of means."""
    lines = []
    for (task, method, init), members in sorted(groups.items()):
        random = groups.get((task, method, "random"))
        if init != "pretrained" or random is None:
            continue
        metric = members[0][0]["metric"]
        pretrained = [m[metric] for results, _ in members for m in seed_metrics(results) if metric in m]
        initial = [m[metric] for results, _ in random for m in seed_metrics(results) if metric in m]
        if not pretrained or not initial:
            continue
        gain = float(np.mean(pretrained) - np.mean(initial))
        better = gain < 0 if metric in ("rmse", "mae") else gain > 0
        verdict = "better than" if better else "not better than"
        lines.append(
            f"{task}, {method}: pretrained {cell(pretrained)} vs random init {cell(initial)} {COLUMNS[metric]} "
            f"({gain:+.4f}): the pretrained encoder is {verdict} random init"
        )
    return lines
