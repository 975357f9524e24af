"""The command line as a user runs it: in a subprocess, on demo data and on foreign WFDB records."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import mlflow
import numpy as np
import pytest
import torch
import wfdb
import yaml
from jepa_platform.cli import main

from tests.helpers import CLI, TINY_ECG, cli_env, run_cli, sound_checkpoint


def mitbih_like_record(folder: Path, seconds: int = 300) -> Path:
    """A 2-signal 360 Hz record in format 212 with MIT-BIH's lead names (MLII, V5)."""
    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(seconds * 360) / 360
    beats = np.exp(-0.5 * ((t % 0.8 - 0.4) / 0.012) ** 2)
    rng = np.random.default_rng(0)
    signal = np.stack([beats * 1.2, -beats * 0.6], axis=1) + 0.02 * rng.standard_normal((len(t), 2))
    wfdb.wrsamp(
        "100", fs=360, units=["mV", "mV"], sig_name=["MLII", "V5"], p_signal=signal,
        fmt=["212", "212"], adc_gain=[200.0, 200.0], baseline=[1024, 1024], write_dir=str(folder),
    )
    return folder


def metric_history(out: Path, key: str) -> list[float]:
    saved = yaml.safe_load((out / "run.json").read_text())
    client, run_id = mlflow.tracking.MlflowClient(tracking_uri=saved["tracking_uri"]), saved["run_id"]
    return [m.value for m in sorted(client.get_metric_history(run_id, key), key=lambda m: m.step)]


def test_domains_list_shows_ecg():
    result = run_cli("domains", "list")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == sorted(line.split()[0] for line in lines)  # listed by name
    assert any(line.startswith("ecg ") and "12-lead ECG" in line for line in lines)


@pytest.mark.slow
def test_demo_pretraining_end_to_end(tmp_path):
    out = tmp_path / "run"
    result = run_cli(
        "pretrain", "--domain", "ecg", "--out", str(out), "--max-steps", "40", "--data.demo_records", "60",
        *TINY_ECG, "--optim.lr", "2e-3",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"checkpoint: {out / 'checkpoints' / 'last.ckpt'}" in result.stdout
    assert f"config:     {out / 'config.yaml'}" in result.stdout
    assert "MLflow run:" in result.stdout and "samples_per_s" in result.stdout  # the progress bar
    checkpoint = torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["global_step"] == 40
    assert yaml.safe_load((out / "config.yaml").read_text())["trainer"]["max_steps"] == 40
    losses = metric_history(out, "train/loss")
    assert len(losses) >= 3 and np.mean(losses[-2:]) < losses[0], losses
    assert metric_history(out, "train/samples_per_s")[-1] > 0
    assert metric_history(out, "train/sigreg")  # the demo's objective
    # the run shows its value against a random-init encoder: both probes at each validation and at the end
    assert "linear probe AUC" in result.stdout and "(random-init encoder " in result.stdout
    trained, initial = metric_history(out, "probe/val_auc"), metric_history(out, "probe/random_init_val_auc")
    assert len(trained) == len(initial) >= 2 and all(0 < value < 1 for value in trained + initial)
    assert len(set(initial)) == 1  # the random-init encoder is scored once, then drawn as a reference line
    assert "with max pooling" in result.stdout and len(metric_history(out, "probe/pooling_max/val_auc")) == 1
    assert metric_history(out, "monitor/random_init_rankme") and (out / "plots" / "training.png").is_file()


@pytest.mark.slow
def test_pretraining_on_a_foreign_wfdb_folder(tmp_path):
    data = mitbih_like_record(tmp_path / "mitdb")
    out = tmp_path / "run"
    result = run_cli("pretrain", "--domain", "ecg", "--data", str(data), "--max-steps", "20", "--out", str(out), *TINY_ECG)
    assert result.returncode == 0, result.stderr[-3000:]
    # 300 s at 10 s windows, one record: validation is its last 5% of windows
    assert "ecg data: validation: the last 5% of each recording's windows (2 of 30)" in result.stderr
    assert "ecg data: 28 training samples, 2 validation samples" in result.stderr
    assert "absent ECG leads" in result.stderr  # 10 of 12 leads are missing
    assert torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 20


@pytest.mark.slow
def test_a_killed_run_resumes_with_the_same_step_count(tmp_path):
    out = tmp_path / "run"
    args = ["pretrain", "--domain", "ecg", "--out", str(out), "--data.demo_records", "60", *TINY_ECG]
    log = tmp_path / "first-run.log"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [CLI, *args, "--max-steps", "1000", "--trainer.checkpoint_every_n_steps", "3"],
            stdout=subprocess.DEVNULL, stderr=stderr, env=cli_env(),
        )
        checkpoint = out / "checkpoints" / "last.ckpt"
        deadline = time.time() + 600  # generous: the suite runs beside other CLI processes on two cores
        while not checkpoint.exists() and time.time() < deadline and process.poll() is None:
            time.sleep(0.5)
        exit_code = process.poll()
        time.sleep(2)
        process.send_signal(signal.SIGKILL)
        process.wait()
    why = f"exited with {exit_code}" if exit_code is not None else "still running after 600 s"
    sound = sound_checkpoint(out)  # a kill while last.ckpt is replaced leaves previous.ckpt alone
    assert sound.exists(), f"no checkpoint before the kill; the run {why}:\n{log.read_text()[-3000:]}"
    saved_step = torch.load(sound, weights_only=True)["global_step"]
    assert saved_step % 3 == 0 and saved_step > 0

    again = run_cli(*args, "--max-steps", "1000")
    assert again.returncode == 2 and "already holds a run" in again.stderr  # nothing is overwritten

    resumed = run_cli("pretrain", "--out", str(out), "--resume", "--max-steps", str(saved_step + 4))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"finished after {saved_step + 4} steps" in resumed.stdout
    assert torch.load(checkpoint, weights_only=True)["global_step"] == saved_step + 4
    assert not list(checkpoint.parent.glob(".*.tmp"))

    at_its_end = run_cli("pretrain", "--out", str(out), "--resume", "--max-steps", str(saved_step + 4))
    assert at_its_end.returncode == 0, at_its_end.stderr[-3000:]  # validates and probes once more, trains nothing
    assert f"finished after {saved_step + 4} steps" in at_its_end.stdout and "linear probe AUC" in at_its_end.stdout
    assert f"no validation since the run resumed: validated and probed once, at step {saved_step + 4}" in (
        at_its_end.stdout)


def test_unknown_recipe_key_exits_nonzero_with_the_key():
    result = run_cli("pretrain", "--domain", "ecg", "--model.dept", "4", "--print-config")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: unknown recipe key 'model.dept' (did you mean 'model.depth'?)"


def test_print_config_is_the_resolved_recipe(capsys):
    assert main(["pretrain", "--domain", "ecg", "--max-steps", "7", "--seed", "3", "--print-config"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["trainer"]["max_steps"] == 7 and printed["seed"] == 3 and printed["domain"] == "ecg"


@pytest.mark.parametrize(
    "setup, message",
    [
        (lambda d: d.mkdir(), "holds no WFDB records"),
        (lambda d: None, "does not exist"),
    ],
    ids=["empty-folder", "missing-folder"],
)
def test_bad_data_paths_fail_clearly_and_write_nothing(tmp_path, capsys, setup, message):
    data, out = tmp_path / "data", tmp_path / "run"
    setup(data)
    code = main(["pretrain", "--domain", "ecg", "--data", str(data), "--out", str(out), "--max-steps", "2"])
    err = capsys.readouterr().err
    assert code == 2 and message in err and str(data) in err
    assert not out.exists(), "a failed start leaves no run folder"


def test_truncated_signal_file_names_the_file(tmp_path, capsys):
    data = mitbih_like_record(tmp_path / "mitdb", seconds=20)
    dat = data / "100.dat"
    dat.write_bytes(dat.read_bytes()[:1000])
    code = main(["pretrain", "--domain", "ecg", "--data", str(data), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and f"{dat}: signal file is truncated" in err


def test_header_listing_fewer_signals_than_declared(tmp_path, capsys):
    data = mitbih_like_record(tmp_path / "mitdb", seconds=20)
    header = data / "100.hea"
    lines = header.read_text().splitlines()
    header.write_text("\n".join(lines[:2]) + "\n")  # declares 2 signals, lists 1
    code = main(["pretrain", "--domain", "ecg", "--data", str(data), "--out", str(tmp_path / "run")])
    assert code == 2 and "declares 2 signals but lists only 1" in capsys.readouterr().err


def test_resume_without_a_run_is_an_error(tmp_path, capsys):
    code = main(["pretrain", "--out", str(tmp_path / "nothing"), "--resume"])
    assert code == 2 and "nothing to resume" in capsys.readouterr().err
