"""The ``data`` and ``task`` sections of SAR recipes."""

from __future__ import annotations

from typing import Literal

from jepa_platform.domain import DataConfig, JepaError, TaskConfig
from pydantic import field_validator, model_validator

Polarization = Literal["VV", "VH", "HH", "HV"]
Unit = Literal["amplitude", "intensity", "db"]


class SARDataConfig(DataConfig):
    """Amplitude chips: where they are, how pixel values convert, and the chip / patch / target geometry.

    ``path`` is an MSTAR-like tree (``train_dir`` and ``test_dir`` below it,
    one folder per class in each), or any chip file or folder of chips, or a
    list of them (no labels). Per-polarization files of one patch
    (``x_VV.tif``, ``x_VH.tif``) pair into one chip whose bands follow
    ``polarizations``. ``unit`` says what the files hold: ``amplitude``,
    ``intensity`` (amplitude²) or ``db`` (10·log10 of intensity). ``bands``,
    ``unit`` and ``polarizations`` left unset (``None``) are inferred from the
    data when the recipe resolves. Chips are centre-cropped to a square and
    resized to ``size``; ``patch`` is the token size. Gradient targets use the
    window ``radii`` (pixels at ``size``) and pool each patch to
    ``target_cells``² cells.
    """

    bands: int | None = None
    unit: Unit | None = None
    polarizations: tuple[Polarization, ...] | None = None
    size: int = 128
    patch: int = 16
    radii: tuple[int, ...] = (5, 9, 13, 17)
    target_cells: int = 1
    train_dir: str = "17_DEG"
    test_dir: str = "15_DEG"
    val_fraction: float = 0.1
    demo_per_class: int = 60
    demo_looks: int = 2
    demo_heading_span: float = 60.0

    @field_validator("polarizations", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        """Polarization names in any case (``vv`` is ``VV``)."""
        return [str(item).upper() for item in value] if isinstance(value, (list, tuple)) else value

    @model_validator(mode="after")
    def _check(self) -> "SARDataConfig":
        if (self.bands is not None and self.bands < 1) or self.patch < 1 or self.size % self.patch:
            raise ValueError(f"need bands >= 1 and size ({self.size}) a multiple of patch ({self.patch})")
        if self.polarizations is not None:
            if not self.polarizations or len(set(self.polarizations)) < len(self.polarizations):
                raise ValueError(f"polarizations must be distinct and not empty, got {list(self.polarizations)}")
            if self.bands is not None and self.bands != len(self.polarizations):
                raise ValueError(f"bands ({self.bands}) must be the number of polarizations {list(self.polarizations)}")
        if not self.radii or min(self.radii) < 1 or max(self.radii) >= self.size:
            raise ValueError(f"radii must be positive and below size {self.size}, got {list(self.radii)}")
        if self.target_cells < 1 or self.patch % self.target_cells:
            raise ValueError(f"target_cells ({self.target_cells}) must divide patch ({self.patch})")
        if not 0 <= self.val_fraction < 1 or self.demo_per_class < 4 or self.demo_looks < 1:
            raise ValueError("need 0 <= val_fraction < 1, demo_per_class >= 4 and demo_looks >= 1")
        if not 0 <= self.demo_heading_span <= 360:
            raise ValueError(f"demo_heading_span must be within 0-360 degrees, got {self.demo_heading_span}")
        return self

    @property
    def grid(self) -> tuple[int, int]:
        return (self.size // self.patch, self.size // self.patch)

    def resolved_bands(self) -> int:
        """``bands``, once the recipe has resolved it (and ``unit``) from the data."""
        if self.bands is None or self.unit is None:
            raise JepaError("data.bands and data.unit are not set: resolve the recipe (it infers them from the data)")
        return self.bands


class SARTaskConfig(TaskConfig):
    """Classification of the class folders: ``shots`` training chips per class (all when ``None``), drawn
    with ``seed`` from ``data.train_dir``; ``val_per_class`` other training chips select the model;
    ``data.test_dir`` is the test set."""

    name: Literal["classes"] = "classes"
    shots: int | None = None
    seed: int = 0
    val_per_class: int = 10

    @model_validator(mode="after")
    def _check(self) -> "SARTaskConfig":
        if (self.shots is not None and self.shots < 1) or self.val_per_class < 1:
            raise ValueError("need shots >= 1 (or null for all) and val_per_class >= 1")
        return self
