"""Watching the representation: RankMe on fixed samples, the collapse alarm, the probe beside random init, select."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from types import SimpleNamespace

import lightning as L
import mlflow
import pytest
import torch
from jepa_platform.cli import main
from jepa_platform.data.datamodule import JEPADataModule
from jepa_platform.domain import DatasetSplits, LabelSpec, cache_dir, load_domain
from jepa_platform.pretrain.config import resolve_recipe
from jepa_platform.pretrain.criteria import lidar, rankme, view_retrieval
from jepa_platform.pretrain.module import JEPAModule
from jepa_platform.pretrain.monitor import RepresentationMonitor, token_rows
from jepa_platform.pretrain.probe import linear_probe, macro_auc, probe_metric
from jepa_platform.pretrain.select import spearman

from tests.helpers import run_cli


def test_rankme_follows_the_formula_on_known_spectra():
    assert rankme(torch.eye(16)) == pytest.approx(16.0, rel=1e-5)  # full rank
    rank_one = torch.outer(torch.arange(1.0, 9.0), torch.arange(1.0, 5.0))
    assert rankme(rank_one) == pytest.approx(1.0, abs=1e-3)
    spectrum = torch.diag(torch.tensor([3.0, 1.0]))  # p = (0.75, 0.25)
    expected = math.exp(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25)))
    assert rankme(spectrum) == pytest.approx(expected, rel=1e-5)


def separated_views(classes: int, informative: int, dim: int, spread: float, seed: int = 0) -> torch.Tensor:
    """``classes × 4 × dim`` views: class means in ``informative`` dimensions, isotropic view noise of std ``spread``."""
    generator = torch.Generator().manual_seed(seed)
    means = torch.zeros(classes, 1, dim)
    means[:, :, :informative] = torch.randn(classes, 1, informative, generator=generator)
    return means + spread * torch.randn(classes, 4, dim, generator=generator)


def test_lidar_counts_the_directions_that_separate_samples_beyond_their_views():
    assert lidar(separated_views(400, 4, 16, 0.05)) == pytest.approx(4.0, rel=0.05)
    assert lidar(separated_views(400, 12, 16, 0.05)) == pytest.approx(12.0, rel=0.1)
    # where the views of a sample disagree more than samples differ, a direction does not count (RankMe counts it)
    noisy = separated_views(400, 12, 16, 0.05)
    noisy[:, :, 1:] += 3.0 * torch.randn(400, 4, 15, generator=torch.Generator().manual_seed(2))
    assert lidar(noisy) < 2.0 < 12.0 < rankme(noisy.reshape(-1, 16))


def test_lidar_is_unchanged_by_an_invertible_linear_map_where_rankme_is_not():
    views = separated_views(300, 6, 8, 0.1)
    generator = torch.Generator().manual_seed(1)
    skew = torch.diag(torch.tensor([10.0, 1, 1, 1, 1, 1, 1, 1])) @ torch.linalg.qr(torch.randn(8, 8, generator=generator))[0]
    assert lidar(views @ skew) == pytest.approx(lidar(views), rel=0.02)
    assert rankme((views @ skew).reshape(-1, 8)) < 0.8 * rankme(views.reshape(-1, 8))
    with pytest.raises(ValueError, match="at least 2 views"):
        lidar(views[:, :1])


def test_view_retrieval_finds_each_sample_by_its_other_views():
    assert view_retrieval(separated_views(200, 16, 16, 0.05)) == 1.0  # views far closer than samples
    # views as far apart as samples: about chance (1 / 200)
    assert view_retrieval(separated_views(200, 16, 16, 5.0)) < 0.03
    # one sample's two views identical, the others noise: it alone is found, in both directions of that pair
    views = torch.randn(4, 2, 8, generator=torch.Generator().manual_seed(3))
    views[0, 1] = views[0, 0]
    hits = view_retrieval(views)
    assert 0.25 <= hits <= 1.0 and view_retrieval(views * torch.arange(1.0, 9.0)) == pytest.approx(
        view_retrieval(views)), "standardized per feature: a feature's scale does not count"
    with pytest.raises(ValueError, match="2 views or more"):
        view_retrieval(views[:, :1])


def test_macro_auc_skips_classes_without_both_outcomes():
    scores = torch.tensor([[0.9, 0.1, 0.5], [0.2, 0.8, 0.5], [0.8, 0.3, 0.5]])
    targets = torch.tensor([[1, 0, 0], [0, 1, 0], [1, 0, 0]])
    assert macro_auc(scores, targets) == pytest.approx(1.0)  # the third class has no positive


def test_the_linear_probe_reads_linear_classes_and_not_noise():
    g = torch.Generator().manual_seed(0)
    labels = LabelSpec(("a", "b", "c"), multilabel=False)
    y, yv = torch.randint(0, 3, (300,), generator=g), torch.randint(0, 3, (200,), generator=g)
    centres = 3 * torch.randn(3, 16, generator=g)
    x, xv = centres[y] + torch.randn(300, 16, generator=g), centres[yv] + torch.randn(200, 16, generator=g)
    assert linear_probe((x, y), (xv, yv), labels) > 0.95
    noise = torch.randn(200, 16, generator=g)
    assert linear_probe((x, y), (noise, yv), labels) < 0.5  # chance is 1/3
    multilabel = LabelSpec(("a", "b", "c"), multilabel=True)
    hot = torch.nn.functional.one_hot(y, 3).float()
    assert linear_probe((x, hot), (xv, torch.nn.functional.one_hot(yv, 3).float()), multilabel) > 0.95
    assert linear_probe((x, y), (xv, yv), labels, seed=3) == linear_probe((x, y), (xv, yv), labels, seed=3)


def test_a_per_token_probe_scores_the_object_classes_by_mean_average_precision():
    g = torch.Generator().manual_seed(0)
    labels = LabelSpec(("background", "car", "person"), multilabel=False, per_token=True)
    assert probe_metric(labels) == "mean_ap"
    y, yv = torch.randint(0, 3, (600,), generator=g), torch.randint(0, 3, (300,), generator=g)
    centres = 3 * torch.randn(3, 8, generator=g)
    x, xv = centres[y] + torch.randn(600, 8, generator=g), centres[yv] + torch.randn(300, 8, generator=g)
    assert linear_probe((x, y), (xv, yv), labels) > 0.95
    # noise scores rank the tokens at random: the AP of each class falls to about its share of the tokens
    assert linear_probe((x, y), (torch.randn(300, 8, generator=g), yv), labels) < 0.5


class TokenIdentity(torch.nn.Module):
    """An "encoder" that returns the batch's tokens, with tokens of value 0 invalid."""

    tokenizer = SimpleNamespace(valid_mask=lambda batch: batch["tokens"][..., 0] != 0)

    def forward(self, batch):
        return batch["tokens"]


def test_token_rows_keep_the_valid_tokens_that_have_a_class():
    tokens = torch.tensor([[[1.0], [2.0], [0.0]], [[4.0], [5.0], [6.0]]])
    batch = {"tokens": tokens, "label": torch.tensor([[1, -1, 2], [0, 2, 1]])}
    rows, targets = token_rows(TokenIdentity(), [batch], torch.device("cpu"))
    assert rows.flatten().tolist() == [1.0, 4.0, 5.0, 6.0] and targets.tolist() == [1, 0, 2, 1]


def tiny_recipe(steps: int, **monitor):
    return resolve_recipe(
        "ecg",
        overrides={
            "data": {"demo_records": 60},
            "model": {"depth": 1, "predictor_depth": 1},
            "trainer": {"batch_size": 8, "max_steps": steps},
            "monitor": {"every_n_steps": 2, "samples": 32, "probe_steps": 50, **monitor},
        },
    )


def tiny_datamodule(steps: int) -> JEPADataModule:
    recipe = tiny_recipe(steps)
    datamodule = JEPADataModule(load_domain("ecg"), recipe.data, 8, 0, recipe.seed, cache_dir())
    datamodule.prepare_data()
    datamodule.setup("fit")
    return datamodule


def fit_tiny(with_monitor: bool, steps: int = 6, **monitor) -> tuple[JEPAModule, RepresentationMonitor]:
    """A few real training steps of a tiny ECG model on a small demo set, without logger or checkpoints."""
    recipe, datamodule = tiny_recipe(steps, **monitor), tiny_datamodule(steps)
    watcher = RepresentationMonitor(recipe.monitor, datamodule.splits, 8, recipe.seed)
    L.seed_everything(0)
    module = JEPAModule(recipe.to_dict())
    trainer = L.Trainer(
        max_steps=steps, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, num_sanity_val_steps=0, callbacks=[watcher] if with_monitor else [],
        limit_val_batches=2, log_every_n_steps=1,
    )
    trainer.fit(module, datamodule=datamodule)
    return module, watcher


def test_the_monitor_never_changes_the_training():
    without, _ = fit_tiny(False)
    with_monitor, watcher = fit_tiny(True)
    assert watcher.baseline is not None and watcher.peaks["monitor/rankme"] > 1
    for (name, a), b in zip(without.state_dict().items(), with_monitor.state_dict().values()):
        assert torch.equal(a, b), f"{name} differs: the monitor leaked into training"


def test_the_monitor_scores_the_encoder_beside_a_random_init_one():
    module, watcher = fit_tiny(True, steps=4)
    assert len(watcher.train_batches) == 4 and sum(len(b["label"]) for b in watcher.train_batches) == 32
    values = module.trainer.callback_metrics
    for key in ("monitor/rankme", "monitor/random_init_rankme", "probe/val_auc", "probe/random_init_val_auc"):
        assert key in values, key
    assert 1.0 <= float(values["monitor/rankme"]) <= 32 and 0.0 <= float(values["probe/val_auc"]) <= 1.0
    for pooling in ("mean_std", "max"):  # when training ends: the probe on the other poolings, both encoders
        for key in (f"probe/pooling_{pooling}/val_auc", f"probe/pooling_{pooling}/random_init_val_auc"):
            assert 0.0 <= float(values[key]) <= 1.0, key
    assert not any(key.startswith("probe/pooling_mean/") for key in values)  # the run's own: probe/val_auc
    # the random-init baseline is an encoder of the same architecture and seed, not the trained one
    fresh, _ = fit_tiny(True, steps=1, random_init=True)
    assert float(values["monitor/random_init_rankme"]) == pytest.approx(
        float(fresh.trainer.callback_metrics["monitor/random_init_rankme"]), rel=1e-5
    )
    assert float(values["monitor/rankme"]) != pytest.approx(float(values["monitor/random_init_rankme"]), rel=1e-3)
    quiet, unwatched = fit_tiny(True, steps=2, random_init=False, probe=False)
    assert unwatched.baseline is None and "probe/val_auc" not in unwatched.latest
    assert not any(key.startswith("probe/") for key in quiet.trainer.callback_metrics)


def test_a_rank_fall_is_no_collapse_while_the_probe_stays_above_random_init():
    recipe = tiny_recipe(4)
    watcher = RepresentationMonitor(recipe.monitor, tiny_datamodule(4).splits, 8, recipe.seed)
    watcher.setup(SimpleNamespace(), None, "fit")  # draws the fixed samples: the probe is on
    trainer = SimpleNamespace(global_step=200, loggers=[], is_global_zero=True, should_stop=False)
    watcher.peaks = {"monitor/rankme": 20.0, "monitor/embedding_std": 1.0}
    fallen = {"monitor/rankme": 2.0, "monitor/embedding_std": 1.0}  # RankMe at a tenth of its peak
    watcher.latest = {watcher.probe_key(): 0.80, watcher.probe_key("random_init_"): 0.70}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no alarm while the probe is ahead
        watcher.check_collapse(trainer, fallen)
    assert watcher.collapsed_at is None and watcher.noted_fall
    watcher.latest[watcher.probe_key()] = 0.70  # level with random init: the fall counts
    with pytest.warns(UserWarning, match="representation collapse suspected at step 200: rankme 2 "):
        watcher.check_collapse(trainer, fallen)
    assert watcher.collapsed_at == 200


@pytest.mark.slow
def test_a_collapsing_configuration_raises_the_alarm(tmp_path):
    out = tmp_path / "collapse"
    result = run_cli(
        "pretrain", "--domain", "ecg", "--out", str(out), "--objective", "sigreg",
        "--objective.sigreg.weight", "0",  # no regularizer and no teacher: nothing prevents collapse
        "--max-steps", "40", "--data.demo_records", "60", "--model.depth", "2", "--model.predictor_depth", "1",
        "--trainer.batch_size", "8", "--optim.lr", "3e-3", "--monitor.every_n_steps", "5",
        "--monitor.collapse_after_steps", "10", "--monitor.samples", "64", "--monitor.stop_on_collapse", "true",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "representation collapse suspected" in result.stderr
    saved = json.loads((out / "run.json").read_text())
    run = mlflow.tracking.MlflowClient(saved["tracking_uri"]).get_run(saved["run_id"])
    assert run.data.tags["collapse"].startswith("representation collapse suspected at step")
    stopped_at = int(run.data.tags["collapse"].split("step ")[1].split(":")[0])
    assert torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == stopped_at < 40


def fake_run(
    root: Path, name: str, method: str, rankme_value: float | None, probe: float, finished: bool = True,
    **criteria: float,
) -> Path:
    folder = root / name
    folder.mkdir()
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    client = mlflow.tracking.MlflowClient(uri)
    run = client.create_run(client.create_experiment("e", artifact_location=(folder / "a").as_uri()))
    client.log_param(run.info.run_id, "objective.kind", method)
    client.log_param(run.info.run_id, "trainer.max_steps", 100)
    if rankme_value is not None:
        client.log_metric(run.info.run_id, "monitor/rankme", rankme_value / 2, step=50)
        client.log_metric(run.info.run_id, "monitor/rankme", rankme_value, step=100)
    for metric, value in criteria.items():
        client.log_metric(run.info.run_id, metric.replace("__", "/"), value, step=100)
    client.log_metric(run.info.run_id, "probe/val_auc", probe, step=100)
    client.log_metric(run.info.run_id, "probe/random_init_val_auc", 0.61, step=100)
    if finished:
        client.set_terminated(run.info.run_id)
    (folder / "run.json").write_text(json.dumps({"run_id": run.info.run_id, "tracking_uri": uri}))
    return folder


def test_select_ranks_by_final_rankme_within_each_method(tmp_path, capsys):
    runs = [
        fake_run(tmp_path, "low", "ema", 20.0, 0.9),
        fake_run(tmp_path, "high", "ema", 80.0, 0.7),
        fake_run(tmp_path, "other", "sigreg", 50.0, 0.8),
        fake_run(tmp_path, "unfinished", "ema", None, 0.5),
    ]
    assert main(["select", "--criterion", "rankme", *map(str, runs)]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ema") or line.startswith("| sig")]
    assert [row.split("|")[3].strip().rsplit("/", 1)[1] for row in rows] == ["high", "low", "unfinished", "other"]
    assert rows[0].split("|")[2].strip() == "1" and rows[0].split("|")[5].strip() == "80"
    assert rows[2].split("|")[2].strip() == "-" and rows[3].split("|")[2].strip() == "1"
    assert all(row.split("|")[7].strip() == "0.6100" for row in rows)  # the random-init encoder's probe


def test_select_ranks_by_the_chosen_criterion_in_its_direction(tmp_path, capsys):
    runs = [
        fake_run(tmp_path, "a", "sigreg", 10.0, 0.7, monitor__lidar=5.0, train__sigreg=0.9),
        fake_run(tmp_path, "b", "sigreg", 30.0, 0.8, monitor__lidar=9.0, train__sigreg=0.2),
        fake_run(tmp_path, "c", "sigreg", 20.0, 0.9, monitor__lidar=1.0, train__sigreg=0.5),
    ]

    def order(criterion: str | None) -> list[str]:
        assert main(["select", *(["--criterion", criterion] if criterion else []), *map(str, runs)]) == 0
        rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| sigreg")]
        return [row.split("|")[3].strip().rsplit("/", 1)[1] for row in rows]

    assert order("rankme") == ["b", "c", "a"]
    assert order("low_rankme") == ["a", "c", "b"] == order(None)  # SIGReg runs: lower RankMe first by default
    assert order("lidar") == ["b", "a", "c"]
    assert order("sigreg_loss") == ["b", "c", "a"]  # lower is better
    assert order("rankme_tokens") == ["a", "b", "c"]  # logged by none: all unranked, in the given order


def test_select_ranks_each_method_by_its_own_criterion_and_sets_collapsed_sigreg_runs_apart(tmp_path, capsys):
    runs = [
        fake_run(tmp_path, "ema-low-retrieval", "ema", 40.0, 0.7, monitor__retrieval=0.2),
        fake_run(tmp_path, "ema-high-retrieval", "ema", 30.0, 0.8, monitor__retrieval=0.6),
        fake_run(tmp_path, "ema-older", "ema", 30.0, 0.8, monitor__lidar=9.0),  # from before retrieval was logged
        fake_run(tmp_path, "sigreg-full", "sigreg", 90.0, 0.7, monitor__random_init_rankme=9.0),
        fake_run(tmp_path, "sigreg-lower", "sigreg", 60.0, 0.9, monitor__random_init_rankme=9.0),
        fake_run(tmp_path, "sigreg-collapsed", "sigreg", 2.0, 0.5, monitor__random_init_rankme=9.0),
    ]
    assert main(["select", *map(str, runs)]) == 0
    out = capsys.readouterr().out
    assert "| method | rank by retrieval |" in out and "| method | rank by low_rankme |" in out
    rows = [row.split("|") for row in out.splitlines() if row.startswith(("| ema", "| sigreg"))]
    assert [(row[2].strip(), row[3].strip().rsplit("/", 1)[1]) for row in rows] == [
        ("1", "ema-high-retrieval"), ("2", "ema-low-retrieval"), ("-", "ema-older"),
        ("1", "sigreg-lower"), ("2", "sigreg-full"), ("collapsed", "sigreg-collapsed"),
    ]
    assert "RankMe ended below the random-init encoder's" in out
    assert "ranked separately" in out
    assert f"-: {runs[2]} did not log retrieval" in out and "pretrain --resume --out RUN" in out


def test_select_says_how_far_its_ranking_agrees_with_the_probe(tmp_path, capsys):
    runs = [
        fake_run(tmp_path, "ema-a", "ema", 40.0, 0.7, monitor__retrieval=0.1),
        fake_run(tmp_path, "ema-b", "ema", 30.0, 0.8, monitor__retrieval=0.5),
        fake_run(tmp_path, "ema-c", "ema", 30.0, 0.9, monitor__retrieval=0.3),
        fake_run(tmp_path, "sigreg-a", "sigreg", 90.0, 0.7),
        fake_run(tmp_path, "sigreg-b", "sigreg", 60.0, 0.8),
        fake_run(tmp_path, "sigreg-c", "sigreg", 50.0, 0.9),
        fake_run(tmp_path, "sigreg-d", "sigreg", 70.0, 0.6),
    ]
    assert main(["select", *map(str, runs)]) == 0
    out = capsys.readouterr().out
    assert "ema: retrieval orders these 3 runs as their linear probes do at Spearman +0.50" in out
    assert "sigreg: low_rankme orders these 4 runs as their linear probes do at Spearman +0.80" in out
    assert out.count("where the data has labels, choose by the probe") == 0
    assert main(["select", "--criterion", "rankme", *map(str, runs[3:])]) == 0
    out = capsys.readouterr().out
    assert "sigreg: rankme orders these 4 runs as their linear probes do at Spearman -0.80" in out
    assert "The labels order them otherwise: where the data has labels, choose by the probe." in out
    assert main(["select", *map(str, runs[:2])]) == 0
    assert "Spearman" not in capsys.readouterr().out  # two runs: too few to say


def test_spearman_matches_its_definition_with_ties():
    assert spearman([1.0, 2.0, 3.0], [10.0, 30.0, 20.0]) == pytest.approx(0.5)
    assert spearman([1.0, 2.0, 3.0], [10.0, 30.0, 20.0], same_direction=False) == pytest.approx(-0.5)
    # ranks with the tie shared: (0.5, 0.5, 2, 3) against (0, 1, 2, 3)
    assert spearman([5.0, 5.0, 7.0, 9.0], [1.0, 2.0, 3.0, 4.0]) == pytest.approx(0.9486833)
    assert spearman([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]) is None and spearman([1.0, 2.0], [2.0, 1.0]) is None


def test_select_marks_runs_that_have_not_finished(tmp_path, capsys):
    runs = [
        fake_run(tmp_path, "done", "ema", 20.0, 0.9, monitor__retrieval=0.5),
        fake_run(tmp_path, "going", "ema", 30.0, 0.8, finished=False, monitor__retrieval=0.9),
    ]
    assert main(["select", *map(str, runs)]) == 0
    out = capsys.readouterr().out
    steps = {row.split("|")[3].strip().rsplit("/", 1)[1]: row.split("|")[4].strip()
             for row in out.splitlines() if row.startswith("| ema")}
    assert steps == {"going": "100 (running)", "done": "100"}
    assert "running: the run has not finished" in out
    assert main(["select", str(runs[0])]) == 0
    assert "has not finished" not in capsys.readouterr().out


def test_select_rejects_what_is_not_a_run(tmp_path, capsys):
    assert main(["select", str(tmp_path)]) == 2
    assert "neither a run folder" in capsys.readouterr().err


class Tracker:
    """An MLflow logger's stand-in that keeps the tags set on its run."""

    run_id = "run"

    def __init__(self) -> None:
        self.tags: dict[str, str] = {}

    @property
    def experiment(self) -> "Tracker":
        return self

    def set_tag(self, run_id: str, name: str, value: str) -> None:
        self.tags[name] = value


def watched_run(trained: float, initial: float) -> tuple[RepresentationMonitor, SimpleNamespace, Tracker]:
    """A monitor with its probe on, whose run ended at AUC ``trained`` against ``initial`` at random init."""
    labels = LabelSpec(("a", "b"), multilabel=True)
    watcher = RepresentationMonitor(resolve_recipe("ecg").monitor, DatasetSplits([], None, labels), 8, 0)
    watcher.val_batches = [{"label": torch.zeros(2, 2)}]  # the probe is on
    watcher.baseline = {"probe/random_init_val_auc": initial}
    tracker = Tracker()
    metrics = {"probe/val_auc": torch.tensor(trained)}
    return watcher, SimpleNamespace(callback_metrics=metrics, loggers=[tracker], is_global_zero=True), tracker


def test_a_run_below_random_init_is_warned_and_tagged():
    watcher, trainer, tracker = watched_run(0.75, 0.8)
    with pytest.warns(UserWarning, match=r"linear probe \(auc 0.7500\) is below the random-init encoder's \(0.8000\)"):
        watcher.compare(trainer)
    assert tracker.tags["below_random_init"].startswith("the pretrained encoder's linear probe")
    trainer.callback_metrics["probe/val_auc"] = torch.tensor(0.85)
    tracker.tags.clear()
    watcher.compare(trainer)  # ahead of random init: nothing to say
    assert not tracker.tags


def test_a_run_whose_gain_is_the_readouts_is_warned_and_tagged():
    watcher, trainer, tracker = watched_run(0.85, 0.79)
    others = {
        "probe/pooling_mean_std/val_auc": 0.88, "probe/pooling_mean_std/random_init_val_auc": 0.89,
        "probe/pooling_max/val_auc": 0.87, "probe/pooling_max/random_init_val_auc": 0.86,
    }
    expected = r"best pooling \(mean_std, auc 0.8800\).*read by its best \(mean_std, 0.8900\)"
    with pytest.warns(UserWarning, match=expected):
        watcher.compare_readouts(trainer, "mean", others)
    assert "not a better encoder" in tracker.tags["below_random_init_best_readout"]
    tracker.tags.clear()
    others["probe/pooling_max/val_auc"] = 0.90  # the pretrained encoder read by its maximum is ahead of every readout
    watcher.compare_readouts(trainer, "mean", others)
    assert not tracker.tags
    watcher.compare_readouts(trainer, "mean", {})  # other poolings not scored: nothing to compare
    assert not tracker.tags
