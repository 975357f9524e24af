"""The action domain (ACT-JEPA): demonstration episodes in HDF5, one token per time step, future-chunk masks,
and action-chunk regression beside the JEPA loss; behaviour cloning downstream.

Heavy libraries (torch, h5py, gymnasium) are imported inside the methods, so listing domains stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jepa_platform.domain import DatasetSplits, DomainPlugin, DownstreamTask, JepaError, PreparedSamples, PrepareSource

from .config import ActionDataConfig, ActionTaskConfig


class ActionDomain(DomainPlugin[ActionDataConfig, ActionTaskConfig]):
    name = "action"
    description = (
        "imitation learning (HDF5 episodes: robomimic, robosuite raw, ALOHA/ACT); a token per step, future-chunk "
        "masks plus action-chunk regression"
    )
    requires = ("h5py",)
    install_hint = "pip install 'jepa-platform[action]'"

    def default_recipe(self) -> dict[str, Any]:
        # ACT-JEPA: an EMA teacher's latents of future observations as targets, beside action-chunk regression.
        # Its settings are not public; the context is the recent past, the targets the next two chunks of steps.
        return {
            "model": {"preset": "vit_tiny", "depth": 4, "predictor_depth": 2},
            "masking": {"strategy": "future_chunks", "context_share": [0.25, 0.5], "chunk_share": [0.125, 0.25],
                        "num_chunks": 2, "min_context": 2},
            "objective": {"ema_momentum": [0.996, 1.0], "loss": "smooth_l1"},
            "trainer": {"batch_size": 64},
        }

    def demo_recipe(self) -> dict[str, Any]:
        # The Pendulum demonstrations: 60 episodes of 200 steps, windows of 32 steps; a pretraining step of
        # 32 windows takes well under 0.1 s on 2 CPU cores. The monitor's probe tells expert from noisy demos.
        # SIGReg rather than the EMA teacher: in benchmarks/action_closed_loop.py (3 seeds) a probe on the
        # SIGReg encoder swings the pendulum up far more often than one on the EMA encoder or on random init.
        return {
            "objective": {"kind": "sigreg"},
            "model": {"embed_dim": 64, "num_heads": 2, "predictor_dim": 64, "predictor_heads": 2},
            "trainer": {"max_steps": 300, "val_every_n_steps": 100},
            "data": {"label_keys": ["expert", "noisy"]},
        }

    def demo_root(self, cache: Path, data: ActionDataConfig) -> Path:
        return cache / "action" / f"pendulum-v1-{data.demo_episodes}ep-{data.demo_noisy_share:g}noisy.hdf5"

    def write_demo(self, root: Path, data: ActionDataConfig) -> None:
        from .demo import write_demo

        write_demo(root, data.demo_episodes, data.demo_noisy_share)

    def resolve_data(self, data: ActionDataConfig, cache_dir: Path) -> ActionDataConfig:
        """``data`` with ``normalization`` (the layout, the observation keys and their statistics) fitted on the
        training episodes (the data's line of notes says what was inferred). Unchanged when it is set."""
        if data.normalization is not None:
            return data
        from .dataset import resolved

        return resolved(self.ensure_data(data, cache_dir), data)[2]

    def build_tokenizer(self, data: ActionDataConfig, embed_dim: int):
        from .tokenizer import StepTokenizer

        if data.normalization is None:
            raise JepaError("data.normalization is not set: resolve the recipe (it is fitted on the training episodes)")
        cameras = {spec.name: spec.shape[2] for spec in data.normalization.images}
        return StepTokenizer(
            data.normalization.obs_dim, data.window, embed_dim, cameras, data.image_size, data.patch_size
        )

    def auxiliary_loss(self, data: ActionDataConfig, embed_dim: int):
        """The action-chunk regression beside the JEPA loss (``data.action_weight``; none at 0)."""
        from .tokenizer import ActionChunkLoss

        if data.action_weight == 0:
            return None
        if data.normalization is None:
            raise JepaError("data.normalization is not set: resolve the recipe (it is fitted on the training episodes)")
        return ActionChunkLoss(
            embed_dim, data.chunk, data.normalization.action_dim, data.action_weight, tokens_per_step(data)
        )

    def predictor_conditioning(self, data: ActionDataConfig, width: int):
        """With ``data.action_conditioned``: the actions between the context and each target step, added to the
        predictor's queries (seq-JEPA); none otherwise."""
        from .conditioning import ActionConditioning

        if not data.action_conditioned:
            return None
        if data.normalization is None:
            raise JepaError("data.normalization is not set: resolve the recipe (it is fitted on the training episodes)")
        return ActionConditioning(data.window, data.normalization.action_dim, width, tokens_per_step(data))

    def build_datasets(self, root: Path, data: ActionDataConfig) -> DatasetSplits:
        from .dataset import load_splits

        return load_splits(root, data)

    def prepare_source(self, root: Path, data: ActionDataConfig) -> PrepareSource:
        from .prepare import prepare_source

        return prepare_source(root, data)

    def prepare_item(self, item: Any, data: ActionDataConfig) -> PreparedSamples:
        from .prepare import prepare_item

        return prepare_item(item, data)

    def shard_settings(self, data: ActionDataConfig) -> dict[str, Any]:
        # the action weight and conditioning shape the model, not the stored windows; the demo settings name the
        # demo file, whose episodes the manifest's items hash covers
        return data.model_dump(
            mode="json", exclude={"path", "action_weight", "action_conditioned", "demo_episodes", "demo_noisy_share"}
        )

    def read_file(self, path: Path, data: ActionDataConfig) -> dict[str, Any]:
        """Every window of every episode in one HDF5 file (or folder of episodes), as training reads them."""
        from .dataset import file_windows

        return file_windows(path, data)

    def downstream_task(self, root: Path, data: ActionDataConfig, task: ActionTaskConfig) -> DownstreamTask:
        """Behaviour cloning: each step's action chunk from the window ending there (episodes split as in
        pretraining)."""
        from .task import build_task

        return build_task(root, data, task)


def tokens_per_step(data: ActionDataConfig) -> int:
    """Tokens of one step: the state token and each camera's patches."""
    assert data.normalization is not None
    return 1 + len(data.normalization.images) * (data.image_size // data.patch_size) ** 2


plugin = ActionDomain()
