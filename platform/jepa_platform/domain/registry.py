"""Discovery of domain plugins through the ``jepa_platform.domains`` entry-point group."""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from importlib.util import find_spec

from ..errors import JepaError
from .contract import DomainPlugin

ENTRY_POINT_GROUP = "jepa_platform.domains"


def domain_entry_points() -> dict[str, EntryPoint]:
    """Installed domains by name, without importing them."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def missing_modules(plugin: DomainPlugin) -> list[str]:
    """The modules of ``plugin.requires`` that are not installed (found without importing them)."""
    return [module for module in plugin.requires if find_spec(module) is None]


def load_domain(name: str, check_requirements: bool = True) -> DomainPlugin:
    """The plugin registered as ``name``; an unknown name lists the available ones.

    Raises:
        JepaError: No such domain, it fails to load, or (``check_requirements``) a module it needs is missing.
    """
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
        raise JepaError(f"domain '{name}' ({found[name].value}) is not a jepa_platform.domain.DomainPlugin")
    missing = missing_modules(plugin) if check_requirements else []
    if missing:
        hint = plugin.install_hint or f"install {', '.join(missing)}"
        raise JepaError(f"domain '{name}' needs {', '.join(missing)}, which is not installed: {hint}")
    return plugin


def list_domains() -> list[tuple[str, str]]:
    """``(name, description)`` of every installed domain, sorted by name."""
    rows = []
    for name in sorted(domain_entry_points()):
        try:
            plugin = load_domain(name, check_requirements=False)
            missing = missing_modules(plugin)
            note = f" (needs {', '.join(missing)}: {plugin.install_hint or 'not installed'})" if missing else ""
            rows.append((name, plugin.description + note))
        except JepaError as exc:
            rows.append((name, f"(broken: {exc})"))
    return rows
