"""``jepa-platform new-domain``: a pip-installable plugin package written from the templates beside this module.

The package reads a folder of ``.npy`` samples (one subfolder per class), tokenizes them on the chosen
geometry, writes demo data, defines a labelled task and runs the core's plugin contract suite in its tests.
"""

from __future__ import annotations

import keyword
import re
import shutil
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

from ..errors import JepaError
from .registry import domain_entry_points

TEMPLATES = Path(__file__).parent / "templates"
SUFFIX = ".tmpl"
NAME = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class Geometry:
    """What the templates of one token-grid geometry fill in."""

    description: str
    shape_doc: str
    short_setting: str
    """Constructor arguments of the data section that leave no room for tokens."""
    short_key: str
    """What the error for :attr:`short_setting` starts with."""


GEOMETRIES = {
    "sequence": Geometry(
        "signals of channels x length steps: time-patch tokens on a 1-D grid, span masks",
        "`data.channels x data.length`", "length=8, patch=16", "data.length 8",
    ),
    "image": Geometry(
        "images of channels x size x size pixels: patch tokens on a 2-D grid, multi-block masks",
        "`data.channels x data.size x data.size`", "size=8, patch=16", "data.size 8",
    ),
    "volume": Geometry(
        "clips or volumes of frames x size x size: tubelet tokens on a 3-D grid, tube masks",
        "`data.frames x data.size x data.size`", "frames=1, tubelet=2", "data.frames 1",
    ),
    "set": Geometry(
        "vectors of feature values: one token per feature on an unordered set, feature-subset masks",
        "`data.features`", "features=1", "data.features 1",
    ),
}


def check_name(name: str) -> None:
    """``name`` can be a new domain: a lowercase identifier, not installed, its package name free."""
    if not NAME.fullmatch(name) or keyword.iskeyword(name):
        raise JepaError(
            f"new-domain: '{name}' is not a valid domain name; use a lowercase Python identifier such as 'audio'"
        )
    if name in domain_entry_points():
        raise JepaError(f"new-domain: a domain named '{name}' is already installed; choose another name")
    if find_spec(f"jepa_{name}") is not None:
        raise JepaError(f"new-domain: a Python package 'jepa_{name}' is already installed; choose another name")


def render(text: str, values: dict[str, str]) -> str:
    """``text`` with every ``{{key}}`` replaced by its value."""
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    return text


def template_files(geometry: str) -> dict[Path, Path]:
    """The files of the package relative to its folder (``PACKAGE`` and ``NAME`` still to fill), by template."""
    files = {}
    for part in ("common", geometry):
        for template in sorted((TEMPLATES / part).rglob(f"*{SUFFIX}")):
            files[template.relative_to(TEMPLATES / part).with_suffix("")] = template
    return files


def write_plugin(name: str, out: Path, geometry: str) -> Path:
    """Write the plugin package ``jepa-NAME`` into ``out`` and return its folder.

    The files are written into a temporary folder beside it, renamed into place at the end.

    Raises:
        JepaError: ``name`` is not a new domain name, the geometry is unknown, or the folder exists.
    """
    check_name(name)
    if geometry not in GEOMETRIES:
        raise JepaError(f"new-domain: unknown --geometry '{geometry}'; choose one of {', '.join(GEOMETRIES)}")
    folder = out / f"jepa-{name.replace('_', '-')}"
    if folder.exists():
        raise JepaError(f"new-domain: {folder} already exists; remove it or choose another --out")
    if out.exists() and not out.is_dir():
        raise JepaError(f"new-domain: --out {out} is a file, not a folder")
    shape = GEOMETRIES[geometry]
    values = {
        "name": name,
        "package": f"jepa_{name}",
        "project": folder.name,
        "Class": "".join(part.capitalize() for part in name.split("_")) or name,
        "geometry": geometry,
        "description": shape.description,
        "shape_doc": shape.shape_doc,
        "short_setting": shape.short_setting,
        "short_key": shape.short_key,
    }
    temporary = out / f".{folder.name}.tmp"
    shutil.rmtree(temporary, ignore_errors=True)
    try:
        for relative, template in template_files(geometry).items():
            path = temporary / str(relative).replace("PACKAGE", values["package"]).replace("NAME", name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render(template.read_text(), values))
        temporary.replace(folder)
    except OSError as exc:
        shutil.rmtree(temporary, ignore_errors=True)
        raise JepaError(f"new-domain: cannot write {folder}: {exc.strerror or exc}") from None
    return folder
