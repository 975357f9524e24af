"""A pretraining run logged to a real ``mlflow server`` on localhost through ``MLFLOW_TRACKING_URI``."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import TINY_ECG, cli_env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, server: subprocess.Popen, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"mlflow server exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"mlflow server at {url} did not answer within {timeout:.0f} s")


@pytest.fixture
def mlflow_server(tmp_path: Path):
    """``mlflow server`` on a free localhost port, with a sqlite store and artifacts under ``tmp_path``."""
    port = free_port()
    command = [
        str(Path(sys.executable).parent / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port),
        "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
        "--artifacts-destination", str(tmp_path / "server-artifacts"), "--workers", "1",
    ]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=cli_env(),
                              start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, server)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server and its worker processes
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


@pytest.mark.slow
def test_pretraining_logs_params_metrics_artifacts_and_tags_to_a_tracking_server(mlflow_server, tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    out = tmp_path / "runs" / "ecg"
    env = {**cli_env(), "MLFLOW_TRACKING_URI": mlflow_server}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "jepa-platform"), "pretrain", "--domain", "ecg", "--out", str(out),
         "--max-steps", "2", "--data.demo_records", "40", *TINY_ECG, "--trainer.log_checkpoint", "true"],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    saved = json.loads((out / "run.json").read_text())
    assert saved["tracking_uri"] == mlflow_server
    assert not (tmp_path / "runs" / "mlflow.db").exists()  # nothing went to a local store

    client = MlflowClient(tracking_uri=mlflow_server)
    run = client.get_run(saved["run_id"])
    assert run.data.params["model.depth"] == "2" and run.data.params["trainer.max_steps"] == "2"
    assert "train/loss" in run.data.metrics and "monitor/rankme" in run.data.metrics
    from jepa_platform import __version__

    assert run.data.tags["jepa.version"] == __version__ and run.data.tags["jepa.command"] == "pretrain"
    assert run.data.tags["jepa.plugin_version"] and "jepa_domains.ecg" in run.data.tags["jepa.plugin"]
    assert client.get_experiment(run.info.experiment_id).name == "jepa-platform/ecg"
    artifacts = {item.path for item in client.list_artifacts(run.info.run_id)}
    assert {"config.yaml", "training.png", "checkpoints"} <= artifacts
    assert [item.path for item in client.list_artifacts(run.info.run_id, "checkpoints")] == ["checkpoints/last.ckpt"]
