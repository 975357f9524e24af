"""What a SAR data set holds, read off the data: band count, polarizations and unit (the plugin's ``resolve_data``).

The polarizations come from per-polarization file names (``x_VV.tif``) and band
labels (``VV``, ``Sigma0_VH_db``); the unit from a band label or tag that names
one (``dB``, ``intensity``, ``amplitude``), else from the values: mostly
negative is dB (amplitude and intensity are never negative), not negative is
amplitude. Values are read from up to :data:`SAMPLE` patches spread over the set.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from jepa_platform.domain import JepaError

from .config import SARDataConfig
from .patches import (
    Patch,
    PatchValues,
    band_polarizations,
    describe,
    find_patches,
    in_order,
    named_polarizations,
    read_patch,
)
from .preprocess import NEGATIVE_TOLERANCE, check_values

SAMPLE = 32
"""Patches whose values are read to infer the settings, evenly spread over the sorted patches."""
UNIT_WORDS = {
    "db": {"db", "decibel", "decibels"},
    "intensity": {"intensity", "power", "sigma0", "gamma0", "beta0"},
    "amplitude": {"amplitude", "magnitude"},
}
"""Words of a band label that name its unit; dB first (``Sigma0_VV_db`` is dB)."""
UNIT_NAMES = {"db": "dB", "intensity": "intensity", "amplitude": "amplitude"}


def unit_hint(label: str) -> str | None:
    """The unit a band label names as a word, else ``None``."""
    words = set(re.findall(r"[a-z0-9]+", label.lower()))
    return next((unit for unit, names in UNIT_WORDS.items() if words & names), None)


def infer_polarizations(patches: list[Patch], read: dict[int, PatchValues]) -> tuple[tuple[str, ...] | None, list[str]]:
    """The polarizations per-polarization file names carry (all ``patches``) and band labels name (the ``read``
    single files whose every band names one), in the order of :data:`POLARIZATIONS`; and where they come from."""
    named = named_polarizations(patches)
    labelled = [band_polarizations(values.labels) for i, values in read.items() if not patches[i].polarizations]
    described = {pol for found in labelled if all(found) for pol in found}
    reasons = []
    if named:
        reasons.append("polarizations from file names")
    if described:
        reasons.append("polarizations from band labels")
    return in_order(set(named) | described) or None, reasons


def infer_unit(read: list[PatchValues], where: str) -> tuple[str, str]:
    """The unit one band label names, else dB for mostly negative values, amplitude for values not negative;
    and why."""
    hints: dict[str, str] = {}  # unit -> the first label naming it
    for label in (label for values in read for label in values.labels):
        if (hint := unit_hint(label)) is not None:
            hints.setdefault(hint, label)
    if len(hints) == 1:
        unit, label = next(iter(hints.items()))
        return unit, f"a band label says {UNIT_NAMES[unit]} ('{label}')"
    finite = sum(int(np.isfinite(values.values).sum()) for values in read)
    negative = sum(int((values.values < 0).sum()) for values in read) / max(finite, 1)
    if negative > 0.5:
        return "db", f"values mostly negative ({negative:.0%} of the pixels read)"
    if negative <= NEGATIVE_TOLERANCE:
        return "amplitude", "values not negative, read as amplitude (set data.unit intensity if they are power)"
    raise JepaError(
        f"{where}: {negative:.0%} of the values read are negative: not amplitude or intensity, "
        "yet not mostly negative as dB usually is; set data.unit"
    )


def infer_data(data: SARDataConfig, roots: list[Path]) -> tuple[SARDataConfig, str]:
    """``data`` with ``bands``, ``polarizations`` and ``unit`` inferred where unset, and one line saying what and why.

    Raises:
        JepaError: No chips, chips that disagree (band counts, missing polarizations), settings that
            contradict the data, or values the unit cannot hold (naming the file).
    """
    where = describe(roots)
    patches = find_patches(roots, data.polarizations)
    if not patches:
        raise JepaError(f"{where}: no SAR chips (GeoTIFF/raster, PNG/JPEG or MSTAR files) found")
    picks = np.unique(np.linspace(0, len(patches) - 1, min(SAMPLE, len(patches))).round().astype(int))
    read = {int(i): read_patch(patches[i], data.polarizations) for i in picks}
    counts = {len(values.values): values.files[0] for values in read.values()}
    if len(counts) > 1:
        (one, first), (other, second) = list(counts.items())[:2]
        raise JepaError(f"{where}: chips differ in band count: {first} has {one}, {second} has {other}")

    polarizations, reasons = data.polarizations, []
    if polarizations is None:
        polarizations, reasons = infer_polarizations(patches, read)
    bands = data.bands or (len(polarizations) if polarizations else next(iter(counts)))
    if polarizations is not None and bands != len(polarizations):
        raise JepaError(
            f"{where}: data.bands is {bands}, but the patches hold {', '.join(polarizations)}; "
            "set data.polarizations to the ones to read"
        )
    unit = data.unit
    if unit is None:
        unit, reason = infer_unit(list(read.values()), where)
        reasons.append(reason)
    for values in read.values():  # refuse now what loading would: values the unit cannot hold
        check_values(values.values, unit, values.files)

    what = []
    if data.bands is None:
        what.append(f"{bands} band{'s' * (bands > 1)}" + (f" ({', '.join(polarizations)})" if polarizations else ""))
    elif data.polarizations is None and polarizations:
        what.append(f"polarizations {', '.join(polarizations)}")
    if data.unit is None:
        what.append(f"in {UNIT_NAMES[unit]}")
    count = f"{len(patches)} patch{'es' * (len(patches) > 1)}"
    count += f" ({len(picks)} read)" if len(picks) < len(patches) else ""
    line = f"sar: inferred {' '.join(what)} from {count} in {where}" + (f": {'; '.join(reasons)}" if reasons else "")
    fields = {**data.model_dump(), "bands": bands, "unit": unit, "polarizations": polarizations}
    return type(data).model_validate(fields), line
