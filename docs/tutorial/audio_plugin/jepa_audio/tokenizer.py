"""Log-mel patches: `mels_per_patch x frames_per_patch` tiles of a clip's log-mel spectrogram, on a mel x time grid."""

from __future__ import annotations

from typing import Any

import torch
import torchaudio
from jepa_platform.domain import TokenBatch, TokenGrid, Tokenizer
from torch import nn

from .config import AudioData, hop_samples, spectrogram_frames


class LogMelTokenizer(Tokenizer):
    def __init__(self, data: AudioData, embed_dim: int) -> None:
        super().__init__()
        window = round(data.win_ms * data.sample_rate / 1000)
        self.mel = torchaudio.transforms.MelSpectrogram(
            data.sample_rate, n_fft=window, hop_length=hop_samples(data), n_mels=data.n_mels
        )
        shape = (data.n_mels // data.mels_per_patch, spectrogram_frames(data) // data.frames_per_patch)
        self.grid = TokenGrid(shape, axis_names=("mel", "time"))
        self.embed_dim = embed_dim
        patch = (data.mels_per_patch, data.frames_per_patch)
        self.proj = nn.Conv2d(1, embed_dim, kernel_size=patch, stride=patch)

    def forward(self, batch: dict[str, Any]) -> TokenBatch:
        waveform = batch["waveform"]
        with torch.autocast(waveform.device.type, enabled=False):  # the spectrogram in float32 under mixed precision
            logmel = torch.log(self.mel(waveform.float()) + 1e-6)  # B x mels x frames
        logmel = (logmel - logmel.mean(dim=(1, 2), keepdim=True)) / (logmel.std(dim=(1, 2), keepdim=True) + 1e-5)
        tokens = self.proj(logmel.unsqueeze(1).to(self.proj.weight.dtype))  # B x D x mel patches x time patches
        return TokenBatch(tokens.flatten(2).transpose(1, 2))
