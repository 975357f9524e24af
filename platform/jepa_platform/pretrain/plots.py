"""Training curves (loss, RankMe, the linear probe, each beside the random-init encoder's) drawn into a PNG."""

from __future__ import annotations

from pathlib import Path

import lightning as L
from lightning.pytorch.loggers import MLFlowLogger
from lightning.pytorch.utilities import rank_zero_only
from matplotlib.figure import Figure

PANELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("loss", ("train/loss", "val/loss")),
    ("RankMe (effective rank)", ("monitor/rankme", "monitor/random_init_rankme")),
    (
        "linear probe (validation)",
        ("probe/val_auc", "probe/random_init_val_auc", "probe/val_accuracy", "probe/random_init_val_accuracy"),
    ),
)


def draw(histories: dict[str, list[tuple[int, float]]], path: Path) -> Path | None:
    """One panel per group of PANELS that has data; ``None`` when nothing was logged."""
    panels = [(title, [key for key in keys if histories.get(key)]) for title, keys in PANELS]
    panels = [(title, keys) for title, keys in panels if keys]
    if not panels:
        return None
    figure = Figure(figsize=(4.5 * len(panels), 3.4), layout="constrained")
    for axes, (title, keys) in zip(figure.subplots(1, len(panels), squeeze=False)[0], panels):
        for key in keys:
            steps, values = zip(*histories[key])
            style = "--" if "random_init" in key else "-"  # the random-init encoder's: a reference line
            axes.plot(steps, values, style, marker="." if len(steps) < 30 else None, label=key)
        axes.set(title=title, xlabel="step")
        axes.grid(alpha=0.3)
        axes.legend(fontsize="small")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    return path


class TrainingPlots(L.Callback):
    """Saves ``<folder>/training.png`` when training ends and attaches it to the MLflow run."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    @rank_zero_only
    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        logger = trainer.logger
        if not isinstance(logger, MLFlowLogger):
            return
        client, run_id = logger.experiment, logger.run_id
        keys = {key for _, group in PANELS for key in group}
        histories = {
            key: sorted((m.step, m.value) for m in client.get_metric_history(run_id, key)) for key in keys
        }
        path = draw(histories, self.folder / "training.png")
        if path is not None:
            client.log_artifact(run_id, str(path))
