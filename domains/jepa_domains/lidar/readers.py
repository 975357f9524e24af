"""Readers of LiDAR scans: KITTI velodyne ``.bin`` with ``label_2`` and ``calib`` text files; PCD and PLY (open3d).

A scan is an ``N × 4`` float32 array (x, y, z, intensity) in the sensor's frame.
Every bad file raises one :class:`JepaError` naming it: a ``.bin`` whose size is
not a multiple of 16 bytes, an empty scan, NaN or infinite coordinates, a PCD or
PLY without points, a label line that does not parse.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from jepa_platform.domain import JepaError

SCAN_SUFFIXES = (".bin", ".pcd", ".ply")
KITTI_FIELDS = 15
"""Fields of a ``label_2`` line: type, truncation, occlusion, alpha, 2-D box (4), h w l, x y z, rotation_y."""
OPEN3D_HINT = (
    "open3d does not import: {error}. PCD/PLY scans need `pip install open3d` and, on Debian/Ubuntu, "
    "the system library libusb-1.0-0 (`apt-get install -y libusb-1.0-0`)"
)


@dataclass(frozen=True)
class Frame:
    """One scan file, with its KITTI label and calibration files when they exist."""

    points: Path
    label: Path | None = None
    calib: Path | None = None


@dataclass(frozen=True)
class Boxes:
    """Labelled objects of one frame in the sensor frame: class names, ``K × 3`` centres (box middle),
    ``K × 3`` sizes (length, width, height along the box's x, y, z) and ``K`` headings (radians about z)."""

    names: tuple[str, ...]
    centres: np.ndarray
    sizes: np.ndarray
    headings: np.ndarray


# ------------------------------------------------------------------ scans
def read_bin(path: Path) -> np.ndarray:
    """A KITTI velodyne ``.bin``: float32 records of (x, y, z, reflectance)."""
    size = path.stat().st_size
    if size % 16:
        raise JepaError(f"{path}: {size} bytes is not a multiple of 16 (float32 x, y, z, reflectance per point)")
    return check_points(np.fromfile(path, dtype="<f4").reshape(-1, 4), path)


def read_open3d(path: Path) -> np.ndarray:
    """A PCD or PLY file through open3d's tensor API: its positions and ``intensity`` field (zeros when absent)."""
    try:
        import open3d as o3d
    except (ImportError, OSError) as exc:  # OSError: libusb-1.0 missing
        raise JepaError(OPEN3D_HINT.format(error=exc)) from exc
    cloud = o3d.t.io.read_point_cloud(str(path))
    if "positions" not in cloud.point or len(cloud.point.positions) == 0:
        raise JepaError(f"{path}: no points (an empty or unreadable point cloud)")
    xyz = cloud.point.positions.numpy().astype(np.float32).reshape(-1, 3)
    for name in ("intensity", "intensities", "reflectance", "reflectivity"):
        if name in cloud.point:
            intensity = cloud.point[name].numpy().astype(np.float32).reshape(len(xyz), -1)[:, 0]
            break
    else:
        intensity = np.zeros(len(xyz), np.float32)
    return check_points(np.column_stack([xyz, intensity]), path)


def check_points(points: np.ndarray, path: Path) -> np.ndarray:
    """``points`` unchanged, after checking the scan has points and finite coordinates."""
    if len(points) == 0:
        raise JepaError(f"{path}: empty scan (no points)")
    bad = ~np.isfinite(points[:, :3]).all(axis=1)
    if bad.any():
        raise JepaError(f"{path}: {int(bad.sum())} of {len(points)} points have NaN or infinite coordinates "
                        f"(first at point {int(np.flatnonzero(bad)[0])})")
    if not np.isfinite(points[:, 3]).all():
        raise JepaError(f"{path}: NaN or infinite intensity values")
    return points


def read_scan(path: Path) -> np.ndarray:
    """``N × 4`` float32 (x, y, z, intensity) of a ``.bin``, ``.pcd`` or ``.ply`` scan."""
    if path.suffix.lower() == ".bin":
        return read_bin(path)
    if path.suffix.lower() in (".pcd", ".ply"):
        return read_open3d(path)
    raise JepaError(f"{path}: not a LiDAR scan (expected {', '.join(SCAN_SUFFIXES)})")


# ------------------------------------------------------------ KITTI text
def read_calib(path: Path) -> dict[str, np.ndarray]:
    """A KITTI ``calib`` file: each ``key: values`` line as a flat float64 array (``P0``-``P3``, ``R0_rect``,
    ``Tr_velo_to_cam``, ...)."""
    values: dict[str, np.ndarray] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, rest = line.partition(":")
        try:
            if not sep:
                raise ValueError("no ':'")
            values[key.strip()] = np.array(rest.split(), dtype=np.float64)
        except ValueError as exc:
            raise JepaError(f"{path}, line {number}: malformed calibration line {line!r} ({exc})") from exc
    for key, size in (("R0_rect", 9), ("Tr_velo_to_cam", 12)):
        if key not in values or values[key].size != size:
            raise JepaError(f"{path}: needs a '{key}' line of {size} numbers")
    return values


def velo_to_rect(calib: dict[str, np.ndarray]) -> np.ndarray:
    """The 4 × 4 transform from the sensor frame to rectified camera coordinates: ``R0_rect · Tr_velo_to_cam``."""
    rect, velo = np.eye(4), np.eye(4)
    rect[:3, :3] = calib["R0_rect"].reshape(3, 3)
    velo[:3, :4] = calib["Tr_velo_to_cam"].reshape(3, 4)
    return rect @ velo


def read_labels(path: Path, calib: dict[str, np.ndarray]) -> Boxes:
    """The objects of a ``label_2`` file as :class:`Boxes` in the sensor frame (``DontCare`` lines skipped).

    KITTI gives the bottom centre in rectified camera coordinates, sizes as h, w, l and ``rotation_y``
    about the camera's y axis (pointing down); the sensor-frame heading is ``-rotation_y - π/2``.
    """
    rows, names = [], []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        try:
            if len(fields) not in (KITTI_FIELDS, KITTI_FIELDS + 1):  # a 16th field: the detection score
                raise ValueError(f"{len(fields)} fields, expected {KITTI_FIELDS}")
            numbers = np.array(fields[1:KITTI_FIELDS], dtype=np.float64)
            if not np.isfinite(numbers).all():
                raise ValueError("a non-finite number")
        except ValueError as exc:
            raise JepaError(f"{path}, line {number}: malformed label line {line!r} ({exc})") from exc
        if fields[0] != "DontCare":
            names.append(fields[0])
            rows.append(numbers)
    if not rows:
        return Boxes((), np.zeros((0, 3)), np.zeros((0, 3)), np.zeros(0))
    table = np.stack(rows)
    h, w, l = table[:, 7], table[:, 8], table[:, 9]
    bottom = np.column_stack([table[:, 10:13], np.ones(len(table))])
    centres = (bottom @ np.linalg.inv(velo_to_rect(calib)).T)[:, :3]
    centres[:, 2] += h / 2
    return Boxes(tuple(names), centres, np.column_stack([l, w, h]), -table[:, 13] - np.pi / 2)


# ------------------------------------------------------------- discovery
def sibling(scan: Path, folder: str) -> Path | None:
    """``<kitti root>/<folder>/<stem>.txt`` of a scan in a ``velodyne`` folder, when it exists."""
    if scan.parent.name != "velodyne":
        return None
    candidate = scan.parent.parent / folder / f"{scan.stem}.txt"
    return candidate if candidate.is_file() else None


def find_frames(root: Path) -> list[Frame]:
    """The scans at ``root``: one file, a KITTI tree (``training/velodyne``), or a folder searched recursively;
    a scan in a ``velodyne`` folder takes the ``label_2`` and ``calib`` files of its stem beside it.

    Raises:
        JepaError: ``root`` does not exist or holds no scan.
    """
    if not root.exists():
        raise JepaError(f"{root}: no such file or folder")
    if root.is_file():
        scans = [root]
    else:
        base = root / "training" if (root / "training" / "velodyne").is_dir() else root
        scans = sorted(p for p in base.rglob("*") if p.suffix.lower() in SCAN_SUFFIXES and p.is_file()
                       and not p.name.startswith("."))
    if not scans:
        raise JepaError(f"{root}: no LiDAR scans ({', '.join(SCAN_SUFFIXES)}) found")
    return [Frame(scan, sibling(scan, "label_2"), sibling(scan, "calib")) for scan in scans]


def read_boxes(frame: Frame) -> Boxes | None:
    """The frame's labelled objects, or ``None`` without a label file.

    Raises:
        JepaError: A label file without its calibration file.
    """
    if frame.label is None:
        return None
    if frame.calib is None:
        raise JepaError(f"{frame.label}: a label file needs its calib file ({frame.points.parent.parent}/calib)")
    return read_labels(frame.label, read_calib(frame.calib))
