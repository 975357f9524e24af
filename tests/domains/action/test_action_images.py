"""Camera images in the action domain: read back from robomimic and ALOHA files, patch tokens per step, masks of
whole steps, and one clear error per malformed image key."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch
from jepa_domains.action import plugin
from jepa_domains.action.config import ActionDataConfig
from jepa_domains.action.dataset import load_splits, resolved
from jepa_domains.action.readers import read_episodes
from jepa_platform.errors import JepaError
from jepa_platform.masking import build_masking
from jepa_platform.masking.config import FutureChunkMaskingConfig

from .files import write_aloha, write_robomimic


def test_robomimic_image_key_is_read_back_as_uint8_frames(tmp_path):
    path = write_robomimic(tmp_path / "image.hdf5", demos=3, steps=12, image_shape=(16, 16, 3))
    episodes = read_episodes(path, image_keys=["agentview_image"])
    assert episodes.keys == ["eef_pos", "gripper"]  # the image is not a low-dimensional key
    with h5py.File(path) as file:
        for i, episode in enumerate(episodes.episodes):
            stored = file[f"data/demo_{i}/obs/agentview_image"][()]
            assert episode.images["agentview_image"].dtype == np.uint8
            np.testing.assert_array_equal(episode.images["agentview_image"], stored)
    assert "images agentview_image (16 × 16 × 3)" in episodes.line and "left out" not in episodes.line


@pytest.fixture
def aloha(tmp_path):
    folder = write_aloha(tmp_path / "aloha", episodes=3, steps=20, cameras=("top", "wrist"), image_shape=(16, 16, 3))
    config = ActionDataConfig(
        path=str(folder), image_keys=["images/top", "images/wrist"], image_size=8, patch_size=4, window=8, chunk=2,
        stride=4, val_percent=0, test_percent=0,
    )
    return folder, resolved(folder, config)[2]


def test_aloha_cameras_become_patch_tokens_per_step(aloha):
    folder, data = aloha
    assert [(spec.name, spec.shape) for spec in data.normalization.images] == [
        ("images/top", (16, 16, 3)), ("images/wrist", (16, 16, 3)),
    ]
    samples = load_splits(folder, data).train
    first = samples[0]  # steps 0..7 of episode_0
    with h5py.File(folder / "episode_0.hdf5") as file:
        np.testing.assert_array_equal(first["image/images/wrist"].numpy(), file["observations/images/wrist"][:8])
    batch = torch.utils.data.default_collate([samples[i] for i in range(4)])
    tokenizer = plugin.build_tokenizer(data, 32)
    per_step = 1 + 2 * (8 // 4) ** 2  # the state token and 4 patches per camera (frames resized 16 -> 8)
    assert tokenizer.grid.shape == (8, per_step)
    tokens = tokenizer(batch).tokens
    assert tokens.shape == (4, 8 * per_step, 32)
    assert tokenizer.valid_mask(batch).shape == (4, 8 * per_step)
    changed = {key: value.clone() for key, value in batch.items()}
    changed["image/images/top"][0, 3] = 255 - changed["image/images/top"][0, 3]  # step 3 of sample 0 only
    difference = (tokenizer(changed).tokens - tokens).abs().sum(dim=2).view(4, 8, per_step) > 0
    assert difference[0, 3, 1:5].all() and difference.sum() == 4  # exactly the top camera's patches of that step
    windows = plugin.read_file(folder / "episode_1.hdf5", data)  # embedding one file: every window, its frames
    assert windows["image/images/top"].shape == (4, 8, 16, 16, 3) and windows["obs"].shape == (4, 8, 28)


def test_future_chunks_mask_whole_steps_and_the_losses_run(aloha):
    folder, data = aloha
    data = data.model_copy(update={"action_conditioned": True})
    samples = load_splits(folder, data).train
    batch = torch.utils.data.default_collate([samples[i] for i in range(4)])
    tokenizer = plugin.build_tokenizer(data, 32)
    per_step = tokenizer.grid.shape[1]
    masking = build_masking(FutureChunkMaskingConfig(num_chunks=2, min_context=2))
    masks = masking.sample(tokenizer.grid, 4, torch.Generator().manual_seed(0), tokenizer.valid_mask(batch))
    for index in (masks.context, masks.targets.flatten(1)):
        steps = index.view(4, -1, per_step)
        assert torch.equal(steps % per_step, torch.arange(per_step).expand_as(steps))  # every token of a step
    tokens = tokenizer(batch).tokens
    context = tokens.gather(1, masks.context.unsqueeze(-1).expand(-1, -1, 32))
    loss = plugin.auxiliary_loss(data, 32)
    latest = masks.context.max(dim=1).values // per_step
    value = loss(context, masks.context, batch)
    state_slot = (masks.context == (latest * per_step)[:, None]).int().argmax(dim=1)
    predicted = loss.head(context, state_slot)
    rows = latest[:, None] + torch.arange(2)
    expected = (predicted - batch["actions"].gather(1, rows[..., None].expand(-1, -1, 14))).square().mean()
    torch.testing.assert_close(value, expected * data.action_weight)
    conditioning = plugin.predictor_conditioning(data, 16)(batch, masks.context, masks.targets)
    assert conditioning.shape == (2, 4, masks.targets.shape[2], 16)
    by_step = conditioning.view(2, 4, -1, per_step, 16)
    assert torch.equal(by_step, by_step[:, :, :, :1].expand_as(by_step))  # one vector per target step


def _robomimic_with(tmp_path, key: str, values: np.ndarray):
    path = write_robomimic(tmp_path / "bad.hdf5", demos=2, steps=10)
    with h5py.File(path, "a") as file:
        file.create_dataset(f"data/demo_1/obs/{key}", data=values)
        file.create_dataset(f"data/demo_0/obs/{key}", data=values[:10])
    return path


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (np.zeros((11, 16, 16), np.uint8), r"data/demo_0/obs/camera has shape \(10, 16, 16\); camera images must be T"),
        (np.zeros((11, 3, 16, 16), np.uint8), r"data/demo_0/obs/camera has shape \(10, 3, 16, 16\)"),
        (np.zeros((11, 16, 16, 3), np.uint16), r"data/demo_0/obs/camera has dtype uint16; camera images must be uint8"),
        (np.full((11, 16, 16, 3), 2.0), r"data/demo_0/obs/camera holds floats in \[2, 2\]"),
        (np.zeros((9, 16, 16, 3), np.uint8), r"data/demo_0/obs/camera has 9 steps but data/demo_0/actions has 10"),
    ],
    ids=["rank", "channels-first", "dtype", "float-range", "length"],
)
def test_malformed_image_keys_are_one_error_naming_file_and_key(tmp_path, values, message):
    path = _robomimic_with(tmp_path, "camera", values)
    with pytest.raises(JepaError, match=f"bad.hdf5: {message}"):
        read_episodes(path, image_keys=["camera"])


def test_float_frames_in_unit_range_and_missing_keys(tmp_path):
    path = _robomimic_with(tmp_path, "camera", np.full((11, 4, 4, 1), 0.5))
    frames = read_episodes(path, image_keys=["camera"]).episodes[0].images["camera"]
    assert frames.dtype == np.uint8 and (frames == 128).all()
    missing = r"observation key 'wrist' not found \(data/demo_0/obs/wrist\); data.image_keys names it"
    with pytest.raises(JepaError, match=missing):
        read_episodes(path, image_keys=["wrist"])


def test_image_settings_are_checked():
    with pytest.raises(ValueError, match="must not share a key"):
        ActionDataConfig(obs_keys=["agentview_image"], image_keys=["agentview_image"])
    with pytest.raises(ValueError, match="positive multiple of data.patch_size"):
        ActionDataConfig(image_keys=["agentview_image"], image_size=84, patch_size=16)
