"""Readers of SAR chips: GeoTIFF and other rasters (rasterio), PNG/JPEG (Pillow), original MSTAR files.

Each returns a ``bands × H × W`` float32 array of the file's values with NaN
where a pixel is missing (nodata, NaN), or raises one :class:`JepaError`
naming the file. Rasters also give each band's label: its description, unit
and unit / polarization tags (what says ``VV`` or ``dB`` inside a file).
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
BAND_TAGS = ("unit", "units", "polarization", "polarisation")
DATASET_TAGS = ("unit", "units")


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


def band_labels(src) -> tuple[str, ...]:
    """Per band of an open rasterio dataset: description, unit and unit / polarization tags, space-separated."""
    shared = [value for key, value in src.tags().items() if key.lower() in DATASET_TAGS]
    labels = []
    for index, description, unit in zip(src.indexes, src.descriptions, src.units):
        tags = [value for key, value in src.tags(index).items() if key.lower() in BAND_TAGS]
        labels.append(" ".join(text for text in (description, unit, *tags, *shared) if text))
    return tuple(labels)


MAX_BANDS = 1024
"""More bands than any SAR or multispectral product has: a header declaring more is corrupt."""


def read_raster(path: Path) -> tuple[np.ndarray, tuple[str, ...]]:
    """All bands of a raster through rasterio, nodata and non-finite pixels as NaN, and the bands' labels."""
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning, RasterioIOError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)  # chips are often plain TIFFs
            with rasterio.open(path) as src:
                if src.count > MAX_BANDS:  # a corrupt header: reading would allocate bands x height x width
                    raise JepaError(f"{path}: corrupted raster header: it declares {src.count} bands "
                                    f"(more than {MAX_BANDS})")
                values = src.read(masked=True).astype(np.float32)
                labels = band_labels(src)
    except RasterioIOError as exc:
        reason = " ".join(str(exc).split())  # one line, whatever GDAL says
        raise JepaError(f"{path}: not a readable raster ({reason})") from None
    return np.ma.filled(values, np.nan), labels


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


def read_labelled(path: Path) -> tuple[np.ndarray, tuple[str, ...]]:
    """A chip of any supported format as ``bands × H × W`` float32 (NaN where missing) and its bands' labels
    (empty strings where the format has none)."""
    if not path.is_file():
        raise JepaError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise JepaError(f"{path}: empty file (0 bytes)")
    suffix = path.suffix.lower()
    if suffix in RASTER_SUFFIXES:
        return read_raster(path)
    if suffix in IMAGE_SUFFIXES:
        values = read_image(path)
    elif is_mstar(path):
        values = read_mstar(path)[0]
    else:
        raise JepaError(f"{path}: unsupported chip format (GeoTIFF/raster, PNG/JPEG or MSTAR)")
    return values, ("",) * len(values)


def read_chip(path: Path) -> np.ndarray:
    """A chip of any supported format as ``bands × H × W`` float32, NaN where missing."""
    return read_labelled(path)[0]
