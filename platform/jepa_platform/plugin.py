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

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from .schema import Section

if TYPE_CHECKING:
    from torch.utils.data import Dataset

    from .tokens import Tokenizer


class DataConfig(Section):
    """The ``data`` recipe section; plugins subclass it with their own keys."""

    path: str | None = None
    """Raw data folder or file; ``None`` uses the domain's embedded demo data."""


@dataclass
class DatasetSplits:
    """Datasets of dict samples for pretraining; ``val`` may be ``None``."""

    train: "Dataset"
    val: "Dataset | None" = None


class DomainPlugin(ABC):
    """What a domain supplies to the core.

    Attributes:
        name: The ``--domain`` name.
        description: One line for ``jepa-platform domains list``.
        data_config: The pydantic model of the recipe's ``data`` section.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    data_config: ClassVar[type[DataConfig]] = DataConfig

    def default_recipe(self) -> dict[str, Any]:
        """Recipe defaults for this domain (model size, masking, objective...)."""
        return {}

    def demo_recipe(self) -> dict[str, Any]:
        """Overrides applied when no data path is given (small and fast on a CPU)."""
        return {}

    def prepare_data(self, data: DataConfig, cache_dir: Path) -> None:
        """Once per machine before training (e.g. write the demo data set); default: nothing."""

    @abstractmethod
    def build_tokenizer(self, data: DataConfig, embed_dim: int) -> "Tokenizer":
        """The tokenizer for samples of this data configuration."""

    @abstractmethod
    def build_datasets(self, data: DataConfig, cache_dir: Path) -> DatasetSplits:
        """Training (and validation) datasets; ``data.path=None`` means the demo data in ``cache_dir``."""
