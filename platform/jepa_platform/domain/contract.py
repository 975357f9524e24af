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
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeVar, get_args, get_origin

from pydantic import Field

from ..config import Section
from ..errors import JepaError
from .badfiles import BadFilePolicy
from .missing import NanPolicy

if TYPE_CHECKING:
    import numpy as np
    from torch.utils.data import Dataset

    from .auxiliary import AuxiliaryLoss
    from .conditioning import PredictorConditioning
    from .targets import TargetFunction
    from .tokens import Tokenizer


def cache_dir() -> Path:
    """Where domains keep generated demo data: ``$JEPA_PLATFORM_CACHE`` or ``~/.cache/jepa-platform``."""
    return Path(os.environ.get("JEPA_PLATFORM_CACHE", Path.home() / ".cache" / "jepa-platform"))


class DataConfig(Section):
    """The ``data`` recipe section; plugins subclass it with their own keys."""

    path: str | list[str] | None = None
    """Raw data folder or file (a list of them, for domains that read several); ``None`` uses the domain's
    embedded demo data."""
    nan_policy: NanPolicy = "interpolate"
    """What becomes of signal and raster windows holding NaN: ``interpolate`` fills channels with at most
    ``max_nan_fraction`` of their values missing and drops (or marks absent) the rest, ``drop`` drops any
    window with a NaN, ``fail`` stops at the first (see :mod:`jepa_platform.domain.missing`). Tables keep
    their own meaning of NaN: a missing value, a learned token."""
    max_nan_fraction: float = Field(default=0.1, ge=0.0, lt=1.0)
    """Under ``nan_policy: interpolate``, the largest share of a channel's values in one window that is filled."""
    on_bad_file: BadFilePolicy = "fail"
    """A file that cannot be read (corrupt, truncated): ``fail`` stops with its one-line error, ``skip`` goes on
    without it and counts it (in the log and as the ``data/bad_files_skipped`` metric)."""


@dataclass(frozen=True)
class LabelSpec:
    """What the ``label`` entries of a dataset's samples mean.

    Args:
        names: Class names, in the order of the label vector / class index; for regression, the target names.
        multilabel: ``True``: labels are float multi-hot vectors; ``False``: int64 class indices.
        regression: ``True``: labels are float values in their own units (a scalar for one
            target, a vector for several); ``multilabel`` is then ``False``.
        per_token: ``True``: a dense task, labels are ``N`` int64 class indices, one per token of the
            tokenizer's grid (``-1``: not scored); ``multilabel`` and ``regression`` are then ``False``.
    """

    names: tuple[str, ...]
    multilabel: bool
    regression: bool = False
    per_token: bool = False


@dataclass
class DatasetSplits:
    """Datasets of samples for pretraining; ``val`` may be ``None``.

    When ``labels`` is given, samples are dicts carrying a ``label`` entry, and
    the monitor's linear probe reports how linearly readable the embeddings are.
    """

    train: "Dataset"
    val: "Dataset | None" = None
    labels: LabelSpec | None = None
    stats: dict[str, int] = field(default_factory=dict)
    """Counts of how the data was read (e.g. ``windows_dropped_nan``), logged to the run as ``data/<name>``."""
    notes: list[str] = field(default_factory=list)
    """Lines logged once when the data is set up (e.g. the files that lost windows to NaN, how validation was
    held out)."""


@dataclass
class PrepareSource:
    """What ``jepa-platform prepare`` converts into shards.

    Args:
        items: Picklable units of work (a raw file, a record), in a deterministic order;
            ``str(item)`` names the input in error messages.
        labels: What the samples' ``label`` entries mean, when they have one.
        unit: What an item is, for the progress bar (``record``, ``file``).
        info: JSON-serializable facts about the whole source that downstream tasks need from the
            shards (e.g. a table mapping labels to label sets); kept in the manifest.
    """

    items: list[Any]
    labels: LabelSpec | None = None
    unit: str = "item"
    info: dict[str, Any] = field(default_factory=dict)


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


@dataclass
class PreparedShards:
    """Every sample of a prepared shard folder, read back into memory for a downstream task.

    Args:
        location: The folder or URI; errors name it.
        contents: The columns of every sample and its split, in shard order (numeric arrays, strings as ``str``).
        labels: What the ``label`` column means, when the shards have one.
        info: What :attr:`PrepareSource.info` held.
        demo: Whether the shards were prepared from the domain's demo data.
    """

    location: str
    contents: PreparedSamples
    labels: LabelSpec | None
    info: dict[str, Any]
    demo: bool


class TaskConfig(Section):
    """The ``task`` section of a downstream recipe; plugins subclass it with their own keys."""

    name: str
    """Which of the domain's labelled tasks (e.g. a PTB-XL label set)."""


Metric = Literal["macro_auc", "accuracy", "balanced_accuracy", "macro_f1", "rmse", "mae", "r2", "mean_iou", "mean_ap"]


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


DataT = TypeVar("DataT", bound=DataConfig)
TaskT = TypeVar("TaskT", bound=TaskConfig)


class DomainPlugin(ABC, Generic[DataT, TaskT]):
    """What a domain supplies to the core, typed by its own ``data`` and ``task`` sections.

    A plugin subclasses ``DomainPlugin[MyDataConfig, MyTaskConfig]``; those
    classes become its :attr:`data_config` and :attr:`task_config`, and every
    hook receives validated sections of those types. The core resolves where
    the data lives (``data.path``, or the demo data it writes once into the
    cache) and hands the hooks that ``root``.

    Attributes:
        name: The ``--domain`` name.
        description: One line for ``jepa-platform domains list``.
        data_config: The pydantic model of the recipe's ``data`` section.
        task_config: The pydantic model of a downstream recipe's ``task`` section.
        requires: Modules the plugin's methods import (its readers); when one is missing,
            the domain stops with ``install_hint`` before any work starts.
        install_hint: How to install them, e.g. ``pip install 'jepa-platform[ecg]'``.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    requires: ClassVar[tuple[str, ...]] = ()
    install_hint: ClassVar[str] = ""
    skips_bad_files: ClassVar[bool] = False
    """Whether the readers apply ``data.on_bad_file: skip``; where not, a recipe asking for it is refused."""
    data_config: type[DataT] = DataConfig  # type: ignore[assignment]
    task_config: type[TaskT] = TaskConfig  # type: ignore[assignment]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Take ``data_config`` and ``task_config`` from ``DomainPlugin[DataT, TaskT]`` unless set explicitly."""
        super().__init_subclass__(**kwargs)
        for base in getattr(cls, "__orig_bases__", ()):
            if get_origin(base) is DomainPlugin:
                data, task = get_args(base)
                if isinstance(data, type) and "data_config" not in cls.__dict__:
                    cls.data_config = data
                if isinstance(task, type) and "task_config" not in cls.__dict__:
                    cls.task_config = task

    # ------------------------------------------------------------ recipes
    def default_recipe(self) -> dict[str, Any]:
        """Recipe defaults for this domain (model size, masking, objective...)."""
        return {}

    def demo_recipe(self) -> dict[str, Any]:
        """Overrides applied when no data path is given (small and fast on a CPU)."""
        return {}

    def resolve_data(self, data: DataT, cache_dir: Path) -> DataT:
        """``data`` with the settings derived from the data itself filled in (e.g. a table's encoding).

        Runs once when the recipe is resolved; the recipe is final afterwards, so
        the run's ``config.yaml`` and checkpoint carry these settings and nothing
        changes them while data loads. Default: ``data`` unchanged (no data read).
        """
        return data

    # --------------------------------------------------------------- data
    def demo_root(self, cache_dir: Path, data: DataT) -> Path:
        """Where the demo data of this configuration lives in ``cache_dir``; domains with demo data override it."""
        raise JepaError(f"domain '{self.name}' has no demo data; give --data")

    def write_demo(self, root: Path, data: DataT) -> None:
        """Write the demo data set into ``root`` unless it is there already (see :meth:`demo_root`)."""

    def data_root(self, data: DataT, cache_dir: Path) -> Path:
        """The data ``data`` points at: ``data.path``, or the demo data in ``cache_dir``.

        A list of paths is refused here; a domain that reads several overrides this hook
        and receives them as a list ``root`` in its other hooks.
        """
        if isinstance(data.path, list):
            raise JepaError(f"domain '{self.name}' reads one data path (a file or folder), not a list of them")
        return Path(data.path).expanduser() if data.path is not None else self.demo_root(cache_dir, data)

    def ensure_data(self, data: DataT, cache_dir: Path) -> Path:
        """:meth:`data_root`, with the demo data written first when ``data.path`` is unset.

        One process at a time writes a demo (a lock file beside it): runs started together on a fresh
        cache wait for the first to finish writing rather than delete or read its half-written files.
        """
        from ..flock import exclusive

        root = self.data_root(data, cache_dir)
        if data.path is None:
            busy = f"waiting for another process to finish writing the demo data in {root}"
            with exclusive(root.parent / f".{root.name}.lock", busy):
                self.write_demo(root, data)
        return root

    @abstractmethod
    def build_tokenizer(self, data: DataT, embed_dim: int) -> "Tokenizer":
        """The tokenizer for samples of this data configuration."""

    @abstractmethod
    def build_datasets(self, root: Path, data: DataT) -> DatasetSplits:
        """Training (and validation) datasets of the data at ``root`` (see :meth:`data_root`)."""

    def target_function(self, data: DataT) -> "TargetFunction | None":
        """The domain's hand-made targets (``objective.target: domain | both``); ``None``: the domain has none.

        A :class:`~jepa_platform.domain.TargetFunction` maps a collated batch, on
        the device, to ``B × N × Dt`` vectors on the tokenizer's grid.
        """
        return None

    def auxiliary_loss(self, data: DataT, embed_dim: int) -> "AuxiliaryLoss | None":
        """A supervised term added to the JEPA loss in pretraining (e.g. action-chunk regression); ``None``: none.

        An :class:`~jepa_platform.domain.AuxiliaryLoss` maps the context encoder's
        output, the context indices and the batch to a weighted scalar; it trains
        with the encoder and is not part of the exported encoder.
        """
        return None

    def predictor_conditioning(self, data: DataT, width: int) -> "PredictorConditioning | None":
        """Vectors added to the predictor's target queries (e.g. the actions between context and target, as in
        seq-JEPA); ``None``: the predictor sees the targets' positions alone.

        A :class:`~jepa_platform.domain.PredictorConditioning` maps the batch and
        the masks to ``K × B × Nt × width`` vectors (``width``: the predictor's);
        it trains with the predictor and is not part of the exported encoder.
        """
        return None

    # ------------------------------------------------------------- shards
    def prepare_source(self, root: Path, data: DataT) -> PrepareSource:
        """The raw items at ``root`` that ``jepa-platform prepare`` converts; optional.

        Raises:
            JepaError: The data holds nothing to prepare (naming the path).
        """
        raise JepaError(f"domain '{self.name}' does not support 'prepare' (no prepare_source)")

    def prepare_item(self, item: Any, data: DataT) -> PreparedSamples:
        """Read and preprocess one item of :meth:`prepare_source` exactly as :meth:`build_datasets` would.

        Runs in worker processes. Raises :class:`JepaError` naming the file for bad input.
        """
        raise JepaError(f"domain '{self.name}' does not support 'prepare' (no prepare_item)")

    def shard_settings(self, data: DataT) -> dict[str, Any]:
        """The ``data`` keys that shape prepared shards; training on shards must use the same values."""
        return data.model_dump(mode="json", exclude={"path"})

    def quick_data(self, data: DataT) -> dict[str, Any]:
        """``data`` settings that make a pretraining step much cheaper (fewer or smaller inputs); ``{}``: none.

        Suggested, beside a smaller model, when pretraining would run slowly without a GPU.
        """
        return {}

    # ----------------------------------------------------------- one file
    def read_file(self, path: Path, data: DataT) -> dict[str, "np.ndarray"]:
        """The samples one file gives, read and preprocessed exactly as training reads them; for embedding a file.

        ``load_encoder(...).embed(path)`` calls this with the encoder's saved ``data`` section, collates
        nothing more and encodes the result, so the file is seen as training saw its data.

        Returns:
            What a batch holds for the tokenizer (e.g. ``signal`` and ``lead_present``), each array with a
            leading axis of samples: a record's windows, a table's rows, one image chip. No ``label``.

        Default: :meth:`prepare_source` on ``path``, then :meth:`prepare_item` on each of its items (every
        split), so a domain that supports ``prepare`` reads one file with its own preparation code. A domain
        overrides it where one file is read differently (e.g. no validation split of a single record).

        Raises:
            JepaError: The file cannot be read (naming it), or gives no sample.
        """
        import numpy as np

        if type(self).prepare_source is DomainPlugin.prepare_source:
            raise JepaError(f"domain '{self.name}' cannot read one file: it has neither read_file nor prepare_source")
        source = self.prepare_source(path, data)
        parts = [self.prepare_item(item, data).samples for item in source.items]
        parts = [samples for samples in parts if samples and len(next(iter(samples.values())))]
        if not parts:
            raise JepaError(f"{path}: gives no sample for domain '{self.name}' (too short, or dropped by data.nan_policy)")
        return {key: np.concatenate([samples[key] for samples in parts]) for key in parts[0] if key != "label"}

    # --------------------------------------------------------- downstream
    def downstream_task(self, root: Path, data: DataT, task: TaskT) -> DownstreamTask:
        """The labelled ``task`` on the data at ``root`` (preprocessed as in pretraining).

        Raises:
            JepaError: The domain has no such task, or the data lacks its labels or splits.
        """
        raise JepaError(f"domain '{self.name}' defines no downstream tasks")

    def downstream_task_from_shards(self, shards: PreparedShards, data: DataT, task: TaskT) -> DownstreamTask:
        """The labelled ``task`` on prepared shards, labelled and split as :meth:`downstream_task` does the raw data.

        Raises:
            JepaError: The domain reads its tasks from raw data only, or the shards lack the task's labels or splits.
        """
        raise JepaError(
            f"domain '{self.name}' runs downstream tasks on raw data only; give that data with --data, not shards"
        )

    def baseline_data(self, root: Path, data: DataT, task: TaskT) -> BaselineData:
        """The examples of :meth:`downstream_task` as raw columns, split the same way; optional.

        Raises:
            JepaError: The domain has no raw-column baseline, or the task cannot be built.
        """
        raise JepaError(f"domain '{self.name}' has no raw-column baseline (no baseline_data)")
