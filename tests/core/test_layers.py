"""The house rules of the code: the core's wings import downward only, and a plugin imports the core's plugin API alone."""

from __future__ import annotations

import ast
from pathlib import Path

import jepa_domains
import jepa_platform
import pytest

CORE = Path(jepa_platform.__file__).parent
DOMAINS = Path(jepa_domains.__file__).parent

# Lowest first: a module may import its own wing and the wings listed before it, never one after it.
LAYERS = [
    {"errors", "config", "schedules", "version", "metrics", "flock"},
    {"domain"},
    {"masking"},
    {"model"},
    {"objectives"},
    {"runs"},
    {"data"},
    {"pretrain"},
    {"downstream"},
    {"testing", "cli", "api", "__init__"},
]


def module_name(path: Path, root: Path, package: str) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([package, *parts])


def imported_modules(path: Path, name: str) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function, as absolute dotted names."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            found.add(stem)
            found.update(f"{stem}.{alias.name}" for alias in node.names)  # ``from . import x`` names a module
    return found


def wing(module: str) -> str:
    """``jepa_platform.pretrain.module`` -> ``pretrain``; ``jepa_platform`` -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def layer(module: str) -> int:
    return next(i for i, names in enumerate(LAYERS) if wing(module) in names)


def core_modules() -> dict[str, Path]:
    return {module_name(path, CORE, "jepa_platform"): path for path in CORE.rglob("*.py")}


def test_every_wing_has_a_layer():
    assert {wing(name) for name in core_modules()} <= set().union(*LAYERS)


@pytest.mark.parametrize("name", sorted(core_modules()))
def test_core_imports_run_downward(name):
    modules = core_modules()
    targets = {t for t in imported_modules(modules[name], name) if t in modules and t != name}
    upward = sorted(t for t in targets if layer(t) > layer(name))
    assert not upward, f"{name} (layer {wing(name)}) imports from a higher layer: {upward}"
    assert not any(t.startswith("jepa_domains") for t in imported_modules(modules[name], name)), "the core imports a domain"


def test_no_import_cycle_within_a_wing():
    modules = core_modules()
    graph = {
        name: {t for t in imported_modules(path, name) if t in modules and t != name and wing(t) == wing(name)}
        for name, path in modules.items()
    }
    # a package's __init__ re-exports its modules: the edges out of an __init__ are not a cycle's part
    graph = {name: targets for name, targets in graph.items() if not modules[name].name == "__init__.py"}
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for target in graph.get(node, ()):
            if state.get(target) == 1:
                raise AssertionError(f"import cycle: {' -> '.join(trail + [node, target])}")
            if target not in state:
                visit(target, trail + [node])
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [])


@pytest.mark.parametrize("domain", sorted(p.name for p in DOMAINS.iterdir() if (p / "__init__.py").is_file()))
def test_a_plugin_imports_the_core_through_the_plugin_api_alone(domain):
    for path in (DOMAINS / domain).rglob("*.py"):
        name = module_name(path, DOMAINS, "jepa_domains")
        core = sorted(m for m in imported_modules(path, name) if m.split(".")[0] == "jepa_platform")
        outside = [m for m in core if not (m == "jepa_platform.domain" or m.startswith("jepa_platform.domain."))]
        assert not outside, f"{path.relative_to(DOMAINS)} imports {outside}; plugins import jepa_platform.domain only"
        internals = [m for m in core if m in core_modules() and m != "jepa_platform.domain"]
        assert not internals, f"{path.relative_to(DOMAINS)} imports the plugin API's internals {internals}"


@pytest.mark.parametrize("domain", sorted(p.name for p in DOMAINS.iterdir() if (p / "__init__.py").is_file()))
def test_every_domain_has_the_same_layout(domain):
    files = {path.stem for path in (DOMAINS / domain).glob("*.py")}
    assert {"__init__", "config", "readers", "dataset", "tokenizer", "task", "demo"} <= files
