"""Runs that survive what users do to them, through the command line in subprocesses: two runs into one folder,
SIGTERM, corrupt checkpoints, a process killed before its first checkpoint, a diverging loss."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import mlflow
import pytest
import torch
from jepa_platform.cli import main

from tests.helpers import CLI, TINY_ECG, cli_env, run_cli, sound_checkpoint

FAST = [*TINY_ECG, "--data.demo_records", "60", "--monitor.samples", "32"]


def mlflow_run(out: Path):
    record = json.loads((out / "run.json").read_text())
    return mlflow.tracking.MlflowClient(tracking_uri=record["tracking_uri"]).get_run(record["run_id"])


def start(out: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [CLI, "pretrain", "--domain", "ecg", "--out", str(out), *FAST, *args],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=cli_env(),
    )


def wait_for(path: Path, process: subprocess.Popen, timeout: float = 240) -> None:
    deadline = time.time() + timeout
    while not path.exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.2)
    assert path.exists(), f"{path} never appeared"


def last_line(stderr: str) -> str:
    return stderr.strip().splitlines()[-1]


@pytest.mark.slow
def test_a_second_run_into_a_busy_folder_stops_and_sigterm_checkpoints_then_a_corrupt_checkpoint_falls_back(tmp_path):
    out = tmp_path / "run"
    first = start(out, "--max-steps", "1000", "--trainer.checkpoint_every_n_steps", "2")
    wait_for(out / ".run.lock", first)
    second = run_cli("pretrain", "--domain", "ecg", "--out", str(out), "--max-steps", "2", *FAST)
    assert second.returncode == 2
    assert last_line(second.stderr).startswith(f"error: {out} is in use by the run of PID {first.pid} on ")

    wait_for(out / "checkpoints" / "previous.ckpt", first)  # two checkpoints written
    first.send_signal(signal.SIGTERM)
    _, stderr = first.communicate(timeout=120)
    assert first.returncode == 128 + signal.SIGTERM, stderr[-2000:]
    line = last_line(stderr)
    assert line.startswith("error: stopped by SIGTERM at step ") and "continue with --resume" in line
    stopped_at = int(line.split("at step ")[1].split(";")[0])
    last = out / "checkpoints" / "last.ckpt"
    assert torch.load(last, weights_only=True)["global_step"] == stopped_at  # written at the step boundary
    run = mlflow_run(out)
    assert run.info.status == "KILLED" and run.data.tags["stopped_by"] == "SIGTERM"
    assert not (out / ".run.lock").exists()

    previous = out / "checkpoints" / "previous.ckpt"
    previous_step = torch.load(previous, weights_only=True)["global_step"]
    last.write_bytes(last.read_bytes()[:5000])  # truncated
    resumed = run_cli("pretrain", "--out", str(out), "--resume", "--max-steps", str(stopped_at + 2))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"{last} is unusable (its content does not match the recorded hash" in resumed.stderr
    assert f"resuming from the previous checkpoint {previous}" in resumed.stderr
    assert f"finished after {stopped_at + 2} steps" in resumed.stdout
    assert torch.load(last, weights_only=True)["global_step"] == stopped_at + 2
    assert torch.load(previous, weights_only=True)["global_step"] >= previous_step  # the corrupt file was dropped
    assert mlflow_run(out).info.status == "FINISHED"

    for path, damage in ((last, b""), (previous, os.urandom(4096))):
        path.write_bytes(damage)
    broken = run_cli("pretrain", "--out", str(out), "--resume", "--max-steps", str(stopped_at + 4))
    assert broken.returncode == 2
    assert broken.stderr.strip() == (
        f"error: --resume: cannot read {last} (the file is empty) nor {previous} (its content does not match "
        "the recorded hash (corrupt or truncated)); nothing to resume from"
    )
    assert mlflow_run(out).info.status == "FINISHED"  # a finished run is never marked FAILED


@pytest.mark.slow
def test_a_run_killed_before_its_first_checkpoint_is_marked_failed_at_the_next_start(tmp_path):
    out = tmp_path / "run"
    killed = start(out, "--max-steps", "1000", "--trainer.checkpoint_every_n_steps", "1000")
    wait_for(out / "run.json", killed)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    dead = mlflow_run(out).info.run_id
    uri = json.loads((out / "run.json").read_text())["tracking_uri"]
    assert mlflow_run(out).info.status == "RUNNING" and (out / ".run.lock").exists()  # what kill -9 leaves

    again = run_cli("pretrain", "--domain", "ecg", "--out", str(out), "--max-steps", "2", *FAST)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"taking over the lock of a run that no longer runs (PID {killed.pid} on " in again.stderr
    assert f"MLflow run {dead} ended without finishing (its process died); marked FAILED" in again.stderr
    client = mlflow.tracking.MlflowClient(tracking_uri=uri)
    assert client.get_run(dead).info.status == "FAILED"
    assert mlflow_run(out).info.status == "FINISHED" and mlflow_run(out).info.run_id != dead


@pytest.mark.slow
def test_a_non_finite_loss_stops_the_run_with_one_line_and_tags_the_step(tmp_path):
    out = tmp_path / "run"
    result = run_cli(
        "pretrain", "--domain", "ecg", "--out", str(out), "--max-steps", "12", *FAST,
        "--optim.lr", "1e25", "--optim.start_lr", "1e25", "--trainer.checkpoint_every_n_steps", "1",
    )
    assert result.returncode == 3, result.stderr[-3000:]
    line = last_line(result.stderr)
    assert line.startswith("error: the loss became nan at step ") and "nonfinite_loss_skips" in line
    step = int(line.split("at step ")[1].split(" ")[0])
    run = mlflow_run(out)
    assert run.info.status == "FAILED" and run.data.tags["nonfinite_loss.step"] == str(step)
    assert torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == step  # none after it
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "make_out, message",
    [
        (lambda tmp: Path("/proc/jepa-run"), "cannot create the run folder: No such file or directory"),
        (lambda tmp: (tmp / "file").touch() or tmp / "file", "is a file, not a folder; choose another --out"),
        (lambda tmp: (tmp / "file").touch() or tmp / "file" / "run", "file is a file, not a folder"),
    ],
    ids=["proc", "existing-file", "file-as-parent"],
)
def test_unwritable_out_is_one_line_before_any_data_is_read(tmp_path, capsys, monkeypatch, make_out, message):
    from jepa_platform.data.datamodule import JEPADataModule

    monkeypatch.setattr(JEPADataModule, "prepare_data", lambda self: pytest.fail("data read before --out was checked"))
    out = make_out(tmp_path)
    assert main(["pretrain", "--domain", "ecg", "--out", str(out), "--max-steps", "2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and str(out) in err


def test_a_run_left_with_only_its_previous_checkpoint_is_not_started_over(tmp_path, capsys):
    # what a kill between moving last.ckpt aside and writing its successor leaves
    previous = tmp_path / "run" / "checkpoints" / "previous.ckpt"
    previous.parent.mkdir(parents=True)
    previous.write_bytes(b"the run's only checkpoint")
    assert main(["pretrain", "--domain", "ecg", "--out", str(tmp_path / "run"), "--max-steps", "2"]) == 2
    assert "already holds a run; pass --resume to continue it" in capsys.readouterr().err
    assert previous.read_bytes() == b"the run's only checkpoint"


def curve(out: Path, key: str) -> dict[int, float]:
    """``step -> value`` of a metric; for a step logged twice (before and after a resume), the later value."""
    record = json.loads((out / "run.json").read_text())
    client = mlflow.tracking.MlflowClient(tracking_uri=record["tracking_uri"])
    history = sorted(client.get_metric_history(record["run_id"], key), key=lambda m: (m.step, m.timestamp))
    return {m.step: m.value for m in history}


@pytest.mark.slow
def test_kill_9_and_resume_gives_the_curves_of_an_uninterrupted_run(tmp_path):
    steps = ["--max-steps", "24", "--trainer.checkpoint_every_n_steps", "4", "--trainer.log_every_n_steps", "1"]
    whole = run_cli("pretrain", "--domain", "ecg", "--out", str(tmp_path / "whole"), *FAST, *steps)
    assert whole.returncode == 0, whole.stderr[-3000:]

    out = tmp_path / "killed"
    killed = start(out, *steps)
    wait_for(out / "checkpoints" / "previous.ckpt.sha256", killed)  # two checkpoints written, the run goes on
    time.sleep(0.2)  # between checkpoints: killed at once, so a fast machine has not finished the run
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    saved = torch.load(sound_checkpoint(out), weights_only=True)["global_step"]
    assert 0 < saved < 24
    resumed = run_cli("pretrain", "--out", str(out), "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "cannot be resumed" not in resumed.stderr and "fast-forward" not in resumed.stderr

    for key in ("train/loss", "train/lr", "val/loss"):
        expected, got = curve(tmp_path / "whole", key), curve(out, key)
        # a kill between writing a checkpoint and logging its step's metrics loses that one step's values
        assert set(expected) - set(got) <= {saved - 1} and set(got) <= set(expected), key
        for step, value in got.items():
            assert value == pytest.approx(expected[step], rel=1e-5, abs=1e-6), (key, step, saved)
    assert mlflow_run(out).data.tags["resumed_from_steps"] == str(saved)
    assert mlflow_run(out).info.status == "FINISHED"

    # a finished run extended: the learning rate goes on from where it was, never jumping back up
    longer = run_cli("pretrain", "--out", str(tmp_path / "whole"), "--resume", "--max-steps", "28")
    assert longer.returncode == 0, longer.stderr[-3000:]
    lr = curve(tmp_path / "whole", "train/lr")
    assert sorted(lr) == list(range(28))
    tail = [lr[step] for step in range(23, 28)]
    assert all(later <= earlier * (1 + 1e-6) for earlier, later in zip(tail, tail[1:])), tail


@pytest.mark.slow
def test_on_bad_file_skip_trains_past_a_broken_record_and_counts_it(tmp_path):
    from tests.e2e.test_cli import mitbih_like_record

    data = tmp_path / "records"
    for name in ("a", "b", "c"):
        mitbih_like_record(data / name, seconds=60)
    broken = data / "b" / "100.dat"
    broken.write_bytes(broken.read_bytes()[:1000])
    args = ["pretrain", "--domain", "ecg", "--data", str(data), "--max-steps", "2", *TINY_ECG]

    failed = run_cli(*args, "--out", str(tmp_path / "strict"))
    assert failed.returncode == 2 and last_line(failed.stderr).startswith(f"error: {broken}: signal file is truncated")

    out = tmp_path / "run"
    skipped = run_cli(*args, "--out", str(out), "--data.on_bad_file", "skip")
    assert skipped.returncode == 0, skipped.stderr[-3000:]
    assert f"skipped 1 of 3 ECG records that could not be read (data.on_bad_file: skip); the first: {broken}" in (
        skipped.stderr
    )
    assert mlflow_run(out).data.metrics["data/bad_files_skipped"] == 1
