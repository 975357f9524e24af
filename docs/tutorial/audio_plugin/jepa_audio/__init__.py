"""An audio domain for jepa-platform: WAV clips as log-mel patches on a 2-D grid.

The entry-point module: the plugin class only. torch, torchaudio and soundfile are imported inside the hooks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jepa_platform.domain import DatasetSplits, DomainPlugin, TaskConfig

from .config import AudioData


class AudioDomain(DomainPlugin[AudioData, TaskConfig]):
    name = "audio"
    description = "audio (WAV, FLAC, OGG): log-mel spectrogram patches on a mel x time grid, multi-block masks"
    requires = ("soundfile", "torchaudio")
    install_hint = "pip install soundfile torchaudio"

    def default_recipe(self) -> dict[str, Any]:
        return {"masking": {"strategy": "multiblock", "num_blocks": 4, "min_context": 4}}

    def demo_recipe(self) -> dict[str, Any]:
        return {"objective": {"kind": "sigreg", "sigreg": {"weight": 0.1}}, "trainer": {"max_steps": 200}}

    def demo_root(self, cache_dir: Path, data: AudioData) -> Path:
        return cache_dir / "audio" / f"demo-v1-{data.demo_files_per_class}"

    def write_demo(self, root: Path, data: AudioData) -> None:
        from .demo import write_demo

        write_demo(root, data)

    def build_tokenizer(self, data: AudioData, embed_dim: int):
        from .tokenizer import LogMelTokenizer

        return LogMelTokenizer(data, embed_dim)

    def build_datasets(self, root: Path, data: AudioData) -> DatasetSplits:
        from .dataset import load_splits

        return load_splits(root, data)


plugin = AudioDomain()
