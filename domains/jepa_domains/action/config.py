"""The ``data`` and ``task`` sections of action recipes, and the normalization the data section carries."""

from __future__ import annotations

from typing import Literal

from jepa_platform.domain import DataConfig, Section, TaskConfig
from pydantic import model_validator

Layout = Literal["robomimic", "robosuite", "aloha"]


class KeyStats(Section):
    """Per-dimension mean and standard deviation of one observation key (or of the actions)."""

    name: str
    mean: list[float]
    std: list[float]


class ImageSpec(Section):
    """One camera key and its frames' shape (``height, width, channels``, as stored)."""

    name: str
    shape: tuple[int, int, int]


class Normalization(Section):
    """What the training episodes say about the data: layout, keys and their statistics.

    Fitted once on the training episodes when the recipe is resolved; it then
    travels with the recipe (run ``config.yaml``, checkpoint hyperparameters),
    so a checkpoint normalizes new episodes exactly as in pretraining.
    """

    layout: Layout
    observations: list[KeyStats]
    actions: KeyStats
    images: list[ImageSpec] = []

    @property
    def obs_dim(self) -> int:
        return sum(len(key.mean) for key in self.observations)

    @property
    def action_dim(self) -> int:
        return len(self.actions.mean)


class ActionDataConfig(DataConfig):
    """The ``data`` section of an action recipe.

    A sample is ``window`` consecutive observation steps of one episode (one
    token each) and, for every step, the action chunk of ``chunk`` actions
    that starts there. Episodes are split by episode (a hash of the file and
    demo name), never by step. Observations and actions holding NaN are
    errors: an episode is a trajectory, and a gap in it is not filled.
    """

    obs_keys: list[str] = []
    """Observation keys (robomimic ``obs/<key>``, ALOHA ``qpos``/``qvel``); empty: every low-dimensional key."""
    image_keys: list[str] = []
    """Camera keys (``T × H × W × C`` uint8; robomimic ``agentview_image``, ALOHA ``images/top``): each step's
    frames, resized to ``image_size``, become ``(image_size / patch_size)²`` patch tokens per camera."""
    image_size: int = 64
    patch_size: int = 16
    filter_key: str | None = None
    """A robomimic ``mask/<filter_key>`` list of demos to read (e.g. ``train``); ``None``: every demo."""
    label_keys: list[str] = []
    """robomimic filter keys that name each demo's class (e.g. ``[expert, noisy]``, ``[better, okay, worse]``):
    the monitor's linear probe predicts it. Empty: no labels."""
    window: int = 32
    chunk: int = 8
    stride: int = 4
    """Steps between the starts of consecutive training windows of an episode."""
    action_weight: float = 1.0
    """Weight of the action-chunk regression beside the JEPA loss in pretraining; 0 pretrains with JEPA alone."""
    action_conditioned: bool = False
    """Give the predictor the actions between the context's latest step and each target step (seq-JEPA): it then
    predicts what follows those actions, not what the demonstrator will do. Meant for ``future_chunks`` masks."""
    val_percent: float = 10.0
    test_percent: float = 10.0
    """Episodes held out for the downstream test (never seen in pretraining)."""
    demo_episodes: int = 60
    demo_noisy_share: float = 0.5
    normalization: Normalization | None = None

    @model_validator(mode="after")
    def _check(self) -> "ActionDataConfig":
        if self.image_size < 1 or self.patch_size < 1 or self.image_size % self.patch_size:
            raise ValueError("need data.image_size a positive multiple of data.patch_size")
        if set(self.obs_keys) & set(self.image_keys):
            raise ValueError("data.obs_keys and data.image_keys must not share a key")
        if self.window < 2 or self.chunk < 1 or self.stride < 1 or self.action_weight < 0:
            raise ValueError("need window >= 2, chunk >= 1, stride >= 1 and action_weight >= 0")
        if min(self.val_percent, self.test_percent) < 0 or self.val_percent + self.test_percent >= 100:
            raise ValueError("need val_percent, test_percent >= 0 with a sum below 100")
        if self.demo_episodes < 4 or not 0 <= self.demo_noisy_share <= 1:
            raise ValueError("need demo_episodes >= 4 and 0 <= demo_noisy_share <= 1")
        defaults = {key: DataConfig.model_fields[key].default for key in ("nan_policy", "max_nan_fraction")}
        if {key: getattr(self, key) for key in defaults} != defaults:
            raise ValueError(
                "data.nan_policy and data.max_nan_fraction do not apply to episodes: NaN in observations or "
                "actions is an error naming the file and key"
            )
        return self


class ActionTaskConfig(TaskConfig):
    """Behaviour cloning: predict the action chunk of the last step of each observation window.

    Examples are every step of the held-out episodes with a whole chunk ahead
    (training episodes: every ``train_stride``-th step).
    """

    name: str = "behaviour_cloning"
    train_stride: int = 1
    metric: Literal["rmse", "mae"] = "rmse"

    @model_validator(mode="after")
    def _check(self) -> "ActionTaskConfig":
        if self.train_stride < 1:
            raise ValueError("train_stride must be at least 1")
        return self
