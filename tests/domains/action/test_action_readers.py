"""Reading robomimic, robosuite raw and ALOHA/ACT episodes, the inferred layout, and one clear error per bad file."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from jepa_domains.action.config import ActionDataConfig
from jepa_domains.action.dataset import load_splits, resolved, split_episodes
from jepa_domains.action.readers import read_episodes
from jepa_platform.errors import JepaError

from .files import trajectory, write_aloha, write_robomimic, write_robosuite


def test_robomimic_reads_low_dim_keys_and_leaves_images_out(tmp_path):
    path = write_robomimic(tmp_path / "low_dim.hdf5")
    episodes = read_episodes(path)
    assert episodes.layout == "robomimic" and episodes.keys == ["eef_pos", "gripper"]
    assert [e.name for e in episodes.episodes][:2] == ["low_dim.hdf5:demo_0", "low_dim.hdf5:demo_1"]
    first = episodes.episodes[0]
    states, actions = trajectory(40, seed=0)
    np.testing.assert_allclose(first.observations["eef_pos"], states[:, :3])
    assert first.observations["gripper"].shape == (40, 1)
    np.testing.assert_allclose(first.actions, actions)
    assert "robomimic layout inferred" in episodes.line and "left out (not low-dimensional): agentview_image" in (
        episodes.line
    )


def test_robomimic_filter_and_label_keys(tmp_path):
    masks = {"train": ["demo_0", "demo_2", "demo_3"], "better": ["demo_0", "demo_3"], "worse": ["demo_2"]}
    path = write_robomimic(tmp_path / "mh.hdf5", masks=masks)
    episodes = read_episodes(path, ["eef_pos"], filter_key="train", label_keys=["better", "worse"])
    assert [e.name.split(":")[1] for e in episodes.episodes] == ["demo_0", "demo_2", "demo_3"]
    assert [e.label for e in episodes.episodes] == [0, 1, 0]
    assert episodes.keys == ["eef_pos"]
    with pytest.raises(JepaError, match=r"mh.hdf5: demo 'demo_1' must be in exactly one of the label filter keys"):
        read_episodes(path, label_keys=["better", "worse"])
    with pytest.raises(JepaError, match=r"mh.hdf5: no filter key 'mask/valid'"):
        read_episodes(path, filter_key="valid")


def test_robosuite_raw_states_are_the_observation(tmp_path):
    path = write_robosuite(tmp_path / "demo.hdf5", demos=3)
    episodes = read_episodes(path)
    assert episodes.layout == "robosuite" and episodes.keys == ["states"]
    assert [len(e.actions) for e in episodes.episodes] == [40, 43, 46]
    assert episodes.episodes[0].observations["states"].shape == (40, 6)


def test_aloha_folder_of_episodes(tmp_path):
    folder = write_aloha(tmp_path / "sim_transfer_cube")
    episodes = read_episodes(folder)
    assert episodes.layout == "aloha" and episodes.keys == ["qpos", "qvel"]
    assert [e.name for e in episodes.episodes] == [f"episode_{i}.hdf5:episode_{i}" for i in range(3)]
    assert episodes.episodes[0].actions.shape == (30, 14)
    assert "left out (not low-dimensional): images/top" in episodes.line
    single = read_episodes(folder / "episode_1.hdf5", ["qpos"])
    assert len(single.episodes) == 1 and single.keys == ["qpos"]
    with pytest.raises(JepaError, match=r"episode_0.hdf5: observations/images/top is not low-dimensional"):
        read_episodes(folder, ["qpos", "images/top"])


def drop_actions(file: h5py.File) -> None:
    del file["data/demo_1/actions"]


def shorten_observation(file: h5py.File) -> None:
    del file["data/demo_2/obs/eef_pos"]
    file.create_dataset("data/demo_2/obs/eef_pos", data=np.zeros((5, 3)))


def nan_action(file: h5py.File) -> None:
    file["data/demo_0/actions"][7, 1] = np.nan


def empty_data(file: h5py.File) -> None:
    for name in list(file["data"]):
        del file["data"][name]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (drop_actions, r"bad.hdf5: data/demo_1 has no 'actions' dataset"),
        (shorten_observation, r"bad.hdf5: data/demo_2/obs/eef_pos has 5 steps but data/demo_2/actions has 42"),
        (nan_action, r"bad.hdf5: data/demo_0/actions holds NaN at step 7"),
        (empty_data, r"bad.hdf5: the 'data' group holds no demonstrations"),
    ],
)
def test_bad_files_name_the_file_and_key(tmp_path, edit, message):
    path = write_robomimic(tmp_path / "bad.hdf5", demos=3)
    with h5py.File(path, "a") as file:
        edit(file)
    with pytest.raises(JepaError, match=message):
        read_episodes(path)


def test_not_hdf5_and_missing_paths(tmp_path):
    text = tmp_path / "demos.hdf5"
    text.write_text("not an HDF5 file\n")
    with pytest.raises(JepaError, match=r"demos.hdf5: not an HDF5 file"):
        read_episodes(text)
    with pytest.raises(JepaError, match="does not exist"):
        read_episodes(tmp_path / "absent.hdf5")
    with pytest.raises(JepaError, match=r"observation key 'joint_pos' not found \(data/demo_0/obs/joint_pos\)"):
        read_episodes(write_robomimic(tmp_path / "ok.hdf5", demos=2), ["joint_pos"])


def test_split_by_episode_and_train_only_statistics(tmp_path):
    path = write_robosuite(tmp_path / "demo.hdf5", demos=10)
    data = ActionDataConfig(path=str(path), window=8, chunk=4, val_percent=20, test_percent=20)
    episodes, splits, fitted = resolved(path, data)
    assert sorted(np.concatenate(list(splits.values()))) == list(range(10))  # every episode in exactly one split
    assert [len(splits[s]) for s in ("train", "val", "test")] == [6, 2, 2]
    train = np.concatenate([episodes.episodes[i].observations["states"] for i in splits["train"]])
    np.testing.assert_allclose(fitted.normalization.observations[0].mean, train.mean(axis=0))
    everything = np.concatenate([e.observations["states"] for e in episodes.episodes])
    assert not np.allclose(fitted.normalization.observations[0].mean, everything.mean(axis=0))
    assert split_episodes([e.name for e in episodes.episodes], data)["test"].tolist() == splits["test"].tolist()
    sets = load_splits(path, fitted)
    sample = sets.train[0]
    assert sample["obs"].shape == (8, 6) and sample["actions"].shape == (8 + 4 - 1, 3)
    assert bool(sample["obs_valid"].all())
