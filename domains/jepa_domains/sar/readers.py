"""Readers of SAR chips: GeoTIFF and other rasters (rasterio), PNG/JPEG (Pillow), original MSTAR files.

Each returns a ``bands × H × W`` float32 array of the file's values with NaN
where a pixel is missing (nodata, NaN), or raises one :class:`JepaError`
naming the file.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
from jepa_platform.domain import JepaError

RASTER_SUFFIXES = (".tif", ".tiff", ".img", ".jp2", ".vrt")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
MSTAR_MAGIC = b"[PhoenixHeader"


def is_mstar(path: Path) -> bool:
    """Whether ``path`` starts with an MSTAR Phoenix header."""
    with open(path, "rb") as handle:
        return handle.read(len(MSTAR_MAGIC)) == MSTAR_MAGIC


def is_chip(path: Path) -> bool:
    """Whether ``path`` is a file one of the readers takes."""
    if not path.is_file() or path.name.startswith("."):
        return False
    suffix = path.suffix.lower()
    return suffix in RASTER_SUFFIXES or suffix in IMAGE_SUFFIXES or (path.stat().st_size > 0 and is_mstar(path))


def read_raster(path: Path) -> np.ndarray:
    """All bands of a raster through rasterio, nodata and non-finite pixels as NaN."""
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning, RasterioIOError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)  # chips are often plain TIFFs
            with rasterio.open(path) as src:
                values = src.read(masked=True).astype(np.float32)
    except RasterioIOError as exc:
        raise JepaError(f"{path}: not a readable raster ({exc})") from None
    return np.ma.filled(values, np.nan)


def read_image(path: Path) -> np.ndarray:
    """A PNG/JPEG amplitude chip through Pillow (colour images are read as their luminance)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            if image.mode not in ("L", "I", "I;16", "F"):
                image = image.convert("L")
            values = np.asarray(image, dtype=np.float32)
    except (UnidentifiedImageError, OSError) as exc:
        raise JepaError(f"{path}: not a readable image ({exc})") from None
    return values[None]


def parse_mstar_header(text: str, path: Path) -> dict[str, str]:
    """The ``Key= value`` lines of an MSTAR Phoenix header."""
    fields = dict(re.findall(r"^\s*(\w+)\s*=\s*(.*?)\s*$", text, flags=re.MULTILINE))
    for key in ("PhoenixHeaderLength", "NumberOfRows", "NumberOfColumns"):
        if not fields.get(key, "").isdigit():
            raise JepaError(f"{path}: MSTAR header lacks an integer '{key}'")
    return fields


def read_mstar(path: Path) -> tuple[np.ndarray, dict[str, str]]:
    """An original MSTAR file: ASCII Phoenix header, then big-endian float32 magnitude (then phase)."""
    raw = path.read_bytes()
    end = raw.find(b"[EndofPhoenixHeader]")
    if not raw.startswith(MSTAR_MAGIC) or end < 0:
        raise JepaError(f"{path}: not an MSTAR file (no complete Phoenix header)")
    header = parse_mstar_header(raw[:end].decode("latin-1"), path)
    rows, cols = int(header["NumberOfRows"]), int(header["NumberOfColumns"])
    start = int(header["PhoenixHeaderLength"]) + int(header.get("NativeHeaderLength", "0") or 0)
    if start + rows * cols * 4 > len(raw):
        needed = start + rows * cols * 4
        raise JepaError(f"{path}: truncated MSTAR file ({len(raw)} bytes; the {rows}×{cols} magnitude needs {needed})")
    magnitude = np.frombuffer(raw, dtype=">f4", count=rows * cols, offset=start).astype(np.float32)
    return magnitude.reshape(1, rows, cols), header


def read_chip(path: Path) -> np.ndarray:
    """A chip of any supported format as ``bands × H × W`` float32, NaN where missing."""
    if not path.is_file():
        raise JepaError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise JepaError(f"{path}: empty file (0 bytes)")
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return read_image(path)
    if suffix in RASTER_SUFFIXES:
        return read_raster(path)
    if is_mstar(path):
        return read_mstar(path)[0]
    raise JepaError(f"{path}: unsupported chip format (GeoTIFF/raster, PNG/JPEG or MSTAR)")
