"""Discovery of domain plugins through the ``jepa_platform.domains`` entry-point group."""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

from .errors import JepaError
from .plugin import DomainPlugin

ENTRY_POINT_GROUP = "jepa_platform.domains"


def domain_entry_points() -> dict[str, EntryPoint]:
    """Installed domains by name, without importing them."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def load_domain(name: str) -> DomainPlugin:
    """The plugin registered as ``name``; an unknown name lists the available ones."""
    found = domain_entry_points()
    if name not in found:
        available = ", ".join(sorted(found)) or "none installed"
        raise JepaError(f"unknown domain '{name}'; available domains: {available}")
    try:
        plugin = found[name].load()
    except Exception as exc:  # a broken third-party package must not look like our bug
        raise JepaError(f"domain '{name}' ({found[name].value}) failed to load: {exc}") from exc
    if isinstance(plugin, type):
        plugin = plugin()
    if not isinstance(plugin, DomainPlugin):
        raise JepaError(f"domain '{name}' ({found[name].value}) is not a jepa_platform.plugin.DomainPlugin")
    return plugin


def list_domains() -> list[tuple[str, str]]:
    """``(name, description)`` of every installed domain, sorted by name."""
    rows = []
    for name in sorted(domain_entry_points()):
        try:
            rows.append((name, load_domain(name).description))
        except JepaError as exc:
            rows.append((name, f"(broken: {exc})"))
    return rows
