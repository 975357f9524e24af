"""Deterministic synthetic SAR chips in an MSTAR-like layout, written as 16-bit PNG files.

Each class is a vehicle-like target: a body of its own length and width with
its own arrangement of bright point scatterers and a height that casts a
radar shadow (longer at 15° than at 17° depression). Every chip draws a pose
(a heading within a span around broadside, a position), a clutter field and a
gain, then multiplicative Gamma speckle of ``looks`` looks. Layout: ``root/17_DEG/<class>/*.png``
(training) and ``root/15_DEG/<class>/*.png`` (test).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PIL import Image

NUM_CLASSES = 10
MAX_SCATTERERS = 8
CLUTTER_SHAPE = 16.0
DEPRESSIONS = {"17_DEG": 17.0, "15_DEG": 15.0}


def class_layouts(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Per class: body length and width, height, and scatterer positions (body frame) and strengths."""
    length = rng.permutation(np.linspace(0.32, 0.62, NUM_CLASSES))
    width = rng.permutation(np.linspace(0.14, 0.30, NUM_CLASSES))
    height = rng.permutation(np.linspace(0.03, 0.09, NUM_CLASSES))
    count = rng.integers(3, MAX_SCATTERERS + 1, NUM_CLASSES)
    points = rng.uniform(-0.5, 0.5, (NUM_CLASSES, MAX_SCATTERERS, 2)) * np.stack([length, width], 1)[:, None]
    strength = rng.uniform(2.0, 5.0, (NUM_CLASSES, MAX_SCATTERERS)) * (np.arange(MAX_SCATTERERS) < count[:, None])
    return {"length": length, "width": width, "height": height, "points": points, "strength": strength}


def render(
    labels: np.ndarray, depression: float, size: int, looks: int, rng: np.random.Generator, heading_span: float = 360.0
) -> np.ndarray:
    """``N × size × size`` speckled amplitude chips of the classes ``labels`` (all chips at once)."""
    layout = class_layouts(np.random.default_rng(1234))
    n = len(labels)
    theta = np.radians(rng.uniform(-heading_span / 2, heading_span / 2, n))[:, None, None]
    centre = rng.uniform(-0.1, 0.1, (n, 2))
    coords = (np.arange(size) + 0.5) / size - 0.5
    y, x = np.meshgrid(coords, coords, indexing="ij")
    dx, dy = x[None] - centre[:, 0, None, None], y[None] - centre[:, 1, None, None]
    cos, sin = np.cos(theta), np.sin(theta)
    half_l, half_w = layout["length"][labels, None, None] / 2, layout["width"][labels, None, None] / 2

    def inside(shift: np.ndarray) -> np.ndarray:
        u, v = cos * dx + sin * (dy - shift), -sin * dx + cos * (dy - shift)
        return (np.abs(u) < half_l) & (np.abs(v) < half_w)

    body = inside(np.zeros((n, 1, 1)))
    shadow_len = layout["height"][labels] / np.tan(np.radians(depression))
    shadow = np.zeros_like(body)
    for step in np.linspace(0, shadow_len.max(), 24)[1:]:  # range is +y: the shadow falls behind the target
        shadow |= inside(np.minimum(step, shadow_len)[:, None, None])
    shadow &= ~body
    cell = -(-size // 8)  # clutter varies over 8 × 8 cells
    clutter = np.kron(rng.gamma(CLUTTER_SHAPE, 1 / CLUTTER_SHAPE, (n, 8, 8)), np.ones((cell, cell)))[:, :size, :size]
    sigma = 0.35 * clutter * rng.uniform(0.6, 1.4, (n, 1, 1))
    sigma = np.where(body, 0.8, np.where(shadow, 0.04, sigma))
    points = layout["points"][labels]  # N × P × 2 in the body frame -> image frame
    px = centre[:, None, 0] + cos[:, 0] * points[..., 0] - sin[:, 0] * points[..., 1]
    py = centre[:, None, 1] + sin[:, 0] * points[..., 0] + cos[:, 0] * points[..., 1]
    spread = (1.2 / size) ** 2
    for p in range(MAX_SCATTERERS):
        dist = (x[None] - px[:, p, None, None]) ** 2 + (y[None] - py[:, p, None, None]) ** 2
        sigma = sigma + layout["strength"][labels, p, None, None] * np.exp(-dist / (2 * spread))
    speckle = rng.gamma(looks, 1.0 / looks, sigma.shape)
    gain = np.exp(rng.uniform(-0.7, 0.7, (n, 1, 1)))
    return (gain * sigma * np.sqrt(speckle)).astype(np.float32)


def write_demo(root: Path, per_class: int, size: int, looks: int, heading_span: float) -> None:
    """Write ``per_class`` chips of each class at each depression under ``root`` (once), headings drawn
    within ``heading_span`` degrees."""
    done = root / ".complete"
    if done.exists():
        return
    shutil.rmtree(root, ignore_errors=True)
    rng = np.random.default_rng(0)
    for folder, depression in DEPRESSIONS.items():
        labels = np.repeat(np.arange(NUM_CLASSES), per_class)
        chips = render(labels, depression, size, looks, rng, heading_span)
        scale = 65535.0 / chips.max(axis=(1, 2), keepdims=True)
        pixels = np.round(chips * scale).clip(0, 65535).astype(np.uint16)
        for index, (label, chip) in enumerate(zip(labels, pixels)):
            target = root / folder / f"synthetic_{label:02d}"
            target.mkdir(parents=True, exist_ok=True)
            Image.fromarray(chip).save(target / f"chip_{index:05d}.png")
    done.touch()
