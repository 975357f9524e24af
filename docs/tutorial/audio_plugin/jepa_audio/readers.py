"""Reading sound files with soundfile: mono float32 at the recipe's sample rate, one clear error per bad file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile
import torch
import torchaudio
from jepa_platform.domain import JepaError

SUFFIXES = (".wav", ".flac", ".ogg")


def sound_files(root: Path) -> tuple[list[Path], list[str]]:
    """The sound files under `root` and the class of each: its subfolder of `root` (`""` for none)."""
    if not root.is_dir():
        raise JepaError(f"{root}: no such folder (data.path names a folder of {', '.join(SUFFIXES)} files)")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in SUFFIXES)
    if not files:
        raise JepaError(f"{root}: holds no {', '.join(SUFFIXES)} files")
    classes = [p.relative_to(root).parts[0] if p.parent != root else "" for p in files]
    if "" in classes and len(set(classes)) > 1:
        raise JepaError(f"{files[classes.index('')]}: lies beside the class subfolders of {root}, in none of them")
    return files, classes


def read_sound(path: Path, sample_rate: int) -> tuple[np.ndarray, int, int]:
    """The file's samples mixed to mono and resampled to `sample_rate`, its own rate and channel count."""
    try:
        samples, rate = soundfile.read(path, dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError) as exc:
        raise JepaError(f"{path}: cannot read as a sound file: {exc}") from None
    if not np.isfinite(samples).all():
        raise JepaError(f"{path}: holds samples that are not finite")
    mono = torch.from_numpy(samples.mean(axis=1))
    if rate != sample_rate:
        mono = torchaudio.functional.resample(mono, rate, sample_rate)
    return mono.numpy(), rate, samples.shape[1]
