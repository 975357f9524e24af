"""Every installed domain keeps the plugin contract (the suite a third-party plugin runs on itself too)."""

from __future__ import annotations

import pytest
from jepa_platform.domain.registry import domain_entry_points
from jepa_platform.testing import check_domain

# Demo settings that keep each built-in domain's demo data to seconds; other domains run with their own demo.
SMALL_DEMOS = {
    "ecg": {"data": {"demo_records": 24}},
    "eeg": {"data": {"demo_patients": 4}},
    "sar": {"data": {"demo_per_class": 4, "size": 32, "patch": 8, "radii": [1, 3]}, "masking": {"min_context": 2}},
    "tabular": {"data": {"demo_table": "wine"}},
    "action": {"data": {"demo_episodes": 10}},
}


@pytest.mark.parametrize("name", sorted(domain_entry_points()))
def test_domain_keeps_the_plugin_contract(name):
    check_domain(name, SMALL_DEMOS.get(name))
