"""The EEG domain: EDF/BDF recordings (a folder or the TUAB tree) as video, tubelet tokens, 3-D tube masks.

Heavy libraries (torch, mne) are imported inside the methods, so listing domains stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jepa_platform.domain import (
    DatasetSplits,
    DomainPlugin,
    DownstreamTask,
    PreparedSamples,
    PreparedShards,
    PrepareSource,
)

from .config import EEGDataConfig, EEGTaskConfig


class EEGDomain(DomainPlugin[EEGDataConfig, EEGTaskConfig]):
    name = "eeg"
    description = "EEG (EDF/BDF: TUAB layout or any folder) as video: frame x 10-20 scalp-grid tubelets, tube masks"
    requires = ("mne", "edfio", "scipy")
    install_hint = "pip install 'jepa-platform[eeg]'"
    skips_bad_files = True

    def default_recipe(self) -> dict[str, Any]:
        # V-JEPA's short-range tubes (8 blocks of 0.15 of the plane over the whole clip) on the scalp grid.
        # SIGReg instead of an EMA teacher: EEG-VJEPA's released encoders were found collapsed, and on the
        # demo recordings the EMA teacher collapsed partially (RankMe 8.5 of 192, probe at chance).
        # Masked tokens regress their electrode's band powers over the window (targets.py) beside the latent
        # targets, weighted 4: on the demo, 0.678 against 0.649 for latent targets alone and 0.659 for each
        # frame's periodogram (mean readout, 3 seeds); with per-frame targets the weight of 4 read better by
        # mean and std than a weight of 1 (benchmarks/README.md).
        return {
            "model": {"preset": "vit_small", "depth": 8, "predictor_depth": 4},
            "objective": {"kind": "sigreg", "target": "both", "domain_weight": 4.0},
            "masking": {"strategy": "tubes", "generators": [{"spatial_scale": [0.15, 0.15], "num_blocks": 8}]},
            "trainer": {"batch_size": 64},
        }

    def demo_recipe(self) -> dict[str, Any]:
        # On the core's small demo model: 5 s windows at 100 Hz.
        return {
            "masking": {"min_context": 8},
            "data": {
                "sampling_rate": 100.0, "l_freq": 0.5, "h_freq": 40.0, "notch_freq": None,
                "window_seconds": 5.0, "hop_seconds": 2.5, "frame_seconds": 1.0,
            },
        }

    def demo_root(self, cache_dir: Path, data: EEGDataConfig) -> Path:
        return cache_dir / "eeg" / f"tuab-demo-v2-{data.demo_patients}pat"

    def write_demo(self, root: Path, data: EEGDataConfig) -> None:
        from .demo import write_demo

        write_demo(root, data.demo_patients)

    def build_tokenizer(self, data: EEGDataConfig, embed_dim: int):
        from .tokenizer import EEGTubeletTokenizer

        return EEGTubeletTokenizer(data.channels, data.window_size, data.frame_size, embed_dim)

    def target_function(self, data: EEGDataConfig):
        from .targets import SpectralTargets
        from .tokenizer import cell_index

        return SpectralTargets(cell_index(data.channels), data.frame_size, data.sampling_rate, data.l_freq, data.h_freq)

    def build_datasets(self, root: Path, data: EEGDataConfig) -> DatasetSplits:
        """Training and patient-wise validation windows; the TUAB ``eval`` recordings are held out."""
        from .dataset import load_splits

        return load_splits(root, data)

    def prepare_source(self, root: Path, data: EEGDataConfig) -> PrepareSource:
        from .prepare import prepare_source

        return prepare_source(root, data)

    def prepare_item(self, item: Any, data: EEGDataConfig) -> PreparedSamples:
        from .prepare import prepare_item

        return prepare_item(item, data)

    def shard_settings(self, data: EEGDataConfig) -> dict[str, Any]:
        # frame_seconds shapes the tokens, not the stored windows; demo_patients only names the demo folder
        return data.model_dump(mode="json", exclude={"path", "frame_seconds", "demo_patients"})

    def quick_data(self, data: EEGDataConfig) -> dict[str, Any]:
        # the demo's 5 s windows at 100 Hz: half the tokens; the low-pass below the new Nyquist frequency
        return {"sampling_rate": 100.0, "h_freq": min(data.h_freq, 40.0), "window_seconds": 5.0}

    def read_file(self, path: Path, data: EEGDataConfig) -> dict[str, Any]:
        from .dataset import file_windows

        return file_windows(path, data)

    def downstream_task(self, root: Path, data: EEGDataConfig, task: EEGTaskConfig) -> DownstreamTask:
        """TUAB abnormal-vs-normal on the recordings at ``root`` (see :mod:`.task`)."""
        from .task import build_task

        return build_task(root, data, task, demo=data.path is None)

    def downstream_task_from_shards(
        self, shards: PreparedShards, data: EEGDataConfig, task: EEGTaskConfig
    ) -> DownstreamTask:
        """TUAB abnormal-vs-normal on prepared windows: TUAB's ``eval`` to test, the same validation patients."""
        from .task import build_task_from_shards

        return build_task_from_shards(shards, data, task)


plugin = EEGDomain()
