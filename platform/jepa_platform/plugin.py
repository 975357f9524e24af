"""The domain plugin contract.

A domain (ECG, EEG, SAR, ...) is an object registered under the entry-point
group ``jepa_platform.domains``. Built-in domains register the same way a
third-party package does::

    [project.entry-points."jepa_platform.domains"]
    audio = "my_package:plugin"

This module stays light (no torch import) so ``jepa-platform domains list``
is fast; heavy imports belong inside the plugin's methods.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from .errors import JepaError
from .schema import Section

if TYPE_CHECKING:
    import numpy as np
    from torch.utils.data import Dataset

    from .network import TargetFunction
    from .tokens import Tokenizer


def cache_dir() -> Path:
    """Where domains keep generated demo data: ``$JEPA_PLATFORM_CACHE`` or ``~/.cache/jepa-platform``."""
    return Path(os.environ.get("JEPA_PLATFORM_CACHE", Path.home() / ".cache" / "jepa-platform"))


class DataConfig(Section):
    """The ``data`` recipe section; plugins subclass it with their own keys."""

    path: str | None = None
    """Raw data folder or file; ``None`` uses the domain's embedded demo data."""


@dataclass(frozen=True)
class LabelSpec:
    """What the ``label`` entries of a dataset's samples mean.

    Args:
        names: Class names, in the order of the label vector / class index; for regression, the target names.
        multilabel: ``True``: labels are float multi-hot vectors; ``False``: int64 class indices.
        regression: ``True``: labels are float values in their own units (a scalar for one
            target, a vector for several); ``multilabel`` is then ``False``.
    """

    names: tuple[str, ...]
    multilabel: bool
    regression: bool = False


@dataclass
class DatasetSplits:
    """Datasets of samples for pretraining; ``val`` may be ``None``.

    When ``labels`` is given, samples are dicts carrying a ``label`` entry, and
    an online probe reports how linearly readable the embeddings are.
    """

    train: "Dataset"
    val: "Dataset | None" = None
    labels: LabelSpec | None = None


@dataclass
class PrepareSource:
    """What ``jepa-platform prepare`` converts into shards.

    Args:
        items: Picklable units of work (a raw file, a record), in a deterministic order;
            ``str(item)`` names the input in error messages.
        labels: What the samples' ``label`` entries mean, when they have one.
        unit: What an item is, for the progress bar (``record``, ``file``).
    """

    items: list[Any]
    labels: LabelSpec | None = None
    unit: str = "item"


@dataclass
class PreparedSamples:
    """The samples one raw item gives (possibly none), each array with a leading axis of that count.

    Args:
        samples: What a batch holds (e.g. ``signal``, ``lead_present``, ``label``): numeric arrays.
        meta: Kept beside them for tracing and selection (source file, window, fold): numeric or string arrays.
        split: ``train``, ``val`` or another name (held out from pretraining), per sample.
    """

    samples: dict[str, "np.ndarray"]
    meta: dict[str, "np.ndarray"]
    split: "np.ndarray"


class TaskConfig(Section):
    """The ``task`` section of a downstream recipe; plugins subclass it with their own keys."""

    name: str
    """Which of the domain's labelled tasks (e.g. a PTB-XL label set)."""


Metric = Literal["macro_auc", "accuracy", "balanced_accuracy", "macro_f1", "rmse", "mae", "r2"]


@dataclass
class DownstreamTask:
    """A domain's labelled task, ready to probe or fine-tune an encoder on.

    Samples are dicts like the pretraining samples, of the geometry of ``data``,
    plus ``label`` (see :class:`LabelSpec`) and ``group``: an int naming the
    example a sample is a view of. At evaluation the logits of an example's
    views are averaged (e.g. sliding windows over a long record).

    Args:
        name: The task as results name it (e.g. ``ptbxl-all``).
        labels: The classes, and whether the task is multi-label.
        metric: Selects the model (early stopping) and is the reported result.
        data: The ``data`` section of one view; the encoder's tokenizer is built from it.
        train: One view per example and access (e.g. a random crop).
        val: Every view of the validation examples.
        test: Every view of the test examples.
    """

    name: str
    labels: LabelSpec
    metric: Metric
    data: DataConfig
    train: "Dataset"
    val: "Dataset"
    test: "Dataset"


@dataclass
class BaselineData:
    """A task's examples as raw feature columns, for a classical baseline (gradient-boosted trees).

    Args:
        features: ``train``, ``val`` and ``test``: ``examples × features`` floats, NaN where missing.
        labels: The same splits' targets: class indices, or values in their own units (regression).
        categorical: Per feature column, whether it holds category indices.
    """

    features: dict[str, "np.ndarray"]
    labels: dict[str, "np.ndarray"]
    categorical: "np.ndarray"


class DomainPlugin(ABC):
    """What a domain supplies to the core.

    Attributes:
        name: The ``--domain`` name.
        description: One line for ``jepa-platform domains list``.
        data_config: The pydantic model of the recipe's ``data`` section.
        task_config: The pydantic model of a downstream recipe's ``task`` section.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    data_config: ClassVar[type[DataConfig]] = DataConfig
    task_config: ClassVar[type[TaskConfig]] = TaskConfig

    def default_recipe(self) -> dict[str, Any]:
        """Recipe defaults for this domain (model size, masking, objective...)."""
        return {}

    def demo_recipe(self) -> dict[str, Any]:
        """Overrides applied when no data path is given (small and fast on a CPU)."""
        return {}

    def demo_root(self, cache_dir: Path, data: DataConfig) -> Path:
        """Where the demo data of this configuration lives in ``cache_dir``; domains with demo data override it."""
        raise JepaError(f"domain '{self.name}' has no demo data; give --data")

    def data_root(self, data: DataConfig, cache_dir: Path) -> Path:
        """The data ``data`` points at: ``data.path``, or the demo data in ``cache_dir``."""
        return Path(data.path).expanduser() if data.path is not None else self.demo_root(cache_dir, data)

    def prepare_data(self, data: DataConfig, cache_dir: Path) -> None:
        """Once per machine before training (e.g. write the demo data set); default: nothing."""

    @abstractmethod
    def build_tokenizer(self, data: DataConfig, embed_dim: int) -> "Tokenizer":
        """The tokenizer for samples of this data configuration."""

    @abstractmethod
    def build_datasets(self, data: DataConfig, cache_dir: Path) -> DatasetSplits:
        """Training (and validation) datasets; ``data.path=None`` means the demo data in ``cache_dir``."""

    def target_function(self, data: DataConfig) -> "TargetFunction | None":
        """The domain's hand-made targets (``objective.target: domain | both``); ``None``: the domain has none.

        A :class:`~jepa_platform.network.TargetFunction` maps a collated batch, on
        the device, to ``B × N × Dt`` vectors on the tokenizer's grid.
        """
        return None

    def prepare_source(self, data: DataConfig, cache_dir: Path) -> PrepareSource:
        """The raw items ``jepa-platform prepare`` converts (after :meth:`prepare_data`); optional.

        Raises:
            JepaError: The data holds nothing to prepare (naming the path).
        """
        raise JepaError(f"domain '{self.name}' does not support 'prepare' (no prepare_source)")

    def prepare_item(self, item: Any, data: DataConfig) -> PreparedSamples:
        """Read and preprocess one item of :meth:`prepare_source` exactly as :meth:`build_datasets` would.

        Runs in worker processes. Raises :class:`JepaError` naming the file for bad input.
        """
        raise JepaError(f"domain '{self.name}' does not support 'prepare' (no prepare_item)")

    def shard_settings(self, data: DataConfig) -> dict[str, Any]:
        """The ``data`` keys that shape prepared shards; training on shards must use the same values."""
        return data.model_dump(mode="json", exclude={"path"})

    def downstream_task(self, task: TaskConfig, data: DataConfig, cache_dir: Path) -> DownstreamTask:
        """The labelled ``task`` on the data ``data`` describes (preprocessed as in pretraining).

        Raises:
            JepaError: The domain has no such task, or the data lacks its labels or splits.
        """
        raise JepaError(f"domain '{self.name}' defines no downstream tasks")

    def baseline_data(self, task: TaskConfig, data: DataConfig, cache_dir: Path) -> BaselineData:
        """The examples of :meth:`downstream_task` as raw columns, split the same way; optional.

        Raises:
            JepaError: The domain has no raw-column baseline, or the task cannot be built.
        """
        raise JepaError(f"domain '{self.name}' has no raw-column baseline (no baseline_data)")
