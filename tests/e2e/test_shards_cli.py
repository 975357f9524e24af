"""Prepared shards through the command line, as a user runs it: files in the real formats -> ``prepare`` ->
``pretrain`` -> ``probe``, for every domain with ``prepare``; a set smaller than the readers' batches."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import wfdb
from jepa_platform.cli import main
from jepa_platform.pretrain import speed

from tests.helpers import RECIPES, run_cli
from tests.real_files import write_mstar, write_ptbxl, write_tuab

TINY = [
    "--model.preset", "vit_tiny", "--model.embed_dim", "32", "--model.depth", "1", "--model.num_heads", "2",
    "--model.predictor_dim", "16", "--model.predictor_depth", "1", "--model.predictor_heads", "2",
    "--trainer.batch_size", "8", "--trainer.num_workers", "0",
]
DOMAINS = {  # writer, data settings for prepare, downstream recipe, its task settings, the metric
    "ecg": (write_ptbxl, ["--data.sampling_rate", "100", "--data.patch_ms", "100"], "ecg/ptbxl-all.yaml", [],
            "macro_auc"),
    "eeg": (write_tuab, ["--data.sampling_rate", "100", "--data.l_freq", "0.5", "--data.h_freq", "40",
                         "--data.notch_freq", "null", "--data.window_seconds", "4", "--data.hop_seconds", "4",
                         "--data.val_percent", "50"], "eeg/tuab.yaml", [], "balanced_accuracy"),
    "sar": (write_mstar, ["--data.size", "32", "--data.patch", "8", "--data.radii", "[1, 3]"], "sar/mstar-soc.yaml",
            ["--task.shots", "2", "--task.val_per_class", "2"], "accuracy"),
}


@pytest.mark.parametrize("domain", list(DOMAINS))
def test_prepare_pretrain_and_probe_from_shards(domain, tmp_path):
    write, data, recipe, task, metric = DOMAINS[domain]
    raw, shards, run, probe = write(tmp_path / "raw"), tmp_path / "shards", tmp_path / "run", tmp_path / "probe"
    prepared = run_cli("prepare", "--domain", domain, "--data", str(raw), *data, "--out", str(shards),
                       "--shard-size", "16", cwd=tmp_path)
    assert prepared.returncode == 0, prepared.stderr[-3000:]
    assert "Prepared " in prepared.stdout and "test " in prepared.stdout  # the held-out split is in the shards
    masking = ["--masking.min_context", "2"] if domain == "sar" else []
    pretrained = run_cli("pretrain", "--domain", domain, "--data", str(shards), "--out", str(run), "--max-steps", "2",
                         *TINY, *masking, cwd=tmp_path)
    assert pretrained.returncode == 0, pretrained.stderr[-3000:]
    assert f"{domain} shards: " in pretrained.stderr
    probed = run_cli("probe", "--recipe", str(RECIPES / recipe), "--checkpoint", str(run / "checkpoints" / "last.ckpt"),
                     "--out", str(probe), "--probe.max_epochs", "1", "--trainer.num_workers", "0", *task, cwd=tmp_path)
    assert probed.returncode == 0, probed.stderr[-3000:]
    results = json.loads((probe / "results.json").read_text())
    assert results["data"] == str(shards) and results["metric"] == metric
    assert np.isfinite(results["value"]) and 0.0 <= results["value"] <= 1.0
    assert min(results["examples"].values()) > 0


def one_record(folder: Path, seconds: int) -> Path:
    """A 2-lead 360 Hz WFDB record (format 212): ``seconds`` // 10 windows of 10 s."""
    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(seconds * 360) / 360
    beats = np.exp(-0.5 * ((t % 0.8 - 0.4) / 0.012) ** 2)
    signal = np.stack([beats, -0.5 * beats], axis=1) + 0.02 * np.random.default_rng(0).standard_normal((len(t), 2))
    wfdb.wrsamp("100", fs=360, units=["mV", "mV"], sig_name=["MLII", "V5"], p_signal=signal, fmt=["212", "212"],
                adc_gain=[200.0, 200.0], baseline=[1024, 1024], write_dir=str(folder))
    return folder


@pytest.fixture(scope="module")
def small_shards(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("small")
    out = folder / "shards"
    assert main(["prepare", "--domain", "ecg", "--data", str(one_record(folder / "rec", 290)), "--out", str(out),
                 "--data.sampling_rate", "100", "--workers", "1"]) == 0
    return out


def test_a_29_sample_shard_set_pretrains_with_two_readers(small_shards, tmp_path):
    run = tmp_path / "run"
    result = run_cli("pretrain", "--domain", "ecg", "--data", str(small_shards), "--out", str(run), "--max-steps", "2",
                     *TINY, "--trainer.batch_size", "64", "--trainer.num_workers", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ecg shards: 27 training samples, 2 validation samples" in result.stderr  # the record's last 5 %
    assert ("ecg shards: 27 training samples over 2 readers (processes x trainer.num_workers) would leave fewer than "
            "trainer.batch_size=27 to each; reading with 1 loader worker per process") in result.stderr
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 2


def test_pretraining_on_a_slow_cpu_says_so_before_training(small_shards, tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(speed, "matmul_speed", lambda: 1e6)  # a machine a million times slower than a laptop
    args = ["pretrain", "--domain", "ecg", "--data", str(small_shards), "--max-steps", "1", *TINY]
    with caplog.at_level("INFO"):
        assert main([*args, "--out", str(tmp_path / "run")]) == 0
    lines = [record.getMessage() for record in caplog.records if "no GPU found" in record.getMessage()]
    assert len(lines) == 1 and "ecg: no GPU found; a pretraining step of 8 samples takes about" in lines[0]
    assert "for a quick try: --trainer.batch_size " in lines[0]  # the model is smaller than the demo's already
