"""Chips as users keep them: one file per chip, or one file per polarization of a patch (``x_VV.tif``, ``x_VH.tif``).

Files in one folder whose names end in ``_<pol>`` / ``-<pol>`` (``VV``, ``VH``,
``HH``, ``HV``, any case) with the same stem before it are one patch: one band
per file, in the order of ``data.polarizations``. Any other file is a chip of its
own; when its band labels (descriptions, tags) name polarizations, its bands are
put in that order too, else they stay in file order.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from jepa_platform.domain import JepaError

from .readers import is_chip, read_labelled

POLARIZATIONS = ("VV", "VH", "HH", "HV")
"""Every polarization, in the order inferred settings list them."""
NAMED = re.compile(r"(?P<stem>.+)[_-](?P<pol>vv|vh|hh|hv)", re.IGNORECASE)


@dataclass(frozen=True)
class Patch:
    """One chip: a single file, or one file per polarization (``polarizations[i]`` is in ``files[i]``)."""

    files: tuple[Path, ...]
    polarizations: tuple[str, ...] = ()

    @property
    def stem(self) -> str:
        """The name shared by a patch's per-polarization files (``x`` of ``x_VV.tif``); a single file's stem."""
        match = NAMED.fullmatch(self.files[0].stem)
        return match["stem"] if self.polarizations and match else self.files[0].stem


@dataclass
class PatchValues:
    """A patch's ``bands × H × W`` file values, the file each band comes from, and each band's label."""

    values: np.ndarray
    files: tuple[Path, ...]
    labels: tuple[str, ...]


def chip_files(root: Path) -> list[Path]:
    """``root`` itself (a file, whatever its name), or the chips under it (a folder, recursively), sorted."""
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise JepaError(f"{root}: no such file or folder")
    return sorted(path for path in root.rglob("*") if is_chip(path))


def describe(roots: Sequence[Path]) -> str:
    """The data's paths for a message: the path, or the first and how many more."""
    more = len(roots) - 1
    return str(roots[0]) if not more else f"{roots[0]} and {more} more path{'s' * (more > 1)}"


def in_order(polarizations: set[str] | Sequence[str]) -> tuple[str, ...]:
    """``polarizations`` in the order of :data:`POLARIZATIONS`."""
    return tuple(pol for pol in POLARIZATIONS if pol in polarizations)


def named_polarizations(patches: Sequence[Patch]) -> tuple[str, ...]:
    """Every polarization the patches' file names carry, in the order of :data:`POLARIZATIONS`."""
    return in_order({pol for patch in patches for pol in patch.polarizations})


def find_patches(roots: Sequence[Path], polarizations: Sequence[str] | None) -> list[Patch]:
    """The patches at ``roots``, sorted; per-polarization files pair up by folder and name stem.

    Raises:
        JepaError: A path does not exist, a patch has two files of one polarization, or patches lack
            one of ``polarizations`` (``None``: of every polarization the file names carry).
    """
    singles: list[Patch] = []
    groups: dict[tuple[Path, str], dict[str, Path]] = {}
    for path in dict.fromkeys(file for root in roots for file in chip_files(root)):
        match = NAMED.fullmatch(path.stem)
        if match is None:
            singles.append(Patch((path,)))
            continue
        group = groups.setdefault((path.parent, match["stem"]), {})
        pol = match["pol"].upper()
        if pol in group:
            raise JepaError(f"{path}: a second {pol} file of the patch of {group[pol]}")
        group[pol] = path
    paired = [
        Patch(tuple(group[pol] for pol in in_order(group)), in_order(group)) for group in groups.values()
    ]
    patches = sorted(singles + paired, key=lambda patch: patch.files[0])
    check_complete(patches, polarizations if polarizations is not None else named_polarizations(paired))
    return patches


def check_complete(patches: Sequence[Patch], polarizations: Sequence[str]) -> None:
    """Refuse, in one error, per-polarization patches that lack one of ``polarizations``."""
    incomplete = [patch for patch in patches if patch.polarizations and set(polarizations) - set(patch.polarizations)]
    if incomplete:
        first = incomplete[0]
        lacking = ", ".join(pol for pol in polarizations if pol not in first.polarizations)
        raise JepaError(
            f"{first.files[0].parent}: patch '{first.stem}' has {', '.join(first.polarizations)} but lacks {lacking} "
            f"({len(incomplete)} of {len(patches)} patches lack one of {', '.join(polarizations)}; "
            "set data.polarizations to the ones every patch has)"
        )


def band_polarizations(labels: Sequence[str]) -> tuple[str | None, ...]:
    """Per band, the polarization its label names as a word (``Sigma0_VV_db`` -> ``VV``), else ``None``."""
    words = [set(re.findall(r"[a-z0-9]+", label.lower())) for label in labels]
    return tuple(next((pol for pol in POLARIZATIONS if pol.lower() in found), None) for found in words)


def read_patch(patch: Patch, polarizations: Sequence[str] | None) -> PatchValues:
    """A patch's values with its bands in the order of ``polarizations`` (``None``: as found).

    Raises:
        JepaError: A per-polarization file holds several bands, or a file's band labels name
            polarizations but not all of ``polarizations`` (naming the file).
    """
    if patch.polarizations:
        wanted = polarizations or patch.polarizations  # complete: find_patches checked
        files = tuple(patch.files[patch.polarizations.index(pol)] for pol in wanted)
        read = [read_labelled(path) for path in files]
        for path, pol, (values, _) in zip(files, wanted, read):
            if len(values) != 1:
                raise JepaError(f"{path}: {len(values)} bands in a per-polarization file (its name says {pol})")
        return PatchValues(np.concatenate([values for values, _ in read]), files, tuple(lab[0] for _, lab in read))
    path = patch.files[0]
    values, labels = read_labelled(path)
    found = band_polarizations(labels)
    if polarizations and all(found) and tuple(found) != tuple(polarizations):
        lacking = [pol for pol in polarizations if pol not in found]
        if lacking:
            raise JepaError(f"{path}: its bands are {', '.join(found)} (band labels), without {', '.join(lacking)}")
        order = [found.index(pol) for pol in polarizations]
        values, labels = values[order], tuple(labels[i] for i in order)
    return PatchValues(values, (path,) * len(values), labels)
