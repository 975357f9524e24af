"""The Python API: ``jepa_platform.pretrain / probe / finetune / export / load_encoder``."""

from __future__ import annotations

import json

import jepa_platform
import pytest
import yaml
from jepa_platform.api import recipe_overrides

TINY = {"model": {"preset": "vit_tiny", "depth": 1, "predictor_depth": 1},
        "trainer": {"batch_size": 8, "num_workers": 0}, "data.demo_records": 40}


def test_the_api_names_show_in_dir():
    assert {"pretrain", "probe", "finetune", "export", "load_encoder", "__version__"} <= set(dir(jepa_platform))


def test_keyword_overrides_nest_dotted_keys_and_the_data_path():
    nested = recipe_overrides({"seed": 3, "model": {"depth": 2}, "model.embed_dim": 64}, data="/tmp/x")
    assert nested == {"seed": 3, "model": {"depth": 2, "embed_dim": 64}, "data": {"path": "/tmp/x"}}
    assert recipe_overrides({"data.target": "y"}, data=["a.csv"]) == {"data": {"target": "y", "path": "a.csv"}}
    assert recipe_overrides({}, data={"path": "a", "sampling_rate": 250}) == {"data": {"path": "a", "sampling_rate": 250}}


def test_a_bad_override_is_one_error_naming_the_key():
    with pytest.raises(jepa_platform.JepaError, match="model.depht"):
        jepa_platform.pretrain_recipe("ecg", **{"model.depht": 2})


def test_pretrain_probe_and_export_from_python(tmp_path):
    run = jepa_platform.pretrain(domain="ecg", out=tmp_path / "run", **{**TINY, "trainer.max_steps": 3})
    assert run.steps == 3 and run.checkpoint.is_file()
    assert yaml.safe_load(run.config.read_text())["model"]["depth"] == 1
    assert "train/loss" in run.metrics

    exported = jepa_platform.export(run.checkpoint, tmp_path / "export")
    assert json.loads((exported / "config.json").read_text())["domain"] == "ecg"

    results = jepa_platform.probe(
        domain="ecg", task={"name": "rhythm"}, checkpoint=run.out, out=tmp_path / "probe",
        probe={"head": "linear", "max_epochs": 1}, trainer={"batch_size": 8, "num_workers": 0},
    )
    assert results["init"] == "pretrained" and results["metric"] in results["test"]
    assert json.loads((tmp_path / "probe" / "results.json").read_text())["value"] == results["value"]
