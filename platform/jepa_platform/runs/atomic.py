"""Atomic checkpoint writes and safe (``weights_only``) loads."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, BinaryIO, Callable

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from .checkpoints import file_sha256, read_checkpoint, sidecar


def _atomic_write(path: str | Path, write: Callable[[BinaryIO], None]) -> None:
    """Write through ``write`` into a temporary file beside ``path``, flush it to disk, rename it over ``path``.

    A crash at any point leaves either the old file or the new one, never a half-written file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates owner-only files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_torch_save(obj: Any, path: str | Path) -> None:
    """``torch.save`` that never leaves a half-written file (see :func:`_atomic_write`)."""
    _atomic_write(path, lambda handle: torch.save(obj, handle))


def atomic_write_text(path: str | Path, text: str) -> None:
    """Replace a text file atomically."""
    _atomic_write(path, lambda handle: handle.write(text.encode()))


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Replace a binary file atomically."""
    _atomic_write(path, lambda handle: handle.write(data))


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True`` (no arbitrary code from the file); one line saying why not."""
    return read_checkpoint(path, map_location)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning checkpoint I/O that renames a fully written temporary file into place, its hash beside it."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any = None) -> None:
        atomic_torch_save(checkpoint, path)
        atomic_write_text(sidecar(Path(path)), f"{file_sha256(Path(path))}\n")

    def load_checkpoint(self, path: str | Path, map_location: Any = None, weights_only: bool | None = True):
        return read_checkpoint(path, map_location or "cpu")
