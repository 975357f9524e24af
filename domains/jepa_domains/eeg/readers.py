"""Reading EDF/EDF+/BDF recordings (mne) with clear errors for bad files, and finding them in a folder or the TUAB tree.

Channels are mapped to the 10-20 system by name; the TUAB layout's folders give each
recording its split (train/eval), label (normal/abnormal) and patient.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from jepa_platform.domain import JepaError, one_line

from .channels import normalize_channel

SUFFIXES = (".edf", ".bdf")


class NoChannels(JepaError):
    """A recording holds none of the configured channels (skipped, and counted, when reading a folder)."""


def _field(header: bytes, start: int, width: int) -> str:
    return header[start : start + width].decode("ascii", "replace").strip()


def check_size(path: Path) -> None:
    """Raise unless the file holds the header and every data record its fixed header announces.

    Raises:
        JepaError: The header is unreadable, or the file is shorter than the header says (truncated).
    """
    with path.open("rb") as stream:
        fixed = stream.read(256)
        try:
            header_bytes = int(_field(fixed, 184, 8))
            records, signals = int(_field(fixed, 236, 8)), int(_field(fixed, 252, 4))
        except ValueError:
            raise JepaError(
                f"{path}: corrupted EDF header (the header size, record count or signal count is not a number)"
            ) from None
        if len(fixed) < 256 or signals < 1 or header_bytes != 256 * (signals + 1):
            raise JepaError(f"{path}: corrupted EDF header ({signals} signals but {header_bytes} header bytes)")
        stream.seek(256 + signals * 216)
        counts = stream.read(8 * signals)
    try:
        per_record = sum(int(_field(counts, 8 * i, 8)) for i in range(signals))
    except ValueError:
        raise JepaError(f"{path}: corrupted EDF header (a samples-per-record field is not a number)") from None
    width = 3 if path.suffix.lower() == ".bdf" else 2
    expected = header_bytes + max(records, 0) * per_record * width
    actual = path.stat().st_size
    if records < 1 or actual < expected:
        raise JepaError(f"{path}: truncated file ({actual} bytes, the header announces {records} records = {expected} bytes)")


def read_recording(path: Path, channels: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, float]:
    """``channels × samples`` float64 volts (zeros for absent channels), the present mask, and the file's rate.

    EDF/BDF store integer samples, so a value is NaN only where the header's scaling makes it so
    (e.g. a physical minimum of ``nan``): a whole channel; :mod:`.dataset` applies the NaN policy.

    Raises:
        JepaError: The file is corrupt or truncated (:class:`NoChannels`: it holds none of ``channels``).
    """
    import mne

    check_size(path)
    try:
        reader = mne.io.read_raw_bdf if path.suffix.lower() == ".bdf" else mne.io.read_raw_edf
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw = reader(path, preload=False, verbose="error")
    except Exception as exc:  # mne raises several types for malformed headers
        raise JepaError(f"{path}: cannot read EDF/BDF header: {one_line(exc)}") from None
    found: dict[str, int] = {}
    for index, name in enumerate(raw.ch_names):
        canonical = normalize_channel(name)
        if canonical in channels and canonical not in found:
            found[canonical] = index
    if not found:
        raise NoChannels(f"{path}: none of the channels {list(channels)} (found {raw.ch_names[:8]}...)")
    data = raw.get_data(picks=list(found.values()))
    signal = np.zeros((len(channels), data.shape[1]))
    present = np.zeros(len(channels), dtype=bool)
    rows = [channels.index(name) for name in found]
    signal[rows], present[rows] = data, True
    return signal, present, float(raw.info["sfreq"])


CLASSES = ("normal", "abnormal")


TUAB_SPLITS = ("train", "eval")


@dataclass(frozen=True)
class Recording:
    """One EDF/BDF file, its patient, and (in the TUAB tree) its official split and label."""

    path: Path
    patient: str
    split: str | None = None
    label: int | None = None


def patient_of(path: Path) -> str:
    """The patient id: the file name up to the first ``_`` (TUH names files ``<patient>_s<session>_t<token>``)."""
    return path.stem.split("_")[0]


def tuab_place(path: Path, root: Path) -> tuple[str, int] | None:
    """``(split, label)`` from a path ``train|eval/normal|abnormal/...`` under ``root``; ``None`` outside that tree."""
    parts = [part.lower() for part in path.relative_to(root).parts[:-1]]
    for i in range(len(parts) - 1):
        if parts[i] in TUAB_SPLITS and parts[i + 1] in CLASSES:
            return parts[i], CLASSES.index(parts[i + 1])
    return None


def find_recordings(root: Path) -> list[Recording]:
    """Every EDF/BDF file under ``root`` (or ``root`` itself), sorted, with TUAB split and label where the path has them.

    Raises:
        JepaError: ``root`` does not exist or holds no EDF/BDF file.
    """
    if not root.exists():
        raise JepaError(f"data path {root} does not exist")
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.suffix.lower() in SUFFIXES)
    if not files or files[0].suffix.lower() not in SUFFIXES:
        raise JepaError(f"{root}: no EDF/BDF files ({', '.join(SUFFIXES)}) found")
    base = root if root.is_dir() else root.parent
    recordings = []
    for path in files:
        place = tuab_place(path, base)
        split, label = place if place else (None, None)
        recordings.append(Recording(path, patient_of(path), split, label))
    return recordings
