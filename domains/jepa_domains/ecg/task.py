"""The ``task`` section of an ECG downstream recipe: a PTB-XL label set and its evaluation protocol."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from jepa_platform.plugin import TaskConfig

LabelSet = Literal["all", "diagnostic", "subdiagnostic", "superdiagnostic", "form", "rhythm"]


class ECGTaskConfig(TaskConfig):
    """A PTB-XL label set (Strodthoff et al.) with ECG-JEPA's crops.

    Training sees one random ``crop_seconds`` crop of each record per epoch;
    evaluation averages the logits of crops every ``eval_stride_seconds`` over
    the record. ``min_samples``: classes in at most this many records (all
    folds) are dropped, as the benchmarking code does (never for ``diagnostic``).
    """

    name: LabelSet
    crop_seconds: float = 2.5
    eval_stride_seconds: float = 1.25
    train_folds: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8)
    val_folds: tuple[int, ...] = (9,)
    test_folds: tuple[int, ...] = (10,)
    min_samples: int = 0

    @model_validator(mode="after")
    def _check(self) -> "ECGTaskConfig":
        if self.crop_seconds <= 0 or self.eval_stride_seconds <= 0 or self.min_samples < 0:
            raise ValueError("need crop_seconds > 0, eval_stride_seconds > 0 and min_samples >= 0")
        folds = [self.train_folds, self.val_folds, self.test_folds]
        if not all(folds) or len(set().union(*folds)) != sum(len(f) for f in folds):
            raise ValueError(
                f"train_folds {list(self.train_folds)}, val_folds {list(self.val_folds)} and "
                f"test_folds {list(self.test_folds)} must be non-empty and disjoint"
            )
        return self
