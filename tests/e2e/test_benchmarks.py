"""Smoke tests of benchmarks/: every script runs end to end at a tiny size on the CPU, so a change that breaks one
fails here. Timings and scores mean nothing at this size: the tests check that the tables and results are there and
well-formed (and that step.py's plain loop reproduces the platform's first loss), not their values."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import CLI, ROOT, cli_env

OBJECTIVE_RUNS = ["ema", "ema-lr-3e-3", "sigreg"]


def numbers(pattern: str, text: str) -> list[float]:
    """The floats captured by ``pattern``'s groups (thousands separators dropped); fails when it does not match."""
    match = re.search(pattern, text)
    assert match, f"no match for {pattern!r} in:\n{text[-3000:]}"
    return [float(group.replace(",", "")) for group in match.groups()]


def check_step(out: str, tmp_path: Path) -> None:
    platform, plain = numbers(r"step-0 loss platform ([\d.]+), plain ([\d.]+)", out)
    assert platform == plain > 0  # the plain loop reproduces the platform's first step
    assert numbers(r"\| platform \(Trainer\.fit\) \| [\d.]+ \| [\d.]+ \| ([\d.]+) \|", out)[0] > 0
    assert numbers(r"\| plain PyTorch loop \| [\d.]+ \| [\d.]+ \| ([\d.]+) \|", out)[0] > 0
    assert numbers(r"platform / plain = ([\d.]+)", out)[0] > 0


def check_gpu_pretrain(out: str, tmp_path: Path) -> None:
    assert "model: vit_small, depth 1, predictor depth 1, objective ema, 200 tokens" in out
    assert numbers(r"model FLOPs: ([\d.]+) GFLOP/sample", out)[0] > 0
    assert "MFU against an unknown peak" in out  # no peak is known for a CPU
    samples, milliseconds, tflops, operators, kernels = numbers(
        r"\| eager \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| n/a \| n/a \| (\d+) \| (\d+) \|", out
    )
    assert samples > 0 and milliseconds > 0 and tflops >= 0 and 0 < kernels < operators
    assert "| cudagraphs | skipped: CUDA graphs need a CUDA device |" in out


def check_data(out: str, tmp_path: Path) -> None:
    assert "| reading | samples/s | ratio |" in out
    assert numbers(r"\| prepared shards: `ShardedDataset`, 1 process \| [\d,]+ \| ([\d,]+)x raw", out)[0] > 0
    assert numbers(r"\| training DataLoader on shards: batch 4, 2 workers \| [\d,]+ \| ([\d,]+)x the step", out)[0] > 0
    worker = r"\| each worker process \(reading, filling shared-memory batches\) \| ([\d,]+) \| ([\d,]+) \|"
    assert min(numbers(worker, out)) > 0  # workers that free each batch at once, and that keep it
    row = r"^\| (?:before: |now: )?`num_workers: (?:4|auto)`, batches [a-z ]+ \| (\d+) \| ([\d,]+) \|"
    (former_workers, former), (auto_workers, auto), (_, now) = (
        (int(workers), float(rate.replace(",", ""))) for workers, rate in re.findall(row, out, re.MULTILINE)
    )
    assert (former_workers, auto_workers) == (4, 15) and 0 < former <= auto and now > 0  # more workers never load less
    read_once = dict(re.findall(r"^\| ([^|]+) \| ([\d,]+) \| [\d,]+ MiB \|", out, re.MULTILINE))  # samples read once
    assert read_once == {"prepared shards": "8", "prepared shards, 10x": "80", "raw path (windows in memory)": "8"}


def check_memory(out: str, tmp_path: Path) -> None:
    assert "| model | checkpointing | peak at 1 / 2 | per sample | fixed on a GPU | largest batch in 80 GiB" in out
    for checkpointing in ("off", "on"):
        model = r"\| vit_tiny: width 192, depth 12, predictor depth 6 \([\d.]+M trained parameters\)"
        row = rf"{model} \| {checkpointing} \| ([\d,]+) / ([\d,]+) MiB \| ([\d.]+) MiB \|"
        assert min(numbers(row, out)) > 0  # both peaks and the memory per sample


def check_objectives(out: str, tmp_path: Path) -> None:
    results = json.loads((tmp_path / "objectives" / "results.json").read_text())
    assert list(results["rows"]) == OBJECTIVE_RUNS and len(results["spearman"]) == 2
    for row in results["rows"].values():
        assert set(row) == {"probe_auc", "rankme", "run_probe_auc"}
        assert 0 <= row["probe_auc"] <= 1 and row["rankme"] > 0
    assert "Spearman(RankMe, probe AUC) over the 2 EMA runs" in out
    assert all(f"| {name} | " in out for name in OBJECTIVE_RUNS)


def check_masking(out: str, tmp_path: Path) -> None:
    for case in ("2-D multi-block (I-JEPA)", "1-D spans (ECG-JEPA)", "3-D tubes (V-JEPA)"):
        row = rf"\| {re.escape(case)} \| [^|]+ \| 8 \|[^|]+\|[^|]+\| ([\d,]+) \| ([\d,]+) \| \d+× \|"
        assert min(numbers(row, out)) > 0  # engine and loop masks/s
    assert numbers(r"2-D speed-up ([\d.]+)×", out)[0] > 0
    assert numbers(r"\| CPU, 1 thread \| 2 \| (\d+) \| ([\d.]+) \|", out)[0] > 0


def sar_kshot_args(tmp_path: Path, env: dict[str, str]) -> list[str]:
    """Pretrain a one-step SAR demo checkpoint (the demo model, which the random-init runs also build)."""
    run = tmp_path / "sar"
    done = subprocess.run(
        [CLI, "pretrain", "--domain", "sar", "--max-steps", "1", "--out", str(run)],
        check=False, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return [
        "--checkpoint", str(run / "checkpoints" / "last.ckpt"), "--mode", "probe", "--shots", "1", "--seeds", "1",
        "--out", str(tmp_path / "kshot"), "--", "--probe.max_epochs", "1", "--task.val_per_class", "2",
    ]


def readout_args(tmp_path: Path, env: dict[str, str]) -> list[str]:
    """Pretrain a two-step SAR demo run whose end-of-run line the readout benchmark must reproduce."""
    run = tmp_path / "sar-run"
    done = subprocess.run(
        [CLI, "pretrain", "--domain", "sar", "--max-steps", "2", "--monitor.samples", "64", "--out", str(run)],
        check=False, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (tmp_path / "pretrain.out").write_text(done.stdout)
    return [str(run), "--threads", "1"]


def check_readout(out: str, tmp_path: Path) -> None:
    summary = (tmp_path / "pretrain.out").read_text()
    trained, initial = numbers(r"linear probe accuracy ([\d.]+) \(random-init encoder ([\d.]+)\)", summary)
    own = numbers(r"\| sar-run \| max \(the run's\) \| ([\d.]+) \| ([\d.]+) \|", out)  # the demo reads max
    assert own == pytest.approx([trained, initial], abs=1e-3)  # the run's own pooling is the monitor's probe
    for other in ("mean", "mean_std"):  # the run's end-of-run probe on the other poolings, as readout.py fits it
        at_end = numbers(rf"with {other} pooling ([\d.]+) \(random-init encoder ([\d.]+)\)", summary)
        assert numbers(rf"\| sar-run \| {other} \| ([\d.]+) \| ([\d.]+) \|", out) == pytest.approx(at_end, abs=1e-3)
    for readout in ("mean", "mean_std", "max"):
        row = rf"\| sar-run \| {readout}[^|]* \| ([\d.]+) \| ([\d.]+) \|"
        assert all(0 <= value <= 1 for value in numbers(row, out))
        assert re.search(rf"\| mean of 1 \| {readout} \| [\d.]+ ± [\d.]+ \| [\d.]+ ± [\d.]+ \| [+-][\d.]+ \|", out)


def eeg_spectra_args(tmp_path: Path, env: dict[str, str]) -> list[str]:
    """Pretrain a two-step EEG demo run on a small demo set for the spectra benchmark to measure."""
    run = tmp_path / "eeg-run"
    done = subprocess.run(
        [CLI, "pretrain", "--domain", "eeg", "--max-steps", "2", "--data.demo_patients", "16", "--model.depth", "1",
         "--model.predictor_depth", "1", "--trainer.batch_size", "8", "--monitor.samples", "32", "--out", str(run)],
        check=False, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return [str(run), "--threads", "1"]


def check_eeg_spectra(out: str, tmp_path: Path) -> None:
    probe, pretrained, random_init, overall, window = numbers(
        r"\| \S*eeg-run \| ([\d.]+) \| (-?[\d.]+) \| (-?[\d.]+) \| ([\d.]+) \| ([\d.]+) \|", out
    )
    assert 0 <= probe <= 1 and pretrained <= 1 and random_init <= 1
    assert 0 < window < overall  # each window's own average spectrum predicts its tokens better than the overall one


def check_sar_kshot(out: str, tmp_path: Path) -> None:
    for init in ("pretrained", "random"):
        assert 0 <= numbers(rf"\| 1 \| {init} \| ([\d.]+) ± 0\.000 \|", out)[0] <= 1
        assert (tmp_path / "kshot" / f"probe-{init}-1-0" / "results.json").is_file()


def check_tabular_compare(out: str, tmp_path: Path) -> None:
    assert "| task | method | init | seeds | accuracy | macro F1 | runs |" in out
    for method, init in [("HistGradientBoosting (raw columns)", "none"), ("linear probe", "T-JEPA ema"),
                         ("linear probe", "random")]:
        row = rf"\| target \(wine\) \| {re.escape(method)} \| {init} \| 1 \| ([\d.]+) \| ([\d.]+) \|"
        accuracy, f1 = numbers(row, out)
        assert 0 <= accuracy <= 1 and 0 <= f1 <= 1


def check_action_closed_loop(out: str, tmp_path: Path) -> None:
    assert "| method | return | success rate | chunk MSE, step 1 | chunk MSE, step 8 | mean chunk MSE |" in out
    for method in ("pretrained probe", "random-init probe", "plain behaviour cloning"):
        cells = numbers(rf"\| {method} \| (-?[\d.]+) ± [\d.]+ \| ([\d.]+) ± [\d.]+ \| ([\d.]+) ± [\d.]+ \|", out)
        assert cells[0] < 0 and 0 <= cells[1] <= 1 and cells[2] > 0  # Pendulum rewards are never positive


def check_quality(out: str, tmp_path: Path) -> None:
    rows = json.loads((tmp_path / "quality" / "results.json").read_text())
    assert [(row["domain"], row["objective"]) for row in rows] == [("tabular", "sigreg")]
    for key in ("random", "pretrained", "ceiling"):
        assert 0 <= rows[0][key] <= 1, key
    (saved,) = (tmp_path / "quality").rglob("ceiling.json")  # reused only by a run of the same lr, steps and pooling
    assert json.loads(saved.read_text())["steps"] == 3
    assert "| domain | objective | metric | seeds | random init | pretrained | ceiling | share closed |" in out
    assert numbers(r"\| tabular \| sigreg \| accuracy \| 1 \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|", out)
    readouts = {"mean": {"pretrained": rows[0]["pretrained"], "random": rows[0]["random"]}, **rows[0]["poolings"]}
    assert set(readouts) == {"mean", "mean_std", "max"}  # the recipe's pooling and the two its monitor scored besides
    for name, scores in readouts.items():  # each row of the readout table is the run's own scores
        shown = numbers(rf"\| tabular \| sigreg \| {name}[^|]* \| ([\d.]+) \| ([\d.]+) \| ([+-][\d.]+) \|", out)
        assert shown == pytest.approx([scores["random"], scores["pretrained"], scores["pretrained"] - scores["random"]],
                                      abs=1.5e-3), name
    best_random = max(scores["random"] for scores in readouts.values())
    best_trained = max(scores["pretrained"] for scores in readouts.values())
    best_row = r"\| tabular \| sigreg \| best of each \(random init: \w+, pretrained: \w+\) \| ([\d.]+) \| ([\d.]+) \|"
    best = numbers(best_row, out)
    assert best == pytest.approx([best_random, best_trained], abs=1e-3)


def check_quality_per_token(out: str, tmp_path: Path) -> None:
    rows = json.loads((tmp_path / "quality-lidar" / "results.json").read_text())
    assert [(row["domain"], row["objective"], row["metric"]) for row in rows] == [("lidar", "sigreg", "mean_ap")]
    for key in ("random", "pretrained", "ceiling"):
        assert 0 <= rows[0][key] <= 1, key
    assert numbers(r"\| lidar \| sigreg \| mean_ap \| 1 \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|", out)


def check_selection(out: str, tmp_path: Path) -> None:
    results = json.loads((tmp_path / "selection" / "results.json").read_text())
    assert {method: len(rows) for method, rows in results["rows"].items()} == {"ema": 3, "sigreg": 3}
    for row in results["rows"]["sigreg"]:
        assert set(row["criteria"]) == {"rankme", "low_rankme", "rankme_tokens", "lidar", "retrieval", "sigreg_loss"}
        assert 0 <= row["probe"] <= 1 and 0 <= row["criteria"].pop("retrieval") <= 1
        assert min(row["criteria"].values()) > 0
    for cells in results["spearman"].values():  # one RankMe read both ways
        assert cells["low_rankme"] is None if cells["rankme"] is None else cells["low_rankme"] == -cells["rankme"]
    assert len({json.dumps(row["overrides"], sort_keys=True) for row in results["rows"]["ema"]}) == 3  # distinct
    assert "sigreg_loss" not in results["rows"]["ema"][0]["criteria"]
    for row in results["rows"]["ema"]:
        assert set(row["seeds"]) == {"0", "1"} and set(row["seeds"]["0"]["readouts"]) == {"mean_std", "max"}
        assert row["probe"] == pytest.approx((row["seeds"]["0"]["probe"] + row["seeds"]["1"]["probe"]) / 2)
    assert "| criterion | ema | sigreg |" in out and "| label-based score | ema | sigreg |" in out
    for score in ("RankMe, pooled embeddings", "LiDAR, context-mask views",  # a correlation, or n/a for ties
                  "probe read by max pooling", "probe, seed 1 against seed 0"):
        assert re.search(rf"\| {score} \| ([+-][01]\.\d\d|n/a) \| ([+-][01]\.\d\d|n/a) \|", out), score


def check_voxelize(out: str, tmp_path: Path) -> None:
    for setting in ("KITTI voxels 0.05 × 0.05 × 0.1 m, 5 points", "demo pillars 0.5 × 0.5 × 4 m, 16 points"):
        row = rf"\| {re.escape(setting)} \| ([\d,]+) \| ([\d,]+) \| ([\d,]+) \| \d+× \|"
        assert min(numbers(row, out)) > 0  # occupied voxels, vectorized and loop points/s
        assert numbers(rf"{re.escape(setting)}: speed-up ([\d.]+)×", out)[0] > 0
    assert numbers(r"\| dense pillars \(z folded into channels\) \| ([\d.]+) \|", out)[0] > 0


@dataclass(frozen=True)
class Smoke:
    """A benchmark script, its tiny command line (built in the test's folder) and what its output must show."""

    script: str
    args: Callable[[Path, dict[str, str]], list[str]]
    check: Callable[[str, Path], None]


SMOKES = [
    Smoke("step.py", lambda tmp, env: [
        "--rounds", "1", "--steps", "2", "--warmup", "1", "--batch-size", "4", "--threads", "1",
        "--demo-records", "24", "--cache-dir", str(tmp / "cache"),
    ], check_step),
    Smoke("gpu_pretrain.py", lambda tmp, env: [
        "--device", "cpu", "--steps", "1", "--warmup", "0", "--batch-size", "2", "--depth", "1",
        "--predictor-depth", "1", "--modes", "eager,cudagraphs",
    ], check_gpu_pretrain),
    Smoke("data.py", lambda tmp, env: [
        "--records", "8", "--shard-size", "4", "--batch-size", "4", "--step-batch-size", "1", "--steps", "1",
        "--seconds", "0.1", "--threads", "1",
    ], check_data),
    Smoke("memory.py", lambda tmp, env: [
        "--presets", "vit_tiny", "--batches", "1", "2", "--threads", "1",
    ], check_memory),
    Smoke("objectives.py", lambda tmp, env: [
        "--out", str(tmp / "objectives"), "--steps", "2", "--demo-records", "60", "--threads", "1",
        "--runs", *OBJECTIVE_RUNS,
    ], check_objectives),
    Smoke("masking.py", lambda tmp, env: [
        "--rounds", "1", "--batch-size", "8", "--step-batch-size", "2", "--step-repeats", "1", "--threads", "1",
    ], check_masking),
    Smoke("sar_kshot.py", sar_kshot_args, check_sar_kshot),
    Smoke("readout.py", readout_args, check_readout),
    Smoke("eeg_spectra.py", eeg_spectra_args, check_eeg_spectra),
    Smoke("voxelize.py", lambda tmp, env: [
        "--rounds", "1", "--azimuths", "64", "--batch-size", "1", "--threads", "1",
    ], check_voxelize),
    Smoke("tabular_compare.py", lambda tmp, env: [
        "--tables", "wine", "--seeds", "0", "--steps", "2", "--depth", "1", "--epochs", "1", "--head", "linear",
    ], check_tabular_compare),
    Smoke("action_closed_loop.py", lambda tmp, env: [
        "--seeds", "0", "--steps", "2", "--epochs", "1", "--episodes", "2", "--demo-episodes", "10",
        "--train-stride", "50",
    ], check_action_closed_loop),
    Smoke("quality.py", lambda tmp, env: [
        "--out", str(tmp / "quality"), "--domains", "tabular", "--objectives", "sigreg", "--seeds", "0",
        "--steps", "3", "--ceiling-steps", "3", "--threads", "1",
    ], check_quality),
    Smoke("quality.py", lambda tmp, env: [
        "--out", str(tmp / "quality-lidar"), "--domains", "lidar", "--objectives", "sigreg", "--seeds", "0",
        "--steps", "2", "--ceiling-steps", "2", "--threads", "1", "--set", "data.demo_frames=12",
        "model.embed_dim=32", "model.depth=1", "model.num_heads=2", "model.predictor_dim=16", "model.predictor_depth=1",
        "model.predictor_heads=2", "trainer.batch_size=4", "monitor.probe_steps=20",
    ], check_quality_per_token),
    Smoke("selection.py", lambda tmp, env: [
        "--out", str(tmp / "selection"), "--runs-per-method", "3", "--steps", "3", "--demo-records", "60",
        "--pretrain-seeds", "0", "1", "--threads", "1",
    ], check_selection),
]


@pytest.mark.slow
@pytest.mark.parametrize("smoke", SMOKES, ids=[smoke.script for smoke in SMOKES])
def test_benchmark_runs_at_a_tiny_size(smoke: Smoke, tmp_path: Path) -> None:
    smoke.check(run_benchmark(smoke, tmp_path), tmp_path)


@pytest.mark.slow
def test_selection_continues_a_run_that_did_not_finish(tmp_path: Path) -> None:
    sweep = Smoke("selection.py", lambda tmp, env: [
        "--out", str(tmp / "selection"), "--methods", "sigreg", "--runs-per-method", "3", "--steps", "3",
        "--demo-records", "60", "--threads", "1",
    ], lambda out, tmp: None)
    first = run_benchmark(sweep, tmp_path)
    before = json.loads((tmp_path / "selection" / "results.json").read_text())["rows"]["sigreg"]
    run_file = tmp_path / "selection" / "sigreg-01-seed0" / "run.json"
    started = {key: value for key, value in json.loads(run_file.read_text()).items() if key != "final"}
    run_file.write_text(json.dumps(started))  # what a run killed after its last checkpoint leaves
    early_file = tmp_path / "selection" / "sigreg-02-seed0" / "run.json"
    early_file.write_text(json.dumps({key: value for key, value in json.loads(early_file.read_text()).items()
                                      if key != "final"}))
    shutil.rmtree(early_file.parent / "checkpoints")  # what a run killed before its first checkpoint leaves
    second = run_benchmark(sweep, tmp_path)
    assert "did not finish" not in first
    assert re.findall(r"(\S+): the run there did not finish; continuing it", second) == [
        str(tmp_path / "selection" / "sigreg-01-seed0")
    ]
    assert re.findall(r"(\S+): the run there stopped before its first checkpoint; starting it again", second) == [
        str(tmp_path / "selection" / "sigreg-02-seed0")
    ]
    for file in (run_file, early_file):
        assert json.loads(file.read_text())["final"]["steps"] == 3  # finished now
    after = json.loads((tmp_path / "selection" / "results.json").read_text())["rows"]["sigreg"]
    assert [row["probe"] for row in after] == pytest.approx([row["probe"] for row in before])


@pytest.mark.slow
def test_gpu_benchmark_finds_the_largest_batch_of_a_preset_with_checkpointing(tmp_path: Path) -> None:
    out = run_benchmark(Smoke("gpu_pretrain.py", lambda tmp, env: [
        "--device", "cpu", "--steps", "1", "--warmup", "0", "--preset", "vit_tiny", "--activation-checkpointing",
        "--find-batch", "--batch-size", "1", "--max-batch", "3", "--depth", "1", "--predictor-depth", "1",
        "--modes", "eager",
    ], check_gpu_pretrain), tmp_path)
    assert "activation checkpointing: on" in out
    assert "largest batch that fits: 3 (a multiple of the start, at most 3)" in out  # 1, 2, then 3 below the cap
    assert "model: vit_tiny, depth 1, predictor depth 1, objective ema, 200 tokens" in out and "; batch 3;" in out
    assert numbers(r"\| eager \| ([\d.]+) \|", out)[0] > 0


def run_benchmark(smoke: Smoke, tmp_path: Path) -> str:
    """The standard output of ``smoke``'s script run at its tiny size; fails when the script fails."""
    env = cli_env()
    env.update(JEPA_PLATFORM_CACHE=str(tmp_path / "cache"), TMPDIR=str(tmp_path), OMP_NUM_THREADS="1")
    command = [sys.executable, str(ROOT / "benchmarks" / smoke.script), *smoke.args(tmp_path, env)]
    done = subprocess.run(command, check=False, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stderr[-3000:]}"
    return done.stdout
