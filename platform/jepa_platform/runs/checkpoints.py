"""Checkpoint integrity: a content hash beside each checkpoint, one predecessor kept, and readable refusals.

``last.ckpt`` is written atomically with ``last.ckpt.sha256`` beside it; the
checkpoint it replaces becomes ``previous.ckpt`` (with its hash). ``--resume``
takes the newest checkpoint whose content matches a recorded hash, warning
when it has to fall back to the predecessor.
"""

from __future__ import annotations

import hashlib
import os
import re
import zipfile
from pathlib import Path
from typing import Any

import torch

from ..errors import JepaError

PREVIOUS = "previous.ckpt"


def sidecar(path: Path) -> Path:
    """``last.ckpt`` -> ``last.ckpt.sha256``."""
    return path.with_name(path.name + ".sha256")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def previous_of(path: Path) -> Path:
    return path.with_name(PREVIOUS)


def matches_record(path: Path) -> bool:
    """Whether ``path``'s content hash is the one recorded beside it."""
    record = sidecar(path)
    return path.is_file() and record.is_file() and record.read_text().split()[:1] == [file_sha256(path)]


def keep_as_previous(path: Path, verify: bool) -> None:
    """Before ``path`` is replaced: move it and its hash to ``previous.ckpt``.

    With ``verify``, a ``path`` that does not match its recorded hash is
    dropped instead, so a corrupt file never replaces a sound predecessor
    (a file without a record, from an older version, is kept).
    """
    if not path.is_file():
        return
    if verify and sidecar(path).is_file() and not matches_record(path):
        path.unlink()
        sidecar(path).unlink(missing_ok=True)
        return
    os.replace(path, previous_of(path))
    if sidecar(path).is_file():
        os.replace(sidecar(path), sidecar(previous_of(path)))


def why_unreadable(path: Path, exc: BaseException) -> str:
    """Why ``torch.load(path, weights_only=True)`` failed, in words (never advising an unsafe load)."""
    if not path.exists():
        return "the file does not exist"
    if path.stat().st_size == 0:
        return "the file is empty"
    if not zipfile.is_zipfile(path):
        return "it is truncated or not a PyTorch checkpoint (no complete zip archive)"
    code = re.search(r"GLOBAL (\S+)", str(exc))
    if code:
        return f"it refers to {code.group(1)}, which a weights-only load refuses (checkpoints hold tensors and data)"
    refused = re.search(r"WeightsUnpickler error: (.*?)(?: Please|\n|$)", str(exc))
    if refused:
        return f"it holds data a weights-only load refuses ({refused.group(1).rstrip('.')})"
    if "Weights only load failed" in str(exc):
        return "its contents are damaged (a weights-only load could not decode them)"
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"its contents are damaged ({first[:200]})"


def read_checkpoint(path: str | Path, map_location: Any = "cpu") -> dict[str, Any]:
    """``torch.load`` with ``weights_only=True``; an unreadable file is one :class:`JepaError` saying why."""
    path = Path(path)
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise JepaError(f"{path}: cannot read as a checkpoint: {why_unreadable(path, exc)}") from None
    if not isinstance(checkpoint, dict):
        raise JepaError(f"{path}: cannot read as a checkpoint: it holds a {type(checkpoint).__name__}, not a dict")
    return checkpoint


def recorded_hashes(folder: Path) -> set[str]:
    hashes = set()
    for record in folder.glob("*.ckpt.sha256"):
        text = record.read_text(errors="replace").split()
        if text:
            hashes.add(text[0])
    return hashes


def problem(path: Path, hashes: set[str]) -> str | None:
    """Why ``path`` cannot be resumed from, or ``None`` when it can.

    A checkpoint is sound when its content hash is one recorded beside the
    checkpoints (records move with their files, so a crash between two renames
    still verifies). A folder without any record (older runs) is checked by
    loading the file.
    """
    if not path.is_file():
        return "the file does not exist"
    if path.stat().st_size == 0:
        return "the file is empty"
    if hashes:
        return None if file_sha256(path) in hashes else "its content does not match the recorded hash (corrupt or truncated)"
    try:
        torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        return why_unreadable(path, exc)
    return None


def resume_checkpoint(last: Path) -> tuple[Path, str | None]:
    """The checkpoint to resume from: ``last`` or, when it is unusable, its predecessor.

    Returns the path and a warning naming both files when it fell back.

    Raises:
        JepaError: Neither file is usable; says why for each.
    """
    hashes = recorded_hashes(last.parent)
    last_problem = problem(last, hashes)
    if last_problem is None:
        return last, None
    previous = previous_of(last)
    if not previous.is_file():
        raise JepaError(f"--resume: cannot read {last}: {last_problem}; there is no earlier checkpoint to fall back to")
    previous_problem = problem(previous, hashes)
    if previous_problem is not None:
        raise JepaError(
            f"--resume: cannot read {last} ({last_problem}) nor {previous} ({previous_problem}); nothing to resume from"
        )
    return previous, f"{last} is unusable ({last_problem}); resuming from the previous checkpoint {previous}"
