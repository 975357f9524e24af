"""Finding recordings (a folder searched recursively, or the TUAB tree) and splitting them by patient."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

from jepa_platform.errors import JepaError

from .edf import SUFFIXES

CLASSES = ("normal", "abnormal")
TUAB_SPLITS = ("train", "eval")


@dataclass(frozen=True)
class Recording:
    """One EDF/BDF file, its patient, and (in the TUAB tree) its official split and label."""

    path: Path
    patient: str
    split: str | None = None
    label: int | None = None


def patient_of(path: Path) -> str:
    """The patient id: the file name up to the first ``_`` (TUH names files ``<patient>_s<session>_t<token>``)."""
    return path.stem.split("_")[0]


def tuab_place(path: Path, root: Path) -> tuple[str, int] | None:
    """``(split, label)`` from a path ``train|eval/normal|abnormal/...`` under ``root``; ``None`` outside that tree."""
    parts = [part.lower() for part in path.relative_to(root).parts[:-1]]
    for i in range(len(parts) - 1):
        if parts[i] in TUAB_SPLITS and parts[i + 1] in CLASSES:
            return parts[i], CLASSES.index(parts[i + 1])
    return None


def find_recordings(root: Path) -> list[Recording]:
    """Every EDF/BDF file under ``root`` (or ``root`` itself), sorted, with TUAB split and label where the path has them.

    Raises:
        JepaError: ``root`` does not exist or holds no EDF/BDF file.
    """
    if not root.exists():
        raise JepaError(f"data path {root} does not exist")
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.suffix.lower() in SUFFIXES)
    if not files or files[0].suffix.lower() not in SUFFIXES:
        raise JepaError(f"{root}: no EDF/BDF files ({', '.join(SUFFIXES)}) found")
    base = root if root.is_dir() else root.parent
    recordings = []
    for path in files:
        place = tuab_place(path, base)
        split, label = place if place else (None, None)
        recordings.append(Recording(path, patient_of(path), split, label))
    return recordings


def is_validation(patient: str, val_percent: float) -> bool:
    """Whether a patient belongs to the validation part: a fixed hash, so every run splits alike."""
    return zlib.crc32(patient.encode()) % 10_000 < val_percent * 100


def pretrain_split(recording: Recording, val_percent: float) -> str:
    """``train``, ``val`` (patient-wise, from training recordings), or ``eval`` (the official TUAB test set)."""
    if recording.split == "eval":
        return "eval"
    return "val" if is_validation(recording.patient, val_percent) else "train"
