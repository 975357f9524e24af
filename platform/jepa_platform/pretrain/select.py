"""Label-free model selection: rank finished runs by a label-free criterion of their final representation.

The criteria are the monitor's (:mod:`.criteria`) and the SIGReg training
loss. As in the RankMe paper, runs are compared within one method (here the
objective, ``ema`` or ``sigreg``) and runs of different methods are ranked
separately, each method by its own criterion (:data:`DEFAULT_CRITERIA`, the
one that agreed best with the linear probe on sweeps of runs, see
benchmarks/README.md) unless ``--criterion`` picks one for all. A linear-probe
score, when the run has one, is shown for reference beside the random-init
encoder's, and never used to rank; when three runs of a method or more have
one, the Spearman correlation of the criterion with it says how far the
label-free ranking of these runs agrees with the labels.
"""

from __future__ import annotations

import json
import re
import statistics
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
    above_random_init: bool = False
    """Only runs whose value is at least their random-init encoder's RankMe are ranked (the others collapsed)."""


CRITERIA: dict[str, Criterion] = {
    "rankme": Criterion("monitor/rankme", True, "RankMe, pooled embeddings"),
    "low_rankme": Criterion("monitor/rankme", False, "RankMe, pooled embeddings, lower is better", True),
    "rankme_tokens": Criterion("monitor/rankme_tokens", True, "RankMe, token embeddings"),
    "lidar": Criterion("monitor/lidar", True, "LiDAR, context-mask views"),
    "retrieval": Criterion("monitor/retrieval", True, "view retrieval, context-mask views"),
    "sigreg_loss": Criterion("train/sigreg", False, "SIGReg training loss (SIGReg runs; lower is better)"),
}
DEFAULT_CRITERIA: dict[str, str] = {"ema": "retrieval", "sigreg": "low_rankme"}
"""Per method, the criterion that agreed best with the probe on the ECG demo's sweeps. SIGReg holds the
embeddings to a full-rank Gaussian, so among its runs a high RankMe does not mark a better encoder: on the
sweeps, the lower it ended (the higher learning rates), the better the probe. EMA runs are ranked by view
retrieval, the one criterion that followed the probe where the teacher learns (2,000 steps); at the budgets
where EMA runs have barely parted from random init, rank and LiDAR follow the probe better."""
FALLBACK_CRITERION = "lidar"
WEAK_AGREEMENT = 0.5
"""Below this Spearman correlation with the probe, ``select`` advises choosing by the probe."""
RANDOM_INIT_RANKME = "monitor/random_init_rankme"


@dataclass
class RunScore:
    name: str
    method: str
    steps: int
    criteria: dict[str, float]
    """The final value of each criterion of :data:`CRITERIA` the run logged."""
    probe: float | None
    random_init_probe: float | None = None
    random_init_rankme: float | None = None
    status: str = "FINISHED"
    """MLflow's status of the run; any other than ``FINISHED`` (``RUNNING``, ``FAILED``, ``KILLED``) means its
    values are the last it logged, not its final ones."""


@dataclass
class Ranking:
    """One method's runs, best first by ``criterion``; each beside its rank, ``collapsed`` (below the
    random-init encoder where the criterion needs to be above it) or ``-`` (the criterion was not logged)."""

    method: str
    criterion: str
    rows: list[tuple[str, RunScore]]


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
                     run.data.metrics, run.info.status)


def final_of_folder(folder: Path) -> dict | None:
    """The ``final`` entry of a finished run folder's ``run.json`` (method, steps, last metric values)."""
    try:
        saved = json.loads((folder / "run.json").read_text())
    except (OSError, ValueError):
        return None
    final = saved.get("final") if isinstance(saved, dict) else None
    return final if isinstance(final, dict) and {"method", "steps", "metrics"} <= set(final) else None


def run_score(name: str, method: str, steps: int, metrics: dict[str, float], status: str = "FINISHED") -> RunScore:
    return RunScore(
        name=name,
        method=method,
        steps=steps,
        criteria={key: metrics[c.metric] for key, c in CRITERIA.items() if c.metric in metrics},
        probe=next((metrics[key] for key in PROBE_KEYS if key in metrics), None),
        random_init_probe=next((metrics[key] for key in RANDOM_INIT_KEYS if key in metrics), None),
        random_init_rankme=metrics.get(RANDOM_INIT_RANKME),
        status=status,
    )


def rank(scores: list[RunScore], criterion: str | None = None) -> list[Ranking]:
    """Each method's runs ranked by ``criterion``, or by the method's own (:data:`DEFAULT_CRITERIA`)."""
    rankings = []
    for method in sorted({s.method for s in scores}):
        name = criterion or DEFAULT_CRITERIA.get(method, FALLBACK_CRITERION)
        chosen = CRITERIA[name]
        group = [s for s in scores if s.method == method]
        ranked: list[RunScore] = []
        collapsed: list[RunScore] = []
        for s in group:
            if name in s.criteria:
                (collapsed if chosen.above_random_init and below_random_init_rankme(s, name) else ranked).append(s)
        ranked.sort(key=lambda s: s.criteria[name] * (-1 if chosen.higher_is_better else 1))
        rows = [(str(i + 1), s) for i, s in enumerate(ranked)] + [("collapsed", s) for s in collapsed]
        rankings.append(Ranking(method, name, rows + [("-", s) for s in group if name not in s.criteria]))
    return rankings


def average_ranks(values: list[float]) -> list[float]:
    """The rank of each value (0 for the smallest), tied values sharing the mean of their ranks."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for position in order[start : end + 1]:
            ranks[position] = (start + end) / 2
        start = end + 1
    return ranks


def spearman(first: list[float], second: list[float], same_direction: bool = True) -> float | None:
    """Spearman correlation of two paired lists (sign flipped unless ``same_direction``); None below 3 pairs or
    when one list is constant."""
    if len(first) < 3 or len(set(first)) < 2 or len(set(second)) < 2:
        return None
    rho = statistics.correlation(average_ranks(first), average_ranks(second))
    return rho if same_direction else -rho


def probe_agreement(ranking: Ranking) -> tuple[float, int] | None:
    """How far the ranking's criterion orders its runs as their linear probes do: the Spearman correlation
    (positive: the same order) over the ranked runs with a probe score, and their number; None below three."""
    runs = [run for position, run in ranking.rows if position.isdigit() and run.probe is not None]
    rho = spearman([run.criteria[ranking.criterion] for run in runs], [run.probe for run in runs],
                   CRITERIA[ranking.criterion].higher_is_better)
    return None if rho is None else (rho, len(runs))


def agreement_line(ranking: Ranking) -> str | None:
    """The sentence ``select`` prints under a ranking about its agreement with the probe (None without one)."""
    agreement = probe_agreement(ranking)
    if agreement is None:
        return None
    rho, runs = agreement
    line = (f"{ranking.method}: {ranking.criterion} orders these {runs} runs as their linear probes do at Spearman "
            f"{rho:+.2f} (+1: the same order, -1: reversed).")
    if rho < WEAK_AGREEMENT:
        line += " The labels order them otherwise: where the data has labels, choose by the probe."
    return line


def below_random_init_rankme(run: RunScore, name: str) -> bool:
    """Whether the run's ``name`` ended below its random-init encoder's RankMe (unknown: no)."""
    return run.random_init_rankme is not None and run.criteria[name] < run.random_init_rankme


def table(ranking: Ranking) -> str:
    """A markdown table of one method's ranking, with every criterion its runs logged (one column per metric)."""
    columns: dict[str, str] = {}
    for name, criterion in CRITERIA.items():
        if any(name in run.criteria for _, run in ranking.rows):
            columns.setdefault(criterion.metric, name)
    names = list(columns.values()) or [ranking.criterion]
    lines = [
        f"| method | rank by {ranking.criterion} | run | steps | " + " | ".join(names)
        + " | linear probe (reference) | random-init encoder's probe |",
        "|---|---:|---|---:|" + "---:|" * len(names) + "---:|---:|",
    ]
    for position, run in ranking.rows:
        values = ["n/a" if name not in run.criteria else f"{run.criteria[name]:.4g}" for name in names]
        probe = "n/a" if run.probe is None else f"{run.probe:.4f}"
        initial = "n/a" if run.random_init_probe is None else f"{run.random_init_probe:.4f}"
        steps = str(run.steps) if run.status == "FINISHED" else f"{run.steps} ({run.status.lower()})"
        lines.append(f"| {run.method} | {position} | {run.name} | {steps} | " + " | ".join(values)
                     + f" | {probe} | {initial} |")
    return "\n".join(lines)
