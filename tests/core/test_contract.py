"""Every installed domain keeps the plugin contract (the suite a third-party plugin runs on itself too)."""

from __future__ import annotations

import threading
import time

import pytest
from jepa_platform.domain.registry import domain_entry_points, load_domain
from jepa_platform.testing import check_domain, check_light_entry_point

# Demo settings that keep each built-in domain's demo data to seconds; other domains run with their own demo.
SMALL_DEMOS = {
    "ecg": {"data": {"demo_records": 24}},
    "eeg": {"data": {"demo_patients": 4}},
    "sar": {"data": {"demo_per_class": 4, "size": 32, "patch": 8, "radii": [1, 3]}, "masking": {"min_context": 2}},
    "tabular": {"data": {"demo_table": "wine"}},
    "lidar": {"data": {"demo_frames": 8}},
    "action": {"data": {"demo_episodes": 10}},
}


@pytest.mark.parametrize("name", sorted(domain_entry_points()))
def test_domain_keeps_the_plugin_contract(name):
    check_domain(name, SMALL_DEMOS.get(name))


def test_an_entry_point_module_that_imports_torch_breaks_the_contract(tmp_path, monkeypatch):
    (tmp_path / "heavy_plugin.py").write_text("import torch\n\nplugin = None\n")
    (tmp_path / "light_plugin.py").write_text("import jepa_platform.domain\n\nplugin = None\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    check_light_entry_point("light_plugin")
    with pytest.raises(AssertionError, match="module heavy_plugin imports torch: import heavy libraries inside"):
        check_light_entry_point("heavy_plugin")


def test_runs_started_together_write_the_demo_once_one_at_a_time(tmp_path, monkeypatch):
    plugin = load_domain("eeg")
    writing, most_at_once, written = [0], [0], []

    def write_demo(root, data):  # a slow writer that, like the built-in ones, skips a complete demo
        if (root / ".complete").exists():
            return
        writing[0] += 1
        most_at_once[0] = max(most_at_once[0], writing[0])
        time.sleep(0.3)
        root.mkdir(parents=True, exist_ok=True)
        (root / ".complete").touch()
        written.append(root)
        writing[0] -= 1

    monkeypatch.setattr(plugin, "write_demo", write_demo)
    data = plugin.data_config()
    runs = [threading.Thread(target=plugin.ensure_data, args=(data, tmp_path)) for _ in range(3)]
    for run in runs:
        run.start()
    for run in runs:
        run.join()
    assert most_at_once[0] == 1 and written == [plugin.demo_root(tmp_path, data)]
