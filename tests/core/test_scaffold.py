"""``new-domain`` writes a plugin package that keeps the plugin contract on every geometry."""

from __future__ import annotations

import importlib
from importlib.metadata import EntryPoint

import pytest
from jepa_platform.domain import registry
from jepa_platform.domain.scaffold import GEOMETRIES, write_plugin
from jepa_platform.errors import JepaError
from jepa_platform.testing import check_domain


@pytest.mark.parametrize("geometry", sorted(GEOMETRIES))
def test_a_new_plugin_keeps_the_contract_on_each_geometry(geometry, tmp_path, monkeypatch):
    name = f"new_{geometry}"
    folder = write_plugin(name, tmp_path, geometry)
    assert folder == tmp_path / f"jepa-new-{geometry}"
    assert f'{name} = "jepa_{name}:plugin"' in (folder / "pyproject.toml").read_text()
    assert f"domain: {name}\n" in (folder / "recipes" / "classify.yaml").read_text()
    assert not list(folder.rglob("*.tmpl")) and "{{" not in "".join(p.read_text() for p in folder.rglob("*.py"))
    monkeypatch.syspath_prepend(str(folder))
    entry = EntryPoint(name, f"jepa_{name}:plugin", registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(registry, "domain_entry_points", lambda: {name: entry})
    check_domain(name, {"data": {"demo_per_class": 4}})
    plugin = importlib.import_module(f"jepa_{name}").plugin
    grid = plugin.build_tokenizer(plugin.data_config(), 8).grid
    assert len(grid.axis_names) == grid.ndim and grid.ordered == (geometry != "set")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Audio", "'Audio' is not a valid domain name; use a lowercase Python identifier"),
        ("my-audio", "'my-audio' is not a valid domain name"),
        ("class", "'class' is not a valid domain name"),
        ("ecg", "a domain named 'ecg' is already installed"),
        ("domains", "a Python package 'jepa_domains' is already installed"),
    ],
)
def test_a_name_that_cannot_be_a_new_domain_is_refused(name, message, tmp_path):
    with pytest.raises(JepaError, match=message):
        write_plugin(name, tmp_path, "sequence")
    assert not list(tmp_path.iterdir())


def test_an_existing_folder_is_not_overwritten(tmp_path):
    (tmp_path / "jepa-audio").mkdir()
    (tmp_path / "jepa-audio" / "mine.py").write_text("kept")
    with pytest.raises(JepaError, match="jepa-audio already exists"):
        write_plugin("audio", tmp_path, "image")
    assert [p.name for p in (tmp_path / "jepa-audio").iterdir()] == ["mine.py"]
