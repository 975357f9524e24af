"""Training curves drawn into a PNG from a run's MLflow history: pretraining (loss, SIGReg's parts, RankMe
on its 0..D range, the linear probe, each beside the random-init encoder's) and probe / fine-tune runs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.loggers import MLFlowLogger
from lightning.pytorch.utilities import rank_zero_only
from matplotlib.figure import Figure


@dataclass(frozen=True)
class Panel:
    """One plot: its title, the metric keys drawn in it, and an optional ``(0, top)`` y range with a line at top."""

    title: str
    keys: tuple[str, ...]
    ceiling: float | None = None
    ceiling_label: str = ""


def pretraining_panels(embed_dim: int) -> tuple[Panel, ...]:
    """Loss, SIGReg's parts (prediction and regularizer), RankMe against its maximum D, the linear probe."""
    return (
        Panel("loss", ("train/loss", "val/loss")),
        Panel("SIGReg objective: its parts", ("train/prediction_loss", "train/sigreg")),
        Panel("RankMe (effective rank)", ("monitor/rankme", "monitor/random_init_rankme"),
              ceiling=float(embed_dim), ceiling_label=f"D = {embed_dim} (full rank)"),
        Panel("linear probe (validation)",
              ("probe/val_auc", "probe/random_init_val_auc", "probe/val_accuracy", "probe/random_init_val_accuracy",
               "probe/val_mean_ap", "probe/random_init_val_mean_ap")),
    )


def downstream_panels(metric: str) -> tuple[Panel, ...]:
    """A probe or fine-tune run: its training and validation loss, and the task's metric."""
    return (
        Panel("loss", ("train/loss", "val/loss")),
        Panel(f"{metric} (validation)", (f"val/{metric}",)),
    )


def draw(histories: dict[str, list[tuple[int, float]]], path: Path, panels: tuple[Panel, ...]) -> Path | None:
    """One plot per panel that has data; ``None`` when nothing was logged."""
    shown = [(panel, [key for key in panel.keys if histories.get(key)]) for panel in panels]
    shown = [(panel, keys) for panel, keys in shown if keys]
    if not shown:
        return None
    figure = Figure(figsize=(4.5 * len(shown), 3.4), layout="constrained")
    for axes, (panel, keys) in zip(figure.subplots(1, len(shown), squeeze=False)[0], shown):
        for key in keys:
            steps, values = zip(*histories[key])
            style = "--" if "random_init" in key else "-"  # the random-init encoder's: a reference line
            axes.plot(steps, values, style, marker="." if len(steps) < 30 else None, label=key)
        if panel.ceiling is not None:  # the whole range, so a small change looks small
            axes.axhline(panel.ceiling, color="grey", linestyle=":", label=panel.ceiling_label)
            axes.set_ylim(0, panel.ceiling * 1.05)
        axes.set(title=panel.title, xlabel="step")
        axes.grid(alpha=0.3)
        axes.legend(fontsize="small")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    return path


def plot_run(client: Any, run_id: str, panels: tuple[Panel, ...], path: Path) -> Path | None:
    """Draw the MLflow run's metric histories into ``path``; ``None`` when it logged none of the panels' keys."""
    keys = {key for panel in panels for key in panel.keys}
    histories = {key: sorted((m.step, m.value) for m in client.get_metric_history(run_id, key)) for key in keys}
    return draw(histories, path, panels)


class TrainingPlots(L.Callback):
    """Saves ``<folder>/training.png`` when training ends and attaches it to the MLflow run."""

    def __init__(self, folder: Path, embed_dim: int) -> None:
        self.folder = Path(folder)
        self.panels = pretraining_panels(embed_dim)

    @rank_zero_only
    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        logger = trainer.logger
        if not isinstance(logger, MLFlowLogger):
            return
        path = plot_run(logger.experiment, logger.run_id, self.panels, self.folder / "training.png")
        if path is not None:
            logger.experiment.log_artifact(logger.run_id, str(path))
