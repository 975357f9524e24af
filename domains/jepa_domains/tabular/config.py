"""The ``data`` and ``task`` sections of tabular recipes, and the fitted encoding the data section carries."""

from __future__ import annotations

from typing import Literal

from jepa_platform.domain import DataConfig, Section, TaskConfig
from pydantic import model_validator

ColumnType = Literal["numeric", "categorical", "datetime", "ignore"]
DemoTable = Literal["mixtures", "wine", "breast_cancer", "digits", "diabetes"]


class FeatureEncoding(Section):
    """One feature token: a standardized number, or a category index (0 is the "other" bucket)."""

    name: str
    kind: Literal["numeric", "categorical"]
    mean: float = 0.0
    std: float = 1.0
    categories: list[str] = []


class TargetEncoding(Section):
    """The target column: its task type, and its class names (classification)."""

    name: str
    task_type: Literal["classification", "regression"]
    classes: list[str] = []


class TableEncoding(Section):
    """Statistics fitted on the training split; numeric features come first, then categorical ones."""

    features: list[FeatureEncoding]
    target: TargetEncoding | None = None

    @property
    def numeric(self) -> list[FeatureEncoding]:
        return [f for f in self.features if f.kind == "numeric"]

    @property
    def categorical(self) -> list[FeatureEncoding]:
        return [f for f in self.features if f.kind == "categorical"]


class TabularDataConfig(DataConfig):
    """The ``data`` section of a tabular recipe.

    Missing values (NaN, empty cells) are data here: each feature encodes them as its learned
    "missing" token, so the NaN policy of signals and rasters (``nan_policy``) does not apply.
    ``encoding`` is filled in from the training split when the data is first
    read, and then travels with the recipe (run ``config.yaml``, checkpoint
    hyperparameters), so a checkpoint encodes new rows exactly as in pretraining.
    """

    target: str | None = None
    task_type: Literal["auto", "classification", "regression"] = "auto"
    column_types: dict[str, ColumnType] = {}
    max_categories: int = 64
    max_classes: int = 20
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    split_seed: int = 0
    reg_tokens: int = 2
    demo_table: DemoTable = "mixtures"
    demo_format: Literal["csv", "parquet"] = "csv"
    encoding: TableEncoding | None = None

    @model_validator(mode="after")
    def _check(self) -> "TabularDataConfig":
        if self.max_categories < 2 or self.max_classes < 2 or self.reg_tokens < 0:
            raise ValueError("need max_categories >= 2, max_classes >= 2 and reg_tokens >= 0")
        if min(self.val_fraction, self.test_fraction) < 0 or self.val_fraction + self.test_fraction >= 1:
            raise ValueError("need val_fraction, test_fraction >= 0 with a sum below 1")
        defaults = {key: DataConfig.model_fields[key].default for key in ("nan_policy", "max_nan_fraction")}
        if {key: getattr(self, key) for key in defaults} != defaults:
            raise ValueError(
                "data.nan_policy and data.max_nan_fraction apply to signals and rasters; in a table NaN and empty "
                "cells are missing values, which feature tokens encode as their learned 'missing' token"
            )
        return self


class TabularTaskConfig(TaskConfig):
    """Predict ``data.target``; ``name`` only names the results.

    ``metric`` selects the model (early stopping) and is the reported result;
    ``None``: accuracy for a classification target, RMSE for a regression target.
    """

    name: str = "target"
    metric: Literal["accuracy", "balanced_accuracy", "macro_f1", "macro_auc", "rmse", "mae", "r2"] | None = None
