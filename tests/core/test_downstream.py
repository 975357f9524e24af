"""Probe, fine-tune, baseline, export, report: heads, metrics, learning-rate decay, encoder round trip,
every PTB-XL label set, run tracking."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import yaml
from jepa_platform import load_encoder
from jepa_platform.cli import main
from jepa_platform.domain import cache_dir
from jepa_platform.domain.contract import LabelSpec
from jepa_platform.domain.registry import load_domain
from jepa_platform.downstream.baseline import run_baseline
from jepa_platform.downstream.config import resolve_downstream
from jepa_platform.downstream.heads import AttentiveHead, LastTokenHead, LinearHead, MLPHead, build_head, last_valid
from jepa_platform.downstream.metrics import average_by_group, direction, evaluate
from jepa_platform.downstream.model import param_groups
from jepa_platform.downstream.pretrained import build_encoder, export_encoder, read_checkpoint
from jepa_platform.downstream.results import report_table
from jepa_platform.downstream.run import load_probe_head, run_downstream
from jepa_platform.errors import JepaError
from jepa_platform.pretrain.module import JEPAModule
from jepa_platform.runs.tracking import make_logger

from tests.helpers import FIXTURES, TINY_ECG, run_cli
from tests.helpers import RECIPES as RECIPE_ROOT

RECIPES = RECIPE_ROOT / "ecg"
LABEL_SETS = ("all", "diagnostic", "subdiagnostic", "superdiagnostic", "form", "rhythm")
QUICK = {
    "trainer": {"batch_size": 16, "num_workers": 0},
    "probe": {"max_epochs": 1},
    "finetune": {"max_epochs": 1, "warmup_epochs": 0},
}
DEMO = {"data": {"demo_records": 60}}


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real, tiny pretraining run on 60 demo records."""
    out = tmp_path_factory.mktemp("pretrain") / "run"
    args = ["pretrain", "--domain", "ecg", "--out", str(out), "--max-steps", "6", "--data.demo_records", "60",
            "--objective", "ema"]
    assert main([*args, *TINY_ECG, "--optim.lr", "2e-3"]) == 0
    return out / "checkpoints" / "last.ckpt"


def ecg_batch(length: int = 1000, batch: int = 3) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return {
        "signal": torch.randn(batch, 12, length),
        "lead_present": torch.ones(batch, 12, dtype=torch.bool),
        "length": torch.tensor([length] * (batch - 1) + [length * 3 // 5]),  # the last one is padded
    }


# ------------------------------------------------------------------ heads and metrics


@pytest.mark.parametrize(
    "head",
    [LinearHead(8, 3), MLPHead(8, 3), AttentiveHead(8, 3, num_heads=2), LastTokenHead(8, 3),
     LinearHead(8, 3, "max"), MLPHead(8, 3, "mean_std")],
    ids=["linear", "mlp", "attentive", "last", "linear-max", "mlp-mean-std"],
)
def test_heads_ignore_padding(head):
    head.eval()
    torch.manual_seed(0)
    tokens, valid = torch.randn(2, 5, 8), torch.tensor([[True] * 5, [True, True, True, False, False]])
    changed = tokens.clone()
    changed[1, 3:] = 100.0
    out = head(tokens, valid)
    assert out.shape == (2, 3)
    assert torch.allclose(out, head(changed, valid), atol=1e-6)
    assert not torch.allclose(out, head(changed, None))


def test_last_head_reads_each_samples_last_valid_token():
    tokens = torch.arange(3 * 4 * 2, dtype=torch.float32).view(3, 4, 2)
    valid = torch.tensor([[True] * 4, [False, False, True, True], [True, True, False, False]])  # padding either side
    assert torch.equal(last_valid(tokens, valid), tokens[[0, 1, 2], [3, 3, 1]])
    assert torch.equal(last_valid(tokens, None), tokens[:, -1])
    with pytest.raises(ValueError, match="not last"):
        build_head("last", 8, 3, 2, per_token=True)


def test_views_are_averaged_per_group():
    logits = torch.tensor([[1.0, 0.0], [3.0, 2.0], [5.0, 4.0], [-1.0, 6.0]])
    targets = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    mean, target = average_by_group(logits, targets, torch.tensor([7, 2, 7, 2]))
    assert torch.allclose(mean, torch.tensor([[1.0, 4.0], [3.0, 2.0]]))  # group 2, then group 7
    assert torch.equal(target, torch.tensor([[0.0, 1.0], [1.0, 0.0]]))


def test_macro_auc_skips_classes_without_positives_or_negatives():
    scores = torch.tensor([[2.0, 0.0, 1.0], [1.0, 0.0, 1.0], [-1.0, 0.0, 1.0], [0.5, 0.0, 1.0]])
    targets = torch.tensor([[1, 0, 1], [0, 0, 1], [0, 0, 1], [1, 0, 1]])
    result = evaluate(scores, targets, LabelSpec(("a", "b", "c"), multilabel=True))
    assert result.per_class == {"a": 0.75, "b": None, "c": None}  # a: 3 of 4 pairs ordered
    assert result.metrics == {"macro_auc": 0.75} and result.positives == {"a": 2, "b": 0, "c": 4}
    single = evaluate(torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 0.0]]), torch.tensor([0, 1, 1]), LabelSpec(("x", "y"), False))
    assert single.metrics["accuracy"] == pytest.approx(2 / 3) and single.metrics["balanced_accuracy"] == pytest.approx(0.75)


def test_macro_f1_and_regression_metrics_agree_with_scikit_learn():
    from sklearn.metrics import f1_score, mean_absolute_error, mean_squared_error, r2_score

    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(50, 4, generator=generator)
    logits[:, 3] -= 10  # class 3 is never predicted
    targets = torch.randint(0, 4, (50,), generator=generator)
    targets[targets == 2] = 1  # class 2 never occurs
    result = evaluate(logits, targets, LabelSpec(("a", "b", "c", "d"), multilabel=False))
    expected = f1_score(targets.numpy(), logits.argmax(1).numpy(), average="macro")
    assert result.metrics["macro_f1"] == pytest.approx(expected, abs=1e-6)

    predictions, values = torch.randn(40, 1, generator=generator) * 3, torch.randn(40, 1, generator=generator) * 5 + 2
    regression = evaluate(predictions, values, LabelSpec(("y",), multilabel=False, regression=True))
    assert regression.metrics == pytest.approx({
        "rmse": mean_squared_error(values, predictions) ** 0.5,
        "mae": mean_absolute_error(values, predictions),
        "r2": r2_score(values, predictions),
    })
    assert regression.per_class == {} and regression.examples == 40
    assert direction("rmse") == direction("mae") == "min" and direction("r2") == direction("accuracy") == "max"


def test_layer_wise_learning_rate_decay():
    plugin = load_domain("ecg")
    recipe, _ = resolve_downstream(RECIPES / "ptbxl-all.yaml", {**DEMO, "model": {"depth": 2}}, None)
    encoder = build_encoder(plugin, recipe.model, recipe.data)
    head = LinearHead(recipe.model.embed_dim, 4)
    groups = param_groups(encoder, head, lr=1.0, weight_decay=0.1, layer_decay=0.5)
    lr_of = {id(p): g["lr"] for g in groups for p in g["params"]}
    decay_of = {id(p): g["weight_decay"] for g in groups for p in g["params"]}
    assert lr_of[id(encoder.tokenizer.proj.weight)] == 0.125  # 0.5 ** (depth + 1)
    assert lr_of[id(encoder.stack.blocks[0].attn.qkv.weight)] == 0.25
    assert lr_of[id(encoder.stack.blocks[1].mlp.fc1.weight)] == 0.5
    assert lr_of[id(encoder.stack.norm.weight)] == lr_of[id(head.linear.weight)] == 1.0
    assert decay_of[id(head.linear.weight)] == 0.1 and decay_of[id(head.linear.bias)] == 0.0
    probe = param_groups(encoder, head, lr=1.0, weight_decay=0.1, layer_decay=None)
    assert sum(len(g["params"]) for g in probe) == 2  # the head only


# ------------------------------------------------------------------ export and load


def test_export_and_load_give_the_checkpoint_embeddings(checkpoint, tmp_path):
    saved = torch.load(checkpoint, weights_only=True)
    module = JEPAModule(saved["hyper_parameters"]["recipe"])
    module.load_state_dict(saved["state_dict"])
    module.eval()
    batch = ecg_batch()
    assert not torch.equal(module.teacher(batch), module.encoder(batch))  # the EMA moved away

    target = export_encoder(checkpoint, tmp_path / "target")
    context = export_encoder(checkpoint, tmp_path / "context", which="context")
    assert sorted(p.name for p in target.iterdir()) == ["config.json", "encoder.safetensors"]
    config = json.loads((target / "config.json").read_text())
    assert config["domain"] == "ecg" and config["model"]["depth"] == 2 and config["step"] == 6
    with torch.no_grad():
        assert torch.equal(load_encoder(target)(batch), module.teacher(batch))
        assert torch.equal(load_encoder(context)(batch), module.encoder(batch))
        crops = load_encoder(target, data={"window_seconds": 2.5})  # another grid, the same weights
        assert crops.grid.shape == (25,) and crops(ecg_batch(250)).shape == (3, 25, 192)
    with pytest.raises(JepaError, match="already exists and is not empty"):
        export_encoder(checkpoint, target)


# ------------------------------------------------------------------ probe and fine-tune runs


def mann_whitney_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    positive, negative = scores[labels == 1], scores[labels == 0]
    return float(np.mean([(p > n) + 0.5 * (p == n) for p in positive for n in negative]))


def test_probe_tests_the_mean_logits_of_each_records_windows(checkpoint, tmp_path):
    recipe, pretrained = resolve_downstream(RECIPES / "ptbxl-rhythm.yaml", {**QUICK, "probe": {"max_epochs": 2}}, checkpoint)
    assert recipe.model.depth == 2 and recipe.data.demo_records == 60  # from the checkpoint
    results = run_downstream(recipe, "probe", pretrained, tmp_path / "probe")
    assert results["init"] == "pretrained" and results["method"] == "attentive probe"

    # Recompute the test score from the best checkpoint, window by window.
    plugin = load_domain("ecg")
    task = plugin.downstream_task(plugin.data_root(recipe.data, cache_dir()), recipe.data, recipe.task)
    best = torch.load(tmp_path / "probe" / "checkpoints" / "best.ckpt", weights_only=True)["state_dict"]
    encoder = build_encoder(plugin, recipe.model, task.data)
    head = build_head("attentive", 192, len(task.labels.names), recipe.model.num_heads)
    encoder.load_state_dict({k[8:]: v for k, v in best.items() if k.startswith("encoder.")})
    head.load_state_dict({k[5:]: v for k, v in best.items() if k.startswith("head.")})
    encoder.eval(), head.eval()
    views = [task.test[i] for i in range(len(task.test))]
    batch = {key: torch.stack([v[key] for v in views]) for key in ("signal", "lead_present", "length")}
    with torch.no_grad():
        logits = head(encoder(batch), None).numpy()
    groups = np.array([int(v["group"]) for v in views])
    labels = torch.stack([v["label"] for v in views]).numpy()
    record_logits = np.stack([logits[groups == g].mean(0) for g in np.unique(groups)])
    record_labels = np.stack([labels[groups == g][0] for g in np.unique(groups)])
    assert len(np.unique(groups)) == results["examples"]["test"] and len(views) == 7 * len(np.unique(groups))
    aucs = [mann_whitney_auc(record_logits[:, c], record_labels[:, c]) for c in range(record_labels.shape[1])
            if 0 < record_labels[:, c].sum() < len(record_labels)]
    assert results["value"] == pytest.approx(np.mean(aucs), abs=1e-5)

    csv = (tmp_path / "probe" / "per_class.csv").read_text().splitlines()
    assert csv[0] == "class,auc,positives" and len(csv) == 1 + len(task.labels.names)
    assert (tmp_path / "probe" / "result.md").read_text() == (
        f"| ptbxl-rhythm (demo data) | attentive probe | pretrained | macro_auc | {results['value']:.4f} |\n"
    )

    # Fine-tune, starting from the probe's head.
    fresh = build_head("attentive", 192, len(task.labels.names), recipe.model.num_heads)
    load_probe_head(fresh, tmp_path / "probe", task, "attentive", "mean")
    assert torch.equal(fresh.query, best["head.query"]) and torch.equal(fresh.linear.weight, best["head.linear.weight"])
    finetune = {"max_epochs": 1, "warmup_epochs": 0, "head_from": str(tmp_path / "probe")}
    recipe, pretrained = resolve_downstream(RECIPES / "ptbxl-rhythm.yaml", {**QUICK, "finetune": finetune}, checkpoint)
    tuned = run_downstream(recipe, "finetune", pretrained, tmp_path / "finetune")
    assert tuned["method"] == "fine-tune (attentive head)" and 0.0 <= tuned["value"] <= 1.0
    wrong = {**QUICK, "task": {"name": "form"}, "finetune": finetune}
    recipe, pretrained = resolve_downstream(RECIPES / "ptbxl-rhythm.yaml", wrong, checkpoint)
    with pytest.raises(JepaError, match="was trained on task 'ptbxl-rhythm \\(demo data\\)', not 'ptbxl-form"):
        run_downstream(recipe, "finetune", pretrained, tmp_path / "wrong")
    assert not (tmp_path / "wrong").exists()


@pytest.mark.parametrize("label_set", LABEL_SETS)
def test_every_label_set_runs_end_to_end_from_random_init(label_set, tmp_path):
    overrides = {**QUICK, **DEMO, "model": {"depth": 1}, "probe": {"max_epochs": 1, "head": "linear"}}
    recipe, pretrained = resolve_downstream(RECIPES / f"ptbxl-{label_set}.yaml", overrides, None)
    assert recipe.task.name == label_set and pretrained is None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = run_downstream(recipe, "probe", None, tmp_path / "run")
    assert results["task"] == f"ptbxl-{label_set} (demo data)" and results["init"] == "random"
    assert 0.0 <= results["value"] <= 1.0 and results["classes"] >= 2
    assert results["examples"]["test"] > 0 and results["examples"]["train"] > results["examples"]["test"]


@pytest.fixture
def toy_domain(monkeypatch: pytest.MonkeyPatch) -> None:
    """The third-party fixture package as an installed domain, in this process only."""
    from importlib.metadata import EntryPoint

    from jepa_platform.domain import registry

    monkeypatch.syspath_prepend(str(FIXTURES / "toy_domain"))
    found = {**registry.domain_entry_points(), "toy": EntryPoint("toy", "jepa_toy_domain:plugin", registry.ENTRY_POINT_GROUP)}
    monkeypatch.setattr(registry, "domain_entry_points", lambda: found)


def test_a_single_label_task_of_another_domain_runs_the_same_way(toy_domain, tmp_path):
    recipe_file = tmp_path / "toy.yaml"
    recipe_file.write_text("domain: toy\ntask:\n  name: frequency\n")
    overrides = {"probe": {"max_epochs": 2, "head": "linear"}, "trainer": {"batch_size": 16, "num_workers": 0}}
    recipe, _ = resolve_downstream(recipe_file, overrides, None)
    results = run_downstream(recipe, "probe", None, tmp_path / "run")
    assert results["task"] == "toy-frequency" and results["metric"] == "accuracy"
    assert set(results["test"]) == {"macro_auc", "accuracy", "balanced_accuracy", "macro_f1"}
    assert results["value"] == results["test"]["accuracy"] and results["examples"] == {"train": 64, "val": 32, "test": 32}


# ------------------------------------------------------------------ errors


def test_checkpoint_from_another_domain_is_refused(tmp_path, capsys):
    foreign = tmp_path / "toy.ckpt"
    torch.save({"state_dict": {"teacher.w": torch.zeros(1)}, "hyper_parameters": {"recipe": {"domain": "toy"}}}, foreign)
    code = main(["finetune", "--recipe", str(RECIPES / "ptbxl-all.yaml"), "--checkpoint", str(foreign),
                 "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and err.strip() == (
        f"error: {foreign} (EMA teacher, step None) was pretrained on domain 'toy', but the recipe is for domain 'ecg'"
    )
    not_jepa = tmp_path / "other.ckpt"
    torch.save({"state_dict": {}}, not_jepa)
    with pytest.raises(JepaError, match="is not a jepa-platform pretraining checkpoint"):
        read_checkpoint(not_jepa)
    assert not (tmp_path / "run").exists()


def test_finetune_on_data_without_labels_fails_clearly(tmp_path, capsys):
    folder = tmp_path / "records"
    folder.mkdir()
    code = main(["finetune", "--recipe", str(RECIPES / "ptbxl-all.yaml"), "--data", str(folder),
                 "--out", str(tmp_path / "run")])
    assert code == 2
    assert capsys.readouterr().err.strip() == f"error: task 'all' needs PTB-XL labels, but {folder} has no ptbxl_database.csv"
    assert not (tmp_path / "run").exists()


def test_finetune_on_an_empty_test_fold_fails_clearly(tmp_path, capsys):
    code = main(["finetune", "--recipe", str(RECIPES / "ptbxl-rhythm.yaml"), "--data.demo_records", "60",
                 "--task.test_folds", "[11]", "--out", str(tmp_path / "run")])
    assert code == 2
    assert "the test folds [11] (task.test_folds) hold no record with a label of the 'rhythm' set" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model.depth", "4"], "recipe key 'model.depth' cannot be set with --checkpoint"),
        (["--probe.hed", "linear"], "unknown recipe key 'probe.hed' (did you mean 'probe.head'?)"),
        (["--task.name", "rythm"], "recipe key 'task.name'"),
    ],
    ids=["architecture-with-checkpoint", "typo", "bad-label-set"],
)
def test_recipe_errors_name_the_key(checkpoint, capsys, args, message):
    code = main(["probe", "--recipe", str(RECIPES / "ptbxl-all.yaml"), "--checkpoint", str(checkpoint),
                 "--print-config", *args])
    assert code == 2 and message in capsys.readouterr().err


def test_a_checkpoints_encoder_may_be_read_with_another_pooling(checkpoint, capsys):
    code = main(["probe", "--recipe", str(RECIPES / "ptbxl-all.yaml"), "--checkpoint", str(checkpoint),
                 "--print-config", "--model.pooling", "max"])
    assert code == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["model"]["pooling"] == "max" and printed["model"]["embed_dim"] == 192  # the rest from the checkpoint


@pytest.mark.slow
def test_probe_export_load_and_report_through_the_console_script(checkpoint, tmp_path):
    probe = tmp_path / "probe"
    result = run_cli(
        "probe", "--recipe", str(RECIPES / "ptbxl-superdiagnostic.yaml"), "--checkpoint", str(checkpoint),
        "--out", str(probe), "--probe.head", "linear", "--probe.max_epochs", "1",
        "--trainer.batch_size", "16", "--trainer.num_workers", "0",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((probe / "results.json").read_text())
    assert results["method"] == "linear probe" and results["init"] == "pretrained" and results["classes"] == 3
    assert f"probe finished: test macro_auc {results['value']:.4f}" in result.stdout

    exported = tmp_path / "encoder"
    result = run_cli("export", "--checkpoint", str(checkpoint), "--out", str(exported))
    assert result.returncode == 0 and f"to {exported}" in result.stdout, result.stderr[-3000:]
    script = (
        "import sys, torch, jepa_platform\n"
        "encoder = jepa_platform.load_encoder(sys.argv[1])\n"
        "batch = {'signal': torch.zeros(2, 12, 1000), 'lead_present': torch.ones(2, 12, dtype=torch.bool),"
        " 'length': torch.tensor([1000, 500])}\n"
        "print(tuple(encoder(batch).shape), 'lightning' in sys.modules)\n"
    )
    loaded = subprocess.run([sys.executable, "-c", script, str(exported)], capture_output=True, text=True, timeout=120)
    assert loaded.stdout.strip() == "(2, 100, 192) False", loaded.stderr[-3000:]

    report = run_cli("report", str(probe))
    assert report.returncode == 0
    assert report.stdout.splitlines() == [
        "| task | method | init | seeds | macro AUC | runs |",
        "|---|---|---|---:|---:|---|",
        f"| ptbxl-superdiagnostic (demo data) | linear probe | pretrained | 1 | {results['value']:.4f} | {probe} |",
    ]
    missing = run_cli("report", str(tmp_path))
    assert missing.returncode == 2 and f"{tmp_path} holds no results.json" in missing.stderr


# ------------------------------------------------------------------ report, baseline, tracking


def write_results(folder: Path, **results) -> Path:
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps(results))
    return folder


def test_report_pools_the_seeds_of_each_task_method_and_init(tmp_path):
    common = {"task": "t", "method": "mlp probe", "metric": "accuracy"}
    runs = [
        write_results(tmp_path / f"p{seed}", **common, init="pretrained", value=value,
                      test={"accuracy": value, "macro_f1": value - 0.1, "macro_auc": 0.9})
        for seed, value in enumerate([0.8, 0.9, 1.0])
    ]
    runs.append(write_results(tmp_path / "r", **common, init="random", value=0.5, test={"accuracy": 0.5, "macro_f1": 0.4}))
    runs.append(write_results(
        tmp_path / "trees", task="t", method="trees", init="none", metric="accuracy", value=0.7,
        per_seed=[{"seed": 0, "test": {"accuracy": 0.6, "macro_f1": 0.5}}, {"seed": 1, "test": {"accuracy": 0.8, "macro_f1": 0.5}}],
    ))
    runs.append(write_results(
        tmp_path / "reg", task="u", method="mlp probe", init="random", metric="rmse", value=2.0, regression=True,
        test={"rmse": 2.0, "mae": 1.5, "r2": 0.25},
    ))
    lines = report_table(runs).splitlines()
    assert lines[0] == "| task | method | init | seeds | accuracy | macro F1 | RMSE | R² | runs |"
    assert lines[2].startswith("| t | mlp probe | pretrained | 3 | 0.9000 ± 0.0816 | 0.8000 ± 0.0816 |  |  | ")
    assert lines[3].startswith("| t | mlp probe | random | 1 | 0.5000 | 0.4000 |  |  | ")
    assert lines[4].startswith("| t | trees | none | 2 | 0.7000 ± 0.1000 | 0.5000 ± 0.0000 |  |  | ")
    assert lines[5].startswith("| u | mlp probe | random | 1 |  |  | 2.0000 | 0.2500 | ")


def test_baseline_needs_a_domain_that_supplies_raw_columns(toy_domain, tmp_path):
    recipe_file = tmp_path / "toy.yaml"
    recipe_file.write_text("domain: toy\ntask:\n  name: frequency\n")
    recipe, _ = resolve_downstream(recipe_file, {}, None)
    with pytest.raises(JepaError, match="domain 'toy' has no raw-column baseline"):
        run_baseline(recipe, [0], tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_runs_share_the_store_of_their_folder_and_runs_elsewhere_get_their_own(tmp_path, monkeypatch):
    import sqlite3

    for folder, name in (("a", "first"), ("a", "second"), ("b", "third")):
        logger = make_logger(tmp_path / folder / name, "jepa-platform/test", tags={"jepa.version": "1"})
        logger.log_hyperparams({"run": name})
        logger.finalize("success")
    with sqlite3.connect(tmp_path / "a" / "mlflow.db") as db:
        assert sorted(db.execute("select key, value from params").fetchall()) == [("run", "first"), ("run", "second")]
        assert db.execute("select count(*) from experiments where name = 'jepa-platform/test'").fetchone() == (1,)
        assert db.execute("select count(*) from tags where key = 'jepa.version'").fetchone() == (2,)
    with sqlite3.connect(tmp_path / "b" / "mlflow.db") as db:
        assert db.execute("select key, value from params").fetchall() == [("run", "third")]

    chosen = f"sqlite:///{tmp_path / 'chosen.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", chosen)  # the user's choice wins
    logger = make_logger(tmp_path / "c" / "fourth", "jepa-platform/test")
    logger.log_hyperparams({"run": "fourth"})
    assert logger._tracking_uri == chosen and (tmp_path / "chosen.db").is_file()
    assert not (tmp_path / "c" / "mlflow.db").exists()


def test_runs_racing_to_create_their_experiment_find_the_one_made(tmp_path, monkeypatch):
    from jepa_platform.runs.tracking import ensure_experiment
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    ensure_experiment(uri, "jepa-platform/ecg", (tmp_path / "mlartifacts").as_uri())
    made = MlflowClient(tracking_uri=uri).get_experiment_by_name("jepa-platform/ecg")
    looked = []
    real = MlflowClient.get_experiment_by_name

    def not_yet_seen(self, name):  # the other process created it between this one's look and its create
        looked.append(name)
        return None if len(looked) == 1 else real(self, name)

    monkeypatch.setattr(MlflowClient, "get_experiment_by_name", not_yet_seen)
    ensure_experiment(uri, "jepa-platform/ecg", (tmp_path / "mlartifacts").as_uri())
    assert len(looked) == 2  # the failed create was retried, and found the experiment
    assert [e.experiment_id for e in MlflowClient(tracking_uri=uri).search_experiments()
            if e.name == "jepa-platform/ecg"] == [made.experiment_id]


def test_a_probe_head_of_another_pooling_is_refused(tmp_path):
    task = SimpleNamespace(name="rhythm", labels=SimpleNamespace(names=["a", "b"]))
    saved = {"mode": "probe", "task": "rhythm", "classes": ["a", "b"],
             "recipe": {"probe": {"head": "linear"}, "model": {"pooling": "mean"}}}
    head = build_head("linear", 8, 2, 2, pooling="max")
    path = tmp_path / "best.ckpt"
    torch.save({"hyper_parameters": saved, "state_dict": {f"head.{k}": v for k, v in head.state_dict().items()}}, path)
    with pytest.raises(JepaError, match="reads mean-pooled tokens, this run's max"):
        load_probe_head(head, path, task, "linear", "max")
    load_probe_head(build_head("linear", 8, 2, 2), path, task, "linear", "mean")  # the same pooling loads
