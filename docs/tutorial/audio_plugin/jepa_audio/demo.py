"""Demo data: WAV files of rising chirps, falling chirps and steady tones (the classes), written once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile

from .config import AudioData

CLASSES = ("rising", "falling", "steady")


def write_demo(root: Path, data: AudioData, seconds: float = 2.0) -> None:
    if root.exists():
        return
    rng = np.random.default_rng(0)
    time = np.arange(round(seconds * data.sample_rate)) / data.sample_rate
    temporary = root.with_name(f".{root.name}.tmp")
    for label, name in enumerate(CLASSES):
        (temporary / name).mkdir(parents=True, exist_ok=True)
        for i in range(data.demo_files_per_class):
            start = rng.uniform(300, 1500)
            slope = (1, -0.5, 0)[label] * start / seconds
            tone = np.sin(2 * np.pi * (start * time + 0.5 * slope * time**2) + rng.uniform(0, 2 * np.pi))
            noisy = 0.5 * tone + 0.05 * rng.normal(size=time.shape)
            soundfile.write(temporary / name / f"{i:03d}.wav", noisy.astype(np.float32), data.sample_rate, "PCM_16")
    temporary.replace(root)
