"""The action domain's windows, tokenizer, action-chunk loss, behaviour-cloning task and closed-loop rollouts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from jepa_domains.action import plugin
from jepa_domains.action.config import ActionDataConfig, ActionTaskConfig
from jepa_domains.action.dataset import load_splits, resolved
from jepa_domains.action.demo import DEMO_KEYS, demonstration, expert_action, write_demo
from jepa_domains.action.readers import read_episodes
from jepa_domains.action.task import build_task, chunk_mse, ensemble_weights, rollout
from jepa_platform.errors import JepaError

from .files import write_robosuite


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "pendulum.hdf5"
    write_demo(path, episodes=8, noisy_share=0.5)
    return path


def test_demo_is_robomimic_read_back_with_expert_and_noisy_labels(demo_file):
    episodes = read_episodes(demo_file, label_keys=["expert", "noisy"])
    assert episodes.layout == "robomimic" and tuple(episodes.keys) == DEMO_KEYS
    assert [e.label for e in episodes.episodes] == [0, 1] * 4
    assert all(len(e.actions) == 200 for e in episodes.episodes)
    again = demonstration(seed=1, noisy=True)  # deterministic from its seed
    np.testing.assert_allclose(episodes.episodes[1].actions, again["actions"])
    expert = episodes.episodes[0]
    np.testing.assert_allclose(
        expert.actions, expert_action(np.concatenate([expert.observations[k] for k in DEMO_KEYS], axis=1)),
        atol=1e-4,  # the demo computed them in float32 from float32 observations
    )


def test_windows_tokens_and_action_chunk_loss(tmp_path):
    path = write_robosuite(tmp_path / "demo.hdf5", demos=6, steps=10)  # episodes of 10 to 25 steps
    data = resolved(path, ActionDataConfig(path=str(path), window=16, chunk=4, stride=8))[2]
    splits = load_splits(path, data)
    samples = [splits.train[i] for i in range(len(splits.train))]
    short = next(s for s in samples if not bool(s["obs_valid"].all()))  # an episode of under 16 steps, padded
    steps = int(short["obs_valid"].sum())
    assert int(short["action_valid"].sum()) == steps < 16 and not short["obs"][steps:].any()
    batch = torch.utils.data.default_collate([s for s in samples if bool(s["action_valid"].all())][:4])
    tokenizer = plugin.build_tokenizer(data, 32)
    tokens = tokenizer(batch)
    count = len(batch["obs"])
    assert count >= 2 and tokenizer.grid.shape == (16,) and tokens.tokens.shape == (count, 16, 32)
    assert torch.equal(tokenizer.valid_mask(batch), batch["obs_valid"])
    loss = plugin.auxiliary_loss(data, 32)
    context = torch.randn(count, 5, 32, requires_grad=True)
    index = torch.arange(3, 8).expand(count, -1)  # the context ends at step 7: its chunk is actions 7..10
    value = loss(context, index, batch)
    predicted = loss.head(context, torch.full((count,), 4))
    expected = (predicted - batch["actions"][:, 7:11]).square().mean()
    torch.testing.assert_close(value, expected * data.action_weight)
    value.backward()
    assert context.grad.abs().sum() > 0
    assert plugin.auxiliary_loss(data.model_copy(update={"action_weight": 0.0}), 32) is None


def test_behaviour_cloning_task_labels_are_raw_action_chunks(tmp_path):
    path = write_robosuite(tmp_path / "demo.hdf5", demos=10, steps=20)
    data = resolved(path, ActionDataConfig(path=str(path), window=8, chunk=3, val_percent=20, test_percent=20))[2]
    task = build_task(path, data, ActionTaskConfig())
    assert task.labels.regression and len(task.labels.names) == 3 * 3 and task.metric == "rmse"
    episodes, splits, _ = resolved(path, data)
    first_test = episodes.episodes[splits["test"][0]]
    sample = task.test[5]  # the window ending at step 5 of the first test episode
    np.testing.assert_allclose(sample["label"].numpy(), first_test.actions[5:8].reshape(-1), rtol=1e-6)
    assert sample["obs_valid"].tolist() == [False, False] + [True] * 6
    assert len(task.test) == sum(len(episodes.episodes[i].actions) - 2 for i in splits["test"])
    assert chunk_mse(torch.zeros(2, 6), torch.ones(2, 6), 3) == [1.0, 1.0, 1.0]


def test_temporal_ensemble_weights_favour_the_oldest_chunk():
    weights = ensemble_weights(4, 0.5)
    assert weights.sum() == pytest.approx(1.0) and np.all(np.diff(weights) < 0)


def test_rollouts_tell_the_expert_from_doing_nothing(demo_file):
    data = resolved(demo_file, ActionDataConfig(path=str(demo_file), window=4, chunk=3))[2]
    norm = data.normalization
    mean = np.concatenate([k.mean for k in norm.observations])
    std = np.concatenate([k.std for k in norm.observations])

    def expert(batch):  # the scripted expert's action, repeated over the chunk
        obs = batch["obs"][:, -1].double().numpy() * std + mean
        return torch.from_numpy(np.repeat(expert_action(obs)[:, None], 3, axis=1))

    seeds = [7, 8]
    good = rollout(expert, data, seeds)
    idle = rollout(lambda batch: torch.zeros(len(batch["obs"]), 3, 1), data, seeds)
    assert good["success"].all() and not idle["success"].any()
    assert good["returns"].min() > idle["returns"].max()
    with pytest.raises(JepaError, match="closed-loop rollouts run the demo task"):
        path = write_robosuite(demo_file.parent / "other.hdf5", demos=4)
        rollout(expert, resolved(path, ActionDataConfig(path=str(path)))[2], seeds)
