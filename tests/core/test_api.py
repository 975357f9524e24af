"""The Python API: ``jepa_platform.pretrain / probe / finetune / export / load_encoder``."""

from __future__ import annotations

import json
import os

import jepa_platform
import pytest
import yaml
from jepa_platform.config import recipe_overrides

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
    # 3 steps of a 5-step epoch: validated and probed once at the end, and the summary says so
    assert "val/loss" in run.metrics and "probe/val_auc" in run.metrics
    expected = "no validation before training ended: validated and probed once, at step 3"
    assert any(expected in note for note in run.notes)

    exported = jepa_platform.export(run.checkpoint, tmp_path / "export")
    assert json.loads((exported / "config.json").read_text())["domain"] == "ecg"

    results = jepa_platform.probe(
        domain="ecg", task={"name": "rhythm"}, checkpoint=run.out, out=tmp_path / "probe",
        probe={"head": "linear", "max_epochs": 1}, trainer={"batch_size": 8, "num_workers": 0},
    )
    assert results["init"] == "pretrained" and results["metric"] in results["test"]
    assert json.loads((tmp_path / "probe" / "results.json").read_text())["value"] == results["value"]
    assert (tmp_path / "probe" / "plots" / "training.png").is_file()

    from mlflow.tracking import MlflowClient

    client = MlflowClient(run.tracking_uri)  # one store for the folder of runs: both runs are in it
    saved = json.loads((tmp_path / "probe" / "run.json").read_text())
    assert saved["tracking_uri"] == run.tracking_uri == f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"
    probe_run = client.get_run(saved["run_id"])
    assert probe_run.data.tags["jepa.pretraining_run_id"] == run.run_id
    assert probe_run.data.tags["mlflow.parentRunId"] == run.run_id and probe_run.data.tags["jepa.command"] == "probe"
    assert probe_run.info.experiment_id == client.get_run(run.run_id).info.experiment_id
    final = json.loads((run.out / "run.json").read_text())["final"]  # what 'select' reads without MLflow
    assert final["metrics"] == client.get_run(run.run_id).data.metrics and final["steps"] == 3
    assert final["method"] == yaml.safe_load(run.config.read_text())["objective"]["kind"]
    assert len(client.get_metric_history(saved["run_id"], "train/loss")) >= 1  # one epoch logs a point


@pytest.mark.parametrize(("overrides", "line"), [
    ({"trainer.max_steps": 0}, "recipe key 'trainer.max_steps': must be at least 1 (got 0)"),
    ({"optim.warmup_fraction": 1.5}, "recipe key 'optim.warmup_fraction': must lie in [0, 1), got 1.5"),
    ({"objective.sigreg.weight": 2.0}, "recipe key 'objective.sigreg.weight': (lambda) must lie in [0, 1]"),
])
def test_a_check_across_the_keys_of_a_section_names_the_offending_key(overrides, line):
    with pytest.raises(jepa_platform.JepaError) as error:
        jepa_platform.pretrain_recipe("ecg", **overrides)
    assert str(error.value).startswith(line)


def test_auto_loader_workers_share_the_cores_among_the_processes_and_keep_one_each(monkeypatch):
    from jepa_platform.runs.folder import auto_workers

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)), raising=False)
    assert [auto_workers(processes)[0] for processes in (1, 2, 8, 16)] == [15, 7, 1, 0]
    assert auto_workers(2)[1] == (
        "trainer.num_workers auto: 7 loader workers per process "
        "(16 CPU cores for 2 training processes on this node, one core each kept for the process itself)"
    )
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert auto_workers(1)[0] == 0  # one core: the training process loads


def test_loader_workers_are_capped_at_the_cpu_cores_with_one_message(caplog):
    from jepa_platform.runs.folder import usable_workers

    with caplog.at_level("WARNING", logger="jepa_platform"):
        cores = usable_workers(100_000)
        assert usable_workers(0) == 0 and usable_workers(1) == 1
    assert 1 <= cores < 100_000
    assert [r.getMessage() for r in caplog.records] == [
        f"trainer.num_workers 100000 is more than the {cores} CPU core(s) here; loading with {cores} worker(s)"
    ]
