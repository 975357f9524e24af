"""Label-free model selection: rank finished runs by their final RankMe.

Following the RankMe paper's protocol, runs are compared within one method
(here the objective, ``ema`` or ``sigreg``): the highest RankMe wins. Runs of
different methods are ranked separately. A linear-probe score, when the run
has one, is shown for reference beside the random-init encoder's, and never used to rank.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import JepaError

RUN_ID = re.compile(r"[0-9a-f]{32}")
PROBE_KEYS = ("probe/val_auc", "probe/val_accuracy")
RANDOM_INIT_KEYS = ("probe/random_init_val_auc", "probe/random_init_val_accuracy")


@dataclass
class RunScore:
    name: str
    method: str
    steps: int
    rankme: float | None
    probe: float | None
    random_init_probe: float | None = None


def locate(reference: str, tracking_uri: str | None) -> tuple[str, str, str]:
    """``(name, tracking URI, run id)`` of a run folder (its ``run.json``) or of an MLflow run id."""
    folder = Path(reference)
    if (folder / "run.json").is_file():
        saved = json.loads((folder / "run.json").read_text())
        return str(folder), saved["tracking_uri"], saved["run_id"]
    if RUN_ID.fullmatch(reference) and tracking_uri:
        return reference, tracking_uri, reference
    if RUN_ID.fullmatch(reference):
        raise JepaError(f"{reference} looks like an MLflow run id: set MLFLOW_TRACKING_URI or pass --tracking-uri")
    raise JepaError(f"{reference} is neither a run folder (no run.json) nor an MLflow run id")


def score(reference: str, tracking_uri: str | None = None) -> RunScore:
    """The final RankMe (and probe score) of one run."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    name, uri, run_id = locate(reference, tracking_uri)
    try:
        run = MlflowClient(tracking_uri=uri).get_run(run_id)
    except MlflowException as exc:
        raise JepaError(f"{name}: MLflow run {run_id} not found in {uri}: {exc.message}") from None
    metrics, params = run.data.metrics, run.data.params
    probe = next((metrics[key] for key in PROBE_KEYS if key in metrics), None)
    random_init_probe = next((metrics[key] for key in RANDOM_INIT_KEYS if key in metrics), None)
    return RunScore(
        name=name,
        method=params.get("objective.kind", "ema"),
        steps=int(params.get("trainer.max_steps", 0)),
        rankme=metrics.get("monitor/rankme"),
        probe=probe,
        random_init_probe=random_init_probe,
    )


def rank(scores: list[RunScore]) -> list[tuple[int | None, RunScore]]:
    """``(rank within its method, run)``, best first within each method; runs without RankMe come last, unranked."""
    ordered: list[tuple[int | None, RunScore]] = []
    for method in sorted({s.method for s in scores}):
        group = [s for s in scores if s.method == method]
        scored = sorted((s for s in group if s.rankme is not None), key=lambda s: -s.rankme)
        ordered += [(i + 1, s) for i, s in enumerate(scored)]
        ordered += [(None, s) for s in group if s.rankme is None]
    return ordered


def table(ranked: list[tuple[int | None, RunScore]]) -> str:
    """A markdown table of the ranking."""
    lines = [
        "| method | rank | run | steps | RankMe | linear probe (reference) | random-init encoder's probe |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for position, run in ranked:
        rankme = "n/a" if run.rankme is None else f"{run.rankme:.2f}"
        probe = "n/a" if run.probe is None else f"{run.probe:.4f}"
        initial = "n/a" if run.random_init_probe is None else f"{run.random_init_probe:.4f}"
        shown = "-" if position is None else str(position)
        lines.append(f"| {run.method} | {shown} | {run.name} | {run.steps} | {rankme} | {probe} | {initial} |")
    return "\n".join(lines)
