"""The EEG domain: EDF/BDF recordings (a folder or the TUAB tree) as video, tubelet tokens, 3-D tube masks.

Heavy imports (torch, mne) happen inside the methods, so listing domains stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jepa_platform.plugin import DataConfig, DatasetSplits, DomainPlugin, DownstreamTask, LabelSpec, TaskConfig

from .config import EEGDataConfig, EEGTaskConfig


class EEGDomain(DomainPlugin):
    name = "eeg"
    description = "EEG (EDF/BDF: TUAB layout or any folder) as video: frame x 10-20 scalp-grid tubelets, tube masks"
    data_config = EEGDataConfig
    task_config = EEGTaskConfig

    def default_recipe(self) -> dict[str, Any]:
        # V-JEPA's short-range tubes (8 blocks of 0.15 of the plane over the whole clip) on the scalp grid.
        # SIGReg instead of an EMA teacher: EEG-VJEPA's released encoders were found collapsed, and on the
        # demo recordings the EMA teacher collapsed partially (RankMe 8.5 of 192, probe at chance).
        return {
            "model": {"preset": "vit_small", "depth": 8, "predictor_depth": 4},
            "objective": {"kind": "sigreg"},
            "masking": {"strategy": "tubes", "generators": [{"spatial_scale": [0.15, 0.15], "num_blocks": 8}]},
            "trainer": {"batch_size": 64},
        }

    def demo_recipe(self) -> dict[str, Any]:
        # A small ViT on 5 s windows for a CPU.
        return {
            "model": {"preset": "vit_tiny", "depth": 4, "predictor_depth": 2},
            "masking": {"min_context": 8},
            "optim": {"lr": 1e-3, "start_lr": 1e-4, "warmup_fraction": 0.05},
            "trainer": {"max_steps": 300, "batch_size": 32, "num_workers": 0, "checkpoint_every_n_steps": 100},
            "data": {
                "sampling_rate": 100.0, "l_freq": 0.5, "h_freq": 40.0, "notch_freq": None,
                "window_seconds": 5.0, "hop_seconds": 2.5, "frame_seconds": 1.0,
            },
        }

    def demo_root(self, cache_dir: Path, data: EEGDataConfig) -> Path:
        return cache_dir / "eeg" / f"tuab-demo-v2-{data.demo_patients}pat"

    def prepare_data(self, data: DataConfig, cache_dir: Path) -> None:
        if data.path is None:
            from .synthetic import write_demo

            assert isinstance(data, EEGDataConfig)
            write_demo(self.demo_root(cache_dir, data), data.demo_patients)

    def build_tokenizer(self, data: DataConfig, embed_dim: int):
        from .tokenizer import EEGTubeletTokenizer

        assert isinstance(data, EEGDataConfig)
        return EEGTubeletTokenizer(data.channels, data.window_size, data.frame_size, embed_dim)

    def build_datasets(self, data: DataConfig, cache_dir: Path) -> DatasetSplits:
        """Training and patient-wise validation windows; the TUAB ``eval`` recordings are held out."""
        import numpy as np

        from .dataset import LabelledWindows, load_windows
        from .sources import CLASSES, find_recordings, pretrain_split

        assert isinstance(data, EEGDataConfig)
        recordings = [r for r in find_recordings(self.data_root(data, cache_dir)) if r.split != "eval"]
        windows = load_windows(recordings, data)
        split = np.array([pretrain_split(recordings[i], data.val_percent) for i in windows.recording.tolist()])
        train, val = windows.subset(split == "train"), windows.subset(split == "val")
        if all(r.label is not None for r in recordings):  # TUAB tree: the online probe reads the labels
            labelled_val = LabelledWindows(val) if len(val) else None
            return DatasetSplits(LabelledWindows(train), labelled_val, LabelSpec(CLASSES, multilabel=False))
        return DatasetSplits(train, val if len(val) else None)

    def downstream_task(self, task: TaskConfig, data: DataConfig, cache_dir: Path) -> DownstreamTask:
        """TUAB abnormal-vs-normal on ``data``'s recordings (see :mod:`.task`)."""
        from .task import build_task

        assert isinstance(task, EEGTaskConfig) and isinstance(data, EEGDataConfig)
        return build_task(self.data_root(data, cache_dir), data, task, demo=data.path is None)


plugin = EEGDomain()
