"""Label-free model selection: rank finished runs by a label-free criterion of their final representation.

The criteria are the monitor's (:mod:`.criteria`) and the SIGReg training
loss; ``--criterion`` picks one (default :data:`DEFAULT_CRITERION`, the one
that agreed best with the linear probe on a sweep of runs, see
benchmarks/README.md). As in the RankMe paper, runs are compared within one
method (here the objective, ``ema`` or ``sigreg``); runs of different methods
are ranked separately. A linear-probe score, when the run has one, is shown
for reference beside the random-init encoder's, and never used to rank.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import JepaError

RUN_ID = re.compile(r"[0-9a-f]{32}")
PROBE_KEYS = ("probe/val_auc", "probe/val_accuracy", "probe/val_mean_ap")
RANDOM_INIT_KEYS = ("probe/random_init_val_auc", "probe/random_init_val_accuracy", "probe/random_init_val_mean_ap")


@dataclass(frozen=True)
class Criterion:
    """A label-free criterion: the run metric it reads and its direction."""

    metric: str
    higher_is_better: bool
    description: str


CRITERIA: dict[str, Criterion] = {
    "rankme": Criterion("monitor/rankme", True, "RankMe, pooled embeddings"),
    "rankme_tokens": Criterion("monitor/rankme_tokens", True, "RankMe, token embeddings"),
    "lidar": Criterion("monitor/lidar", True, "LiDAR, context-mask views"),
    "sigreg_loss": Criterion("train/sigreg", False, "SIGReg training loss (SIGReg runs; lower is better)"),
}
DEFAULT_CRITERION = "lidar"


@dataclass
class RunScore:
    name: str
    method: str
    steps: int
    criteria: dict[str, float]
    """The final value of each criterion of :data:`CRITERIA` the run logged."""
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
    """The final criteria (and probe score) of one run: from its folder's ``run.json`` when the finished run
    wrote them there, else from MLflow."""
    saved = final_of_folder(Path(reference))
    if saved is not None:
        return run_score(reference, saved["method"], int(saved["steps"]), saved["metrics"])
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    name, uri, run_id = locate(reference, tracking_uri)
    try:
        run = MlflowClient(tracking_uri=uri).get_run(run_id)
    except MlflowException as exc:
        raise JepaError(f"{name}: MLflow run {run_id} not found in {uri}: {exc.message}") from None
    params = run.data.params
    return run_score(name, params.get("objective.kind", "ema"), int(params.get("trainer.max_steps", 0)),
                     run.data.metrics)


def final_of_folder(folder: Path) -> dict | None:
    """The ``final`` entry of a finished run folder's ``run.json`` (method, steps, last metric values)."""
    try:
        saved = json.loads((folder / "run.json").read_text())
    except (OSError, ValueError):
        return None
    final = saved.get("final") if isinstance(saved, dict) else None
    return final if isinstance(final, dict) and {"method", "steps", "metrics"} <= set(final) else None


def run_score(name: str, method: str, steps: int, metrics: dict[str, float]) -> RunScore:
    return RunScore(
        name=name,
        method=method,
        steps=steps,
        criteria={key: metrics[c.metric] for key, c in CRITERIA.items() if c.metric in metrics},
        probe=next((metrics[key] for key in PROBE_KEYS if key in metrics), None),
        random_init_probe=next((metrics[key] for key in RANDOM_INIT_KEYS if key in metrics), None),
    )


def rank(scores: list[RunScore], criterion: str = DEFAULT_CRITERION) -> list[tuple[int | None, RunScore]]:
    """``(rank within its method, run)``, best first by ``criterion`` within each method; runs that did not
    log it come last, unranked."""
    sign = 1.0 if CRITERIA[criterion].higher_is_better else -1.0
    ordered: list[tuple[int | None, RunScore]] = []
    for method in sorted({s.method for s in scores}):
        group = [s for s in scores if s.method == method]
        scored = sorted((s for s in group if criterion in s.criteria), key=lambda s: -sign * s.criteria[criterion])
        ordered += [(i + 1, s) for i, s in enumerate(scored)]
        ordered += [(None, s) for s in group if criterion not in s.criteria]
    return ordered


def table(ranked: list[tuple[int | None, RunScore]], criterion: str = DEFAULT_CRITERION) -> str:
    """A markdown table of the ranking, with every criterion each run logged."""
    names = [name for name in CRITERIA if any(name in run.criteria for _, run in ranked)] or [criterion]
    lines = [
        f"| method | rank by {criterion} | run | steps | " + " | ".join(names)
        + " | linear probe (reference) | random-init encoder's probe |",
        "|---|---:|---|---:|" + "---:|" * len(names) + "---:|---:|",
    ]
    for position, run in ranked:
        values = ["n/a" if name not in run.criteria else f"{run.criteria[name]:.4g}" for name in names]
        probe = "n/a" if run.probe is None else f"{run.probe:.4f}"
        initial = "n/a" if run.random_init_probe is None else f"{run.random_init_probe:.4f}"
        shown = "-" if position is None else str(position)
        lines.append(f"| {run.method} | {shown} | {run.name} | {run.steps} | " + " | ".join(values)
                     + f" | {probe} | {initial} |")
    return "\n".join(lines)
