"""The tabular domain: reading CSV / Parquet, the train-only encoding, bad input, the tokenizer, regression
and classification tasks, the raw-column baseline and the CLI."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from jepa_domains.tabular import TabularDataConfig, TabularTaskConfig, plugin
from jepa_domains.tabular.dataset import load_splits
from jepa_domains.tabular.preprocess import split_rows
from jepa_platform.cli import main
from jepa_platform.domain.contract import cache_dir
from jepa_platform.downstream.config import resolve_downstream
from jepa_platform.downstream.run import run_downstream
from jepa_platform.errors import JepaError

from tests.helpers import RECIPES as RECIPE_ROOT
from tests.helpers import run_cli

RECIPES = RECIPE_ROOT / "tabular"

TINY_TABULAR = [
    "--model.embed_dim", "32", "--model.depth", "2", "--model.num_heads", "2",
    "--model.predictor_dim", "16", "--model.predictor_depth", "1", "--model.predictor_heads", "2",
    "--trainer.batch_size", "16", "--trainer.num_workers", "0",
]


def make_table(rows: int = 120, seed: int = 0) -> pd.DataFrame:
    """Numeric, categorical (one rare-heavy), boolean and datetime columns with missing values, target ``y``."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "age": rng.normal(40, 10, rows).round(1),
        "income": rng.lognormal(10, 1, rows),
        "city": rng.choice(["paris", "lyon", "nice"], rows),
        "code": [f"c{i}" for i in rng.integers(0, 40, rows)],
        "member": rng.random(rows) < 0.5,
        "joined": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 900, rows), unit="D"),
        "y": rng.choice(["no", "yes"], rows),
    })
    frame.loc[::7, "age"] = np.nan
    frame.loc[3::11, "city"] = None
    return frame


def splits_of(path: Path, **keys) -> tuple[TabularDataConfig, object]:
    """The data section as a resolved recipe holds it (with the fitted encoding), and its datasets."""
    data = plugin.resolve_data(TabularDataConfig(path=str(path), target="y", **keys), cache_dir())
    return data, load_splits(path, data)


def all_rows(dataset) -> dict[str, torch.Tensor]:
    return dataset.tensors


def test_csv_and_parquet_read_and_encode_alike(tmp_path: Path) -> None:
    frame = make_table()
    frame.to_csv(tmp_path / "t.csv", index=False)
    frame.to_parquet(tmp_path / "t.parquet", index=False)
    csv_data, csv_splits = splits_of(tmp_path / "t.csv", max_categories=8)
    pq_data, pq_splits = splits_of(tmp_path / "t.parquet", max_categories=8)

    assert csv_data.encoding == pq_data.encoding
    kinds = {f.name: f.kind for f in csv_data.encoding.features}
    assert kinds["age"] == kinds["income"] == kinds["joined.year"] == "numeric"
    assert kinds["city"] == kinds["code"] == kinds["member"] == "categorical"
    code = next(f for f in csv_data.encoding.features if f.name == "code")
    assert len(code.categories) == 7  # capped: the rest share the "other" index 0
    assert csv_splits.labels.names == ("no", "yes")
    for key, value in all_rows(csv_splits.train).items():
        assert torch.equal(value, all_rows(pq_splits.train)[key]), key

    train = all_rows(csv_splits.train)
    index = split_rows(len(frame), csv_data)["train"]
    names = [f.name for f in csv_data.encoding.features]
    for column in ("age", "city"):
        expected = torch.from_numpy(frame[column].isna().to_numpy()[index])
        assert torch.equal(train["missing"][:, names.index(column)], expected), column
    assert (train["categorical"][:, names.index("code") - len(csv_data.encoding.numeric)] == 0).any()


def test_column_types_inferred_and_overridden(tmp_path: Path) -> None:
    frame = make_table()
    frame["joined"] = frame["joined"].dt.strftime("%Y-%m-%d")  # ISO text dates, as pandas writes them
    frame.to_parquet(tmp_path / "t.parquet", index=False)
    data, _ = splits_of(tmp_path / "t.parquet", column_types={"age": "categorical", "income": "ignore"})
    kinds = {f.name: f.kind for f in data.encoding.features}
    assert kinds["joined.month"] == "numeric" and "joined" not in kinds
    assert kinds["age"] == "categorical" and "income" not in kinds


def test_a_folder_of_files_reads_as_one_table(tmp_path: Path) -> None:
    frame = make_table()
    frame.iloc[:60].to_csv(tmp_path / "a.csv", index=False)
    frame.iloc[60:].to_csv(tmp_path / "b.csv", index=False)
    _, splits = splits_of(tmp_path)
    assert len(splits.train) + len(splits.val) == len(frame) - round(0.15 * len(frame))


def test_statistics_are_fitted_on_the_training_rows_only(tmp_path: Path) -> None:
    frame = make_table()
    data = TabularDataConfig(path=str(tmp_path / "t.csv"), target="y")
    rows = split_rows(len(frame), data)
    frame.loc[rows["test"], "income"] = 1e9  # would move mean and std if test rows were used
    frame.loc[rows["test"], "city"] = "only-in-test"
    frame.to_csv(tmp_path / "t.csv", index=False)
    data, _ = splits_of(tmp_path / "t.csv")

    features = {f.name: f for f in data.encoding.features}
    train_income = frame.loc[rows["train"], "income"]
    assert features["income"].mean == pytest.approx(train_income.mean())
    assert features["income"].std == pytest.approx(train_income.std(ddof=0))
    assert "only-in-test" not in features["city"].categories


def test_saved_encoding_is_reused_not_refitted(tmp_path: Path) -> None:
    make_table().to_csv(tmp_path / "t.csv", index=False)
    data, _ = splits_of(tmp_path / "t.csv")
    make_table(seed=1).to_csv(tmp_path / "other.csv", index=False)
    again = TabularDataConfig.model_validate({**data.model_dump(), "path": str(tmp_path / "other.csv")})
    assert plugin.resolve_data(again, cache_dir()).encoding == data.encoding  # kept, not refitted
    refitted = plugin.resolve_data(again.model_copy(update={"encoding": None}), cache_dir())
    assert refitted.encoding != data.encoding  # the other table would have given other statistics


def test_tokenizer_gives_one_token_per_feature_and_missing_embeddings(tmp_path: Path) -> None:
    make_table().to_csv(tmp_path / "t.csv", index=False)
    data, splits = splits_of(tmp_path / "t.csv")
    tokenizer = plugin.build_tokenizer(data, 16)
    batch = {key: value[:5] for key, value in all_rows(splits.train).items()}
    tokens = tokenizer(batch).tokens
    features = len(data.encoding.features)
    assert tokenizer.grid.shape == (data.reg_tokens + features,) and not tokenizer.grid.ordered
    assert tokens.shape == (5, data.reg_tokens + features, 16)
    row, feature = torch.nonzero(batch["missing"])[0].tolist()
    assert torch.allclose(tokens[row, data.reg_tokens + feature], tokenizer.missing[feature])


@pytest.mark.parametrize(
    ("content", "target", "needle"),
    [
        (b"a,b,y\n1,2,x\n3,4\n", "y", "Expected 3 columns"),
        (b"a,b,y\n1,\xff\xfe,x\n2,3,z\n", "y", "column 'b'"),
        (b"a,b,y\n1,2,\n3,4,\n", "y", "target column 'y' is empty"),
        (b"a,b,y\n1,2,x\n3,4,x\n", "y", "target column 'y' has a single class"),
        (b"a,b,y\n1,2,x\n3,4,z\n", "label", "target column 'label' not found"),
    ],
    ids=["ragged", "undecodable", "empty-target", "one-class", "unknown-target"],
)
def test_bad_input_names_file_and_column(tmp_path: Path, content: bytes, target: str, needle: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(JepaError, match="bad.csv") as error:
        load_splits(path, TabularDataConfig(path=str(path), target=target, val_fraction=0, test_fraction=0))
    assert needle in str(error.value)


@pytest.mark.slow
def test_cli_pretrains_on_a_csv_probes_with_its_checkpoint_and_compares_with_trees(tmp_path: Path) -> None:
    make_table().to_csv(tmp_path / "table.csv", index=False)
    run = tmp_path / "run"
    pretrain = run_cli(
        "pretrain", "--domain", "tabular", "--data", str(tmp_path / "table.csv"), "--target", "y",
        "--max-steps", "2", "--out", str(run), *TINY_TABULAR, cwd=tmp_path,
    )
    assert pretrain.returncode == 0, pretrain.stderr[-2000:]
    assert "encoding:" in (run / "config.yaml").read_text()
    probe = run_cli(
        "probe", "--recipe", str(RECIPES / "classify.yaml"),
        "--checkpoint", str(run / "checkpoints" / "last.ckpt"), "--out", str(tmp_path / "probe"),
        "--probe.max_epochs", "1", cwd=tmp_path,
    )
    assert probe.returncode == 0, probe.stderr[-2000:]
    assert "test accuracy" in probe.stdout

    trees = run_cli(
        "baseline", "--recipe", str(RECIPES / "classify.yaml"), "--data", str(tmp_path / "table.csv"),
        "--data.target", "y", "--seeds", "2", "--out", str(tmp_path / "trees"),
        "--compare", str(tmp_path / "probe"), cwd=tmp_path,
    )
    assert trees.returncode == 0, trees.stderr[-2000:]
    results = json.loads((tmp_path / "trees" / "results.json").read_text())
    assert [entry["seed"] for entry in results["per_seed"]] == [0, 1]
    assert results["examples"] == {"train": 84, "val": 18, "test": 18}
    table = trees.stdout[trees.stdout.index("| task"):].splitlines()
    assert table[0] == "| task | method | init | seeds | accuracy | macro F1 | runs |"
    assert table[2].startswith("| target (table) | HistGradientBoosting (raw columns) | none | 2 | ")
    assert table[3].startswith("| target (table) | mlp probe | pretrained | 1 | ")


@pytest.mark.slow
def test_cli_reports_bad_target_in_one_line(tmp_path: Path) -> None:
    make_table().to_parquet(tmp_path / "table.parquet", index=False)
    result = run_cli(
        "pretrain", "--domain", "tabular", "--data", str(tmp_path / "table.parquet"), "--data.target", "nope",
        "--out", str(tmp_path / "run"), cwd=tmp_path,
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error:") and "table.parquet" in result.stderr
    assert "'nope' not found" in result.stderr


def test_diabetes_demo_is_a_regression_task_in_the_targets_units() -> None:
    from sklearn.datasets import load_diabetes

    data = TabularDataConfig(demo_table="diabetes", target="target")
    data = plugin.resolve_data(data, cache_dir())
    task = plugin.downstream_task(plugin.ensure_data(data, cache_dir()), data, TabularTaskConfig())
    assert task.labels.regression and task.labels.names == ("target",) and task.metric == "rmse"
    assert task.name == "target (diabetes)"
    rows = split_rows(442, data)
    assert torch.allclose(task.test.tensors["label"], torch.tensor(load_diabetes().target[rows["test"]], dtype=torch.float32))
    wine = TabularDataConfig(demo_table="wine", target="target")
    wine = plugin.resolve_data(wine, cache_dir())
    classes = plugin.downstream_task(plugin.ensure_data(wine, cache_dir()), wine, TabularTaskConfig())
    assert not classes.labels.regression and classes.labels.names == ("0", "1", "2") and classes.metric == "accuracy"


def test_mixtures_demo_hides_its_class_from_linear_models_but_not_from_the_features_joint_structure() -> None:
    from jepa_domains.tabular.demo import mixtures_frame
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    frame = mixtures_frame()
    numeric = frame.filter(like="x")
    assert frame.shape == (3000, 19) and numeric.shape[1] == 16
    assert 0.015 < numeric.isna().to_numpy().mean() < 0.025 and set(frame["sign_a"]) == {"up", "down"}
    assert frame["target"].value_counts().min() > 650  # four balanced classes
    x, y = numeric.fillna(0.0).to_numpy(), frame["target"].to_numpy()
    linear = LogisticRegression(max_iter=2000).fit(x[:2400], y[:2400]).score(x[2400:], y[2400:])
    trees = HistGradientBoostingClassifier(random_state=0).fit(x[:2400], y[:2400]).score(x[2400:], y[2400:])
    assert linear < 0.45 < 0.9 < trees  # chance is 0.25: the class lies in how features vary together
    data = plugin.resolve_data(TabularDataConfig(target="target"), cache_dir())  # the default demo table
    assert data.demo_table == "mixtures" and data.encoding is not None
    assert len(data.encoding.numeric) == 16 and len(data.encoding.categorical) == 2


def test_baseline_columns_are_the_raw_values_of_the_task_rows(tmp_path: Path) -> None:
    frame = make_table()
    frame.to_csv(tmp_path / "t.csv", index=False)
    data = TabularDataConfig(path=str(tmp_path / "t.csv"), target="y")
    data = plugin.resolve_data(data, cache_dir())
    raw = plugin.baseline_data(tmp_path / "t.csv", data, TabularTaskConfig())
    task = plugin.downstream_task(tmp_path / "t.csv", data, TabularTaskConfig())
    names = [f.name for f in task.data.encoding.features]
    rows = split_rows(len(frame), data)
    for split in ("train", "val", "test"):
        assert raw.features[split].shape == (len(rows[split]), len(names))
        assert np.array_equal(raw.labels[split], getattr(task, split).tensors["label"].numpy())
    age = raw.features["train"][:, names.index("age")]
    assert np.array_equal(age, frame["age"].to_numpy()[rows["train"]], equal_nan=True) and np.isnan(age).any()
    city = raw.features["train"][:, names.index("city")]
    assert np.array_equal(np.isnan(city), frame["city"].isna().to_numpy()[rows["train"]])
    assert raw.categorical.tolist() == [f.kind == "categorical" for f in task.data.encoding.features]


def test_regression_probe_keeps_the_epoch_of_lowest_validation_rmse(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200), "c": rng.choice(["u", "v"], 200)})
    frame["y"] = 50 + 20 * frame["a"] - 10 * frame["b"] + rng.normal(size=200)
    frame.to_csv(tmp_path / "t.csv", index=False)
    overrides = {
        "data": {"path": str(tmp_path / "t.csv"), "target": "y", "reg_tokens": 1},
        "model": {"embed_dim": 32, "depth": 1, "num_heads": 2, "predictor_dim": 16, "predictor_depth": 1},
        "probe": {"max_epochs": 6, "patience": 6, "lr": 1e-2, "final_lr": 1e-2},
    }
    recipe, _ = resolve_downstream(RECIPES / "regress.yaml", overrides, None)
    results = run_downstream(recipe, "probe", None, tmp_path / "run")
    assert results["metric"] == "rmse" and results["regression"] and set(results["test"]) == {"rmse", "mae", "r2"}
    with sqlite3.connect(tmp_path / "mlflow.db") as db:  # the store of the folder of runs
        history = [value for (value,) in db.execute("select value from metrics where key = 'val/rmse' order by step")]
    assert len(history) == 6 and results["best_val"] == pytest.approx(min(history))
    saved = torch.load(tmp_path / "run" / "checkpoints" / "best.ckpt", weights_only=True)["state_dict"]
    train = frame["y"].to_numpy()[split_rows(200, recipe.data)["train"]]
    assert saved["target_mean"].item() == pytest.approx(train.mean(), rel=1e-5)
    assert saved["target_std"].item() == pytest.approx(train.std(), rel=1e-5)
    assert results["test"]["rmse"] < frame["y"].std()  # better than predicting the mean


def test_a_classification_metric_on_a_regression_target_names_the_key(tmp_path: Path, capsys) -> None:
    make_table().to_csv(tmp_path / "t.csv", index=False)
    code = main(["probe", "--recipe", str(RECIPES / "classify.yaml"), "--data", str(tmp_path / "t.csv"),
                 "--data.target", "income", "--out", str(tmp_path / "run")])
    assert code == 2
    assert "regression task; its metric cannot be accuracy (task.metric)" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_the_nan_policy_of_signals_is_refused_for_tables(capsys) -> None:
    assert TabularDataConfig().nan_policy == "interpolate"  # the default passes: NaN is a missing value here
    code = main(["pretrain", "--domain", "tabular", "--data.nan_policy", "drop", "--print-config"])
    err = capsys.readouterr().err
    assert code == 2 and "data.nan_policy and data.max_nan_fraction apply to signals and rasters" in err
    assert "learned 'missing' token" in err
