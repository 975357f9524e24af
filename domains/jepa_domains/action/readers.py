"""Reading demonstration episodes from HDF5 (h5py): robomimic, robosuite raw and ALOHA/ACT files.

The layout is inferred from each file, never configured:

- robomimic: ``data/demo_N/obs/<key>``, ``data/demo_N/actions`` (``rewards``, ``dones``, ``states`` optional),
  and ``mask/<filter key>`` lists of demo names;
- robosuite raw demonstrations: ``data/demo_N/states`` and ``actions`` with no ``obs``: the simulator states
  are the observation (key ``states``);
- ALOHA/ACT: one episode per file, ``observations/qpos``, ``observations/qvel``, ``observations/images/<cam>``
  and ``action``; a folder of such files is a data set.

Low-dimensional keys (``T`` or ``T × F`` arrays) are observations; camera images (``T × H × W × C``) are
read when ``data.image_keys`` names them (kept uint8, channels last) and listed as left out otherwise.
Every problem is one :class:`JepaError` naming the file and the key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
from jepa_platform.domain import JepaError

from .config import Layout

SUFFIXES = (".hdf5", ".h5", ".hdf")


@dataclass
class Episode:
    """One demonstration: observations per key (``T × F``), actions (``T × A``), its class (``-1``: none) and
    camera frames per image key (``T × H × W × C`` uint8)."""

    name: str
    observations: dict[str, np.ndarray]
    actions: np.ndarray
    label: int = -1
    images: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class EpisodeSet:
    """Every episode at a path, the layout and keys they were read with, and one line saying so."""

    layout: Layout
    keys: list[str]
    episodes: list[Episode]
    line: str


def episode_files(path: Path) -> list[Path]:
    """The HDF5 files ``path`` names: itself, or the ``.hdf5``/``.h5``/``.hdf`` files of a folder, sorted."""
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted((p for p in path.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES), key=_natural)
        if not files:
            raise JepaError(f"{path}: the folder holds no {', '.join(SUFFIXES)} files")
        return files
    raise JepaError(f"{path} does not exist")


def _natural(item: str | Path) -> list[int | str]:
    """``demo_2`` before ``demo_10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", str(item))]


def infer_layout(path: Path, file: h5py.File) -> Layout:
    """``robomimic`` (demos with ``obs``), ``robosuite`` (demos with ``states`` only) or ``aloha``."""
    if "data" in file:
        group = file["data"]
        demos = [name for name in group if isinstance(group[name], h5py.Group)]
        if not demos:
            raise JepaError(f"{path}: the 'data' group holds no demonstrations")
        first = group[sorted(demos, key=_natural)[0]]
        if "obs" in first:
            return "robomimic"
        if "states" in first:
            return "robosuite"
        raise JepaError(f"{path}: data/{first.name.rsplit('/', 1)[-1]} has neither 'obs' nor 'states'")
    if "observations" in file:
        return "aloha"
    raise JepaError(
        f"{path}: neither a robomimic/robosuite file (no 'data' group) nor an ALOHA episode (no 'observations' group)"
    )


def _low_dim(dataset: h5py.Dataset) -> bool:
    return dataset.ndim <= 2 and np.issubdtype(dataset.dtype, np.number)


def _observation_group(path: Path, file: h5py.File, demo: str, layout: Layout) -> h5py.Group | None:
    if layout == "robomimic":
        group = file[f"data/{demo}"]
        if "obs" not in group:
            raise JepaError(f"{path}: data/{demo} has no 'obs' group (the file's first demo has one)")
        return group["obs"]
    return file["observations"] if layout == "aloha" else None


def available_keys(path: Path, file: h5py.File, demo: str, layout: Layout) -> tuple[list[str], list[str]]:
    """The low-dimensional observation keys of a demo, and its other (image) keys, sorted."""
    if layout == "robosuite":
        return ["states"], []
    group = _observation_group(path, file, demo, layout)
    assert group is not None
    low, other = [], []
    for name in sorted(group):
        item = group[name]
        if isinstance(item, h5py.Group):  # ALOHA: observations/images/<cam>
            other += [f"{name}/{cam}" for cam in sorted(item)]
        else:
            (low if _low_dim(item) else other).append(name)
    return low, other


def _finite(path: Path, key: str, values: np.ndarray) -> np.ndarray:
    bad = ~np.isfinite(values)
    if bad.any():
        step = int(np.argwhere(bad)[0][0])
        kind = "NaN" if np.isnan(values).any() else "infinite values"
        raise JepaError(f"{path}: {key} holds {kind} at step {step} ({int(bad.sum())} values in all)")
    return values


def _steps(path: Path, key: str, dataset: h5py.Dataset) -> np.ndarray:
    """A dataset as ``T × F`` float64, checked finite."""
    if not _low_dim(dataset):
        raise JepaError(
            f"{path}: {key} is not low-dimensional (shape {dataset.shape}); name camera images in data.image_keys, "
            "low-dimensional keys in data.obs_keys"
        )
    values = np.asarray(dataset[()], dtype=np.float64)
    values = values.reshape(len(values), -1) if values.ndim else values.reshape(1, 1)
    if len(values) == 0:
        raise JepaError(f"{path}: {key} has no steps")
    return _finite(path, key, values)


def _frames(path: Path, key: str, dataset: h5py.Dataset) -> np.ndarray:
    """A camera dataset as ``T × H × W × C`` uint8: uint8 as stored, floats in [0, 1] scaled to 0..255."""
    if dataset.ndim != 4 or not 1 <= dataset.shape[3] <= 4:
        raise JepaError(
            f"{path}: {key} has shape {dataset.shape}; camera images must be T × H × W × C with 1 to 4 channels last"
        )
    if dataset.dtype == np.uint8:
        return dataset[()]
    if not np.issubdtype(dataset.dtype, np.floating):
        raise JepaError(f"{path}: {key} has dtype {dataset.dtype}; camera images must be uint8 or floats in [0, 1]")
    values = dataset[()]
    low, high = float(np.min(values)), float(np.max(values))
    if not (0 <= low and high <= 1):  # also catches NaN
        raise JepaError(f"{path}: {key} holds floats in [{low:g}, {high:g}]; float camera images must lie in [0, 1]")
    return np.round(values * 255).astype(np.uint8)


def read_demo(
    path: Path, file: h5py.File, demo: str, layout: Layout, keys: list[str], image_keys: list[str] = ()
) -> Episode:
    """One demo (``data/<demo>``, or the whole file for ALOHA) with observation ``keys`` and camera ``image_keys``."""
    prefix = "" if layout == "aloha" else f"data/{demo}/"
    action_key = f"{prefix}{'action' if layout == 'aloha' else 'actions'}"
    if action_key not in file:
        where, name = prefix.rstrip("/") or "the episode", action_key.rsplit("/", 1)[-1]
        raise JepaError(f"{path}: {where} has no '{name}' dataset")
    actions = _steps(path, action_key, file[action_key])
    obs_prefix = {"robomimic": f"{prefix}obs/", "robosuite": prefix, "aloha": "observations/"}[layout]
    observations, images = {}, {}
    for key in [*keys, *image_keys]:
        name = f"{obs_prefix}{key}"
        if name not in file:
            setting = "data.image_keys" if key in image_keys else "data.obs_keys"
            raise JepaError(f"{path}: observation key '{key}' not found ({name}); {setting} names it")
        values = _frames(path, name, file[name]) if key in image_keys else _steps(path, name, file[name])
        if len(values) != len(actions):
            raise JepaError(
                f"{path}: {name} has {len(values)} steps but {action_key} has {len(actions)}; "
                "observations and actions must have one row per step"
            )
        (images if key in image_keys else observations)[key] = values
    return Episode(f"{path.name}:{demo}", observations, actions, images=images)


def _mask(path: Path, file: h5py.File, key: str) -> set[str]:
    name = f"mask/{key}"
    if name not in file:
        present = sorted(file["mask"]) if "mask" in file else []
        raise JepaError(f"{path}: no filter key '{name}' (the file has {present or 'no mask group'})")
    return {item.decode() if isinstance(item, bytes) else str(item) for item in file[name][()]}


def read_file(
    path: Path, obs_keys: list[str], filter_key: str | None, label_keys: list[str], image_keys: list[str] = ()
) -> tuple[Layout, list[str], list[str], list[Episode]]:
    """Every episode of one file: its layout, observation keys, left-out keys and episodes."""
    if not h5py.is_hdf5(path):
        raise JepaError(f"{path}: not an HDF5 file")
    try:
        file = h5py.File(path, "r")
    except OSError as exc:
        raise JepaError(f"{path}: cannot open as HDF5: {exc}") from None
    with file:
        layout = infer_layout(path, file)
        if layout == "aloha":
            demos = [path.stem]
            if filter_key or label_keys:
                raise JepaError(f"{path}: an ALOHA episode has no filter keys (data.filter_key, data.label_keys)")
        else:
            demos = sorted((n for n in file["data"] if isinstance(file["data"][n], h5py.Group)), key=_natural)
            if filter_key is not None:
                kept = _mask(path, file, filter_key)
                demos = [demo for demo in demos if demo in kept]
                if not demos:
                    raise JepaError(f"{path}: filter key 'mask/{filter_key}' selects no demo of the 'data' group")
        low, other = available_keys(path, file, demos[0], layout)
        keys = list(obs_keys) or [key for key in low if key not in image_keys]
        if not keys:
            raise JepaError(f"{path}: no low-dimensional observation keys (found only {other})")
        episodes = [read_demo(path, file, demo, layout, keys, list(image_keys)) for demo in demos]
        if label_keys:
            members = [_mask(path, file, key) for key in label_keys]
            for episode, demo in zip(episodes, demos):
                classes = [i for i, names in enumerate(members) if demo in names]
                if len(classes) != 1:
                    where = "none" if not classes else " and ".join(f"mask/{label_keys[i]}" for i in classes)
                    raise JepaError(
                        f"{path}: demo '{demo}' must be in exactly one of the label filter keys, is in {where}"
                    )
                episode.label = classes[0]
    return layout, keys, [key for key in other if key not in keys and key not in image_keys], episodes


def read_episodes(
    path: str | Path, obs_keys: list[str] = (), filter_key: str | None = None, label_keys: list[str] = (),
    image_keys: list[str] = (),
) -> EpisodeSet:
    """Every episode of the HDF5 file or folder at ``path`` (layouts, key widths and image shapes must agree
    across files)."""
    files = episode_files(Path(path).expanduser())
    layouts, episodes, left_out = set(), [], set()
    keys: list[str] = []
    widths: dict[str, int | tuple[int, ...]] = {}
    for file in files:
        layout, file_keys, other, file_episodes = read_file(
            file, list(obs_keys), filter_key, list(label_keys), list(image_keys)
        )
        layouts.add(layout)
        if keys and file_keys != keys:
            raise JepaError(f"{file}: observation keys {file_keys} differ from {files[0].name}'s {keys}")
        keys = file_keys
        left_out.update(other)
        for episode in file_episodes:
            shapes = {key: value.shape[1] for key, value in episode.observations.items()}
            shapes["actions"] = episode.actions.shape[1]
            shapes.update({key: frames.shape[1:] for key, frames in episode.images.items()})
            for key, width in shapes.items():
                if widths.setdefault(key, width) != width:
                    raise JepaError(f"{file}: {episode.name} has {key} of width {width}, other episodes {widths[key]}")
        episodes += file_episodes
    if len(layouts) > 1:
        raise JepaError(f"{path}: the files mix layouts {sorted(layouts)}")
    layout = layouts.pop()
    steps = sum(len(e.actions) for e in episodes)
    dims = ", ".join(f"{key} ({widths[key]})" for key in keys)
    dims += "".join(f"; images {key} ({' × '.join(map(str, widths[key]))})" for key in image_keys)
    line = (
        f"{path}: {layout} layout inferred; {len(episodes)} episodes in {len(files)} "
        f"file{'s' * (len(files) != 1)}, {steps} steps; observation keys {dims}; actions ({widths['actions']})"
        + (f"; left out (not low-dimensional): {', '.join(sorted(left_out))}" if left_out else "")
    )
    return EpisodeSet(layout, keys, episodes, line)
