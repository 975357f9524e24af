"""Deterministic synthetic driving sweeps, written as a KITTI tree (``training/velodyne|label_2|calib``).

Each frame is a street along x: a ground plane 1.73 m below the sensor,
building walls with gaps on both sides, poles at the kerbs, and cars,
pedestrians and cyclists as boxes of plausible sizes and headings. A
32-beam spinning sensor (elevations -24.8° to 2°, 1024 azimuths) casts its
rays against all of it at once: each ray keeps its nearest hit, so density
falls with range and objects cast occlusion shadows. Ranges get 2 cm noise,
a tenth of the returns drop out, and each surface has its own reflectance.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

SENSOR_HEIGHT = 1.73
MAX_RANGE = 80.0
ELEVATIONS = (-24.8, 2.0)
"""The lowest and highest beam, in degrees (Velodyne HDL-64E)."""
# KITTI's calibration of frame 000000 (training/calib/000000.txt).
P2 = np.array([[721.5377, 0.0, 609.5593, 44.85728], [0.0, 721.5377, 172.854, 0.2163791], [0.0, 0.0, 1.0, 0.002745884]])
R0_RECT = np.array([[0.9999239, 0.00983776, -0.007445048], [-0.009869795, 0.9999421, -0.004278459],
                    [0.007402527, 0.004351614, 0.9999631]])
TR_VELO_TO_CAM = np.array([[0.007533745, -0.9999714, -0.000616602, -0.004069766],
                           [0.01480249, 0.0007280733, -0.9998902, -0.07631618],
                           [0.9998621, 0.00752379, 0.01480755, -0.2717806]])
# Per class: (count range, length, width, height ranges in metres).
OBJECTS = {
    "Car": ((0, 7), (3.6, 4.8), (1.55, 1.9), (1.4, 1.7)),
    "Pedestrian": ((0, 5), (0.5, 0.9), (0.45, 0.7), (1.55, 1.9)),
    "Cyclist": ((0, 3), (1.6, 1.9), (0.5, 0.7), (1.6, 1.8)),
}
REFLECTANCE = {"ground": (0.05, 0.25), "wall": (0.2, 0.5), "pole": (0.5, 0.8), "Car": (0.3, 0.9),
               "Pedestrian": (0.15, 0.45), "Cyclist": (0.25, 0.6)}


def place_objects(rng: np.random.Generator) -> tuple[list[str], np.ndarray]:
    """Labelled objects of one street: names and ``K × 7`` boxes (centre x, y, z, length, width, height, heading)."""
    names, boxes = [], []
    for name, (count, length, width, height) in OBJECTS.items():
        for _ in range(rng.integers(count[0], count[1] + 1)):
            l, w, h = rng.uniform(*length), rng.uniform(*width), rng.uniform(*height)
            if name == "Pedestrian":
                y, heading = rng.choice([-1, 1]) * rng.uniform(4.5, 7.0), rng.uniform(-np.pi, np.pi)
            else:
                lane = rng.choice([-5.25, -1.75, 1.75, 5.25] if name == "Car" else [-3.8, 3.8])
                y, heading = lane + rng.normal(0, 0.3), (0.0 if lane < 0 else np.pi) + rng.normal(0, 0.12)
            box = np.array([rng.uniform(4.0, 45.0), y, h / 2 - SENSOR_HEIGHT, l, w, h, heading])
            if all(np.hypot(*(box[:2] - other[:2])) > (box[3] + other[3]) / 2 + 0.3 for other in boxes):
                names.append(name)
                boxes.append(box)
    return names, np.array(boxes).reshape(-1, 7)


def place_scenery(rng: np.random.Generator) -> np.ndarray:
    """Unlabelled boxes: wall segments (with gaps) on both sides and poles at the kerbs, ``S × 7``."""
    boxes = []
    for side in (-1, 1):
        offset, x = rng.uniform(8.0, 14.0), rng.uniform(-20.0, 5.0)
        while x < MAX_RANGE:
            length = rng.uniform(6.0, 25.0)
            height = rng.uniform(3.0, 9.0)
            boxes.append([x + length / 2, side * (offset + 0.3), height / 2 - SENSOR_HEIGHT, length, 0.6, height, 0])
            x += length + rng.uniform(2.0, 8.0)
        for px in rng.uniform(0.0, 60.0, rng.integers(2, 6)):
            height = rng.uniform(3.0, 6.0)
            boxes.append([px, side * rng.uniform(6.8, 7.6), height / 2 - SENSOR_HEIGHT, 0.2, 0.2, height, 0])
    return np.array(boxes)


def cast(boxes: np.ndarray, directions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest hit of rays from the sensor: ``R`` distances (inf: none) and the index of the box hit (-1: ground)."""
    ground = np.where(directions[:, 2] < 0, -SENSOR_HEIGHT / np.minimum(directions[:, 2], -1e-9), np.inf)
    cos, sin = np.cos(boxes[:, 6]), np.sin(boxes[:, 6])
    origin = -boxes[:, :3]  # the sensor in each box's frame, before rotation
    o = np.stack([cos * origin[:, 0] + sin * origin[:, 1], -sin * origin[:, 0] + cos * origin[:, 1], origin[:, 2]], 1)
    d = np.stack([directions[:, None, 0] * cos + directions[:, None, 1] * sin,
                  -directions[:, None, 0] * sin + directions[:, None, 1] * cos,
                  np.broadcast_to(directions[:, None, 2], (len(directions), len(boxes)))], axis=2)  # R × K × 3
    half = boxes[:, 3:6] / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        t1, t2 = (-half - o) / d, (half - o) / d
    near = np.nanmax(np.minimum(t1, t2), axis=2)
    far = np.nanmin(np.maximum(t1, t2), axis=2)
    hit = (far >= near) & (near > 0)
    distance = np.where(hit, near, np.inf)
    nearest = distance.argmin(axis=1)
    box_distance = distance[np.arange(len(directions)), nearest]
    on_box = box_distance < ground
    return np.where(on_box, box_distance, ground), np.where(on_box, nearest, -1)


def sweep(
    names: list[str], boxes: np.ndarray, scenery: np.ndarray, rng: np.random.Generator,
    beams: int = 32, azimuths: int = 1024,
) -> np.ndarray:
    """``N × 4`` float32 points (x, y, z, reflectance) of one sweep over the objects and scenery, by a sensor of
    ``beams`` elevations over the range of :data:`ELEVATIONS` and ``azimuths`` steps a turn."""
    elevations = np.radians(np.linspace(*ELEVATIONS, beams))
    turn = np.linspace(-np.pi, np.pi, azimuths, endpoint=False)
    elevation, azimuth = np.meshgrid(elevations, turn, indexing="ij")
    elevation = elevation.ravel() + rng.normal(0, 0.001, elevation.size)
    azimuth = azimuth.ravel() + rng.uniform(0, turn[1] - turn[0])
    directions = np.stack([np.cos(elevation) * np.cos(azimuth), np.cos(elevation) * np.sin(azimuth),
                           np.sin(elevation)], axis=1)
    every = np.concatenate([boxes, scenery])
    distance, index = cast(every, directions)
    keep = (distance < MAX_RANGE) & (rng.random(len(distance)) > 0.1)
    distance, index, directions = distance[keep], index[keep], directions[keep]
    points = directions * (distance + rng.normal(0, 0.02, len(distance)))[:, None]
    kinds = ["ground"] + names + ["wall" if row[3] > 1 else "pole" for row in scenery]
    low, high = np.array([REFLECTANCE[kind] for kind in kinds]).T
    surface = rng.uniform(low, high)  # one reflectance per surface, ground first
    intensity = np.clip(surface[index + 1] + rng.normal(0, 0.03, len(index)), 0, 1)
    return np.column_stack([points, intensity]).astype(np.float32)


def label_lines(names: list[str], boxes: np.ndarray) -> list[str]:
    """KITTI ``label_2`` lines of sensor-frame boxes (bottom centre in rectified camera coordinates)."""
    transform = np.eye(4)
    transform[:3, :3] = R0_RECT
    transform = transform @ np.vstack([TR_VELO_TO_CAM, [0, 0, 0, 1]])
    lines = []
    for name, (x, y, z, l, w, h, heading) in zip(names, boxes):
        bottom = transform @ np.array([x, y, z - h / 2, 1.0])
        ry = (-heading - np.pi / 2 + np.pi) % (2 * np.pi) - np.pi
        alpha = (ry - np.arctan2(bottom[0], bottom[2]) + np.pi) % (2 * np.pi) - np.pi
        corners = np.array([[x + sx * l / 2 * np.cos(heading) - sy * w / 2 * np.sin(heading),
                             y + sx * l / 2 * np.sin(heading) + sy * w / 2 * np.cos(heading), z + sz * h / 2, 1.0]
                            for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])
        image = (P2 @ transform @ corners.T).T
        uv = image[:, :2] / np.maximum(image[:, 2:], 1e-3)
        left, top = np.clip(uv.min(axis=0), 0, [1241, 374])
        right, bottom_edge = np.clip(uv.max(axis=0), 0, [1241, 374])
        lines.append(f"{name} 0.00 0 {alpha:.2f} {left:.2f} {top:.2f} {right:.2f} {bottom_edge:.2f} "
                     f"{h:.2f} {w:.2f} {l:.2f} {bottom[0]:.2f} {bottom[1]:.2f} {bottom[2]:.2f} {ry:.2f}")
    return lines


def calib_text() -> str:
    """A KITTI ``calib`` file with the matrices above (P0-P3 all P2, as only P2 is used here)."""
    rows = [f"P{k}: " + " ".join(f"{v:.12e}" for v in P2.ravel()) for k in range(4)]
    rows.append("R0_rect: " + " ".join(f"{v:.12e}" for v in R0_RECT.ravel()))
    rows.append("Tr_velo_to_cam: " + " ".join(f"{v:.12e}" for v in TR_VELO_TO_CAM.ravel()))
    return "\n".join(rows) + "\n"


def write_demo(root: Path, frames: int) -> None:
    """Write ``frames`` sweeps with their labels and calibration under ``root/training`` (once)."""
    done = root / ".complete"
    if done.exists():
        return
    shutil.rmtree(root, ignore_errors=True)
    folders = {name: root / "training" / name for name in ("velodyne", "label_2", "calib")}
    for folder in folders.values():
        folder.mkdir(parents=True)
    for frame in range(frames):
        rng = np.random.default_rng(frame)
        names, boxes = place_objects(rng)
        points = sweep(names, boxes, place_scenery(rng), rng)
        stem = f"{frame:06d}"
        points.tofile(folders["velodyne"] / f"{stem}.bin")
        (folders["label_2"] / f"{stem}.txt").write_text("".join(f"{line}\n" for line in label_lines(names, boxes)))
        (folders["calib"] / f"{stem}.txt").write_text(calib_text())
    done.touch()
