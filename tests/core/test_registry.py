"""Domains come from the entry-point group, built-in and third-party alike."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import torch
from jepa_platform.domain.registry import ENTRY_POINT_GROUP, domain_entry_points, list_domains, load_domain
from jepa_platform.errors import JepaError

from tests.helpers import FIXTURES, run_cli

TOY = FIXTURES / "toy_domain"


def test_builtin_ecg_is_registered_through_the_entry_point():
    entry = domain_entry_points()["ecg"]
    assert entry.group == ENTRY_POINT_GROUP and entry.value == "jepa_domains.ecg:plugin"
    assert load_domain("ecg").name == "ecg"
    assert ("ecg", load_domain("ecg").description) in list_domains()


def test_unknown_domain_lists_the_available_ones():
    with pytest.raises(JepaError, match=r"unknown domain 'audio'; available domains: .*ecg"):
        load_domain("audio")


@pytest.fixture
def installed_toy_domain():
    """``pip install -e`` the fixture package into this environment, and remove it afterwards."""
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "--no-deps", "--no-build-isolation", "-e", str(TOY)], check=True)
    try:
        yield
    finally:
        subprocess.run([*pip, "uninstall", "-y", "jepa-toy-domain"], check=True)


@pytest.mark.slow
def test_a_third_party_domain_is_listed_and_runs(installed_toy_domain, tmp_path):
    listed = run_cli("domains", "list")
    assert listed.returncode == 0
    assert re.search(r"^toy +noisy sine waves \(test fixture of a third-party plugin\)$", listed.stdout, re.M)

    out = tmp_path / "toy-run"
    result = run_cli("pretrain", "--domain", "toy", "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "finished after 5 steps" in result.stdout
    assert torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 5

    unknown = run_cli("pretrain", "--domain", "nope", "--print-config")
    assert unknown.returncode == 2 and "available domains: action, ecg, eeg, lidar, sar, tabular, toy" in unknown.stderr
