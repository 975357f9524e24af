"""From a folder of sound files to clips: each file cut into `clip_seconds` clips, split by a hash of its name."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import torch
from jepa_platform.domain import DatasetSplits, JepaError, LabelSpec, holdout_mask
from torch.utils.data import Dataset

from .config import AudioData, clip_samples
from .readers import read_sound, sound_files


class ClipDataset(Dataset):
    """Samples `{"waveform": clip_samples floats, "label": class index}`; batches stack them."""

    def __init__(self, clips: np.ndarray, labels: np.ndarray) -> None:
        self.clips, self.labels = torch.from_numpy(clips), torch.from_numpy(labels)

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"waveform": self.clips[i], "label": self.labels[i]}


def load_splits(root: Path, data: AudioData) -> DatasetSplits:
    files, file_classes = sound_files(root)
    classes = tuple(sorted(set(file_classes) - {""}))
    size = clip_samples(data)
    clips, labels, held, rates = [], [], [], Counter()
    for path, name in zip(files, file_classes):
        mono, rate, channels = read_sound(path, data.sample_rate)
        rates[(rate, channels)] += 1
        count = len(mono) // size
        clips.append(mono[: count * size].reshape(count, size))
        labels.append(np.full(count, classes.index(name) if classes else 0, dtype=np.int64))
        held.append(np.full(count, holdout_mask([path.relative_to(root).as_posix()], data.val_percent)[0]))
    clips, labels, held = np.concatenate(clips), np.concatenate(labels), np.concatenate(held)
    if not len(clips):
        raise JepaError(f"{root}: every file is shorter than one clip of data.clip_seconds {data.clip_seconds}")
    read = ", ".join(f"{n} of {ch} channel(s) at {rate} Hz" for (rate, ch), n in sorted(rates.items()))
    note = f"{len(files)} files ({read}), mixed to mono at {data.sample_rate} Hz: {len(clips)} clips"
    return DatasetSplits(
        train=ClipDataset(clips[~held], labels[~held]),
        val=ClipDataset(clips[held], labels[held]) if held.any() else None,
        labels=LabelSpec(classes, multilabel=False) if len(classes) >= 2 else None,
        notes=[note],
    )
