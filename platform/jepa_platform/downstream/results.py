"""Run results: ``results.json``, a one-line markdown row, per-class AUCs, and the comparison table."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from ..errors import JepaError
from .metrics import Evaluation

RESULTS_FILE = "results.json"
ROW_FILE = "result.md"
PER_CLASS_FILE = "per_class.csv"
HEADER = "| task | method | init | metric | value |"
RULE = "|---|---|---|---|---:|"


def method_name(mode: str, head: str) -> str:
    """``linear probe``, ``attentive probe``, ``fine-tune (linear head)``, ``fine-tune (attentive head)``."""
    return f"{head} probe" if mode == "probe" else f"fine-tune ({head} head)"


def markdown_row(results: dict[str, Any]) -> str:
    """``| task | method | init | metric | value |`` of one run."""
    cells = [results["task"], results["method"], results["init"], results["metric"], f"{results['value']:.4f}"]
    return "| " + " | ".join(cells) + " |"


def per_class_csv(evaluation: Evaluation) -> str:
    """One line per class: its AUC on the test set (empty when undefined) and its positive examples."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["class", "auc", "positives"])
    for name, auc in evaluation.per_class.items():
        writer.writerow([name, "" if auc is None else f"{auc:.6f}", evaluation.positives[name]])
    return buffer.getvalue()


def read_results(run: Path) -> dict[str, Any]:
    """The ``results.json`` of a run folder."""
    path = run / RESULTS_FILE
    if not path.is_file():
        raise JepaError(f"{run} holds no {RESULTS_FILE} (not a finished probe or finetune run)")
    try:
        results = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise JepaError(f"{path}: not valid JSON: {exc}") from exc
    missing = [key for key in ("task", "method", "init", "metric", "value") if key not in results]
    if missing:
        raise JepaError(f"{path}: missing keys {missing}")
    return results


def report_table(runs: list[Path]) -> str:
    """A markdown table of the runs' results, sorted by task, method and init, with each run's folder."""
    rows = [(read_results(run), run) for run in runs]
    rows.sort(key=lambda row: (row[0]["task"], row[0]["method"], row[0]["init"]))
    lines = [f"{HEADER} run |", f"{RULE}---|"]
    lines += [f"{markdown_row(results)} {run} |" for results, run in rows]
    return "\n".join(lines) + "\n"
