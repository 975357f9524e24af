"""PTB-XL downstream tasks: label aggregation, the fold split, crops and sliding windows."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from jepa_domains.ecg import ECGDataConfig
from jepa_domains.ecg.demo import write_demo
from jepa_domains.ecg.labels import aggregate, label_table, ptbxl_labels, read_statements
from jepa_domains.ecg.readers import DATABASE, STATEMENTS
from jepa_domains.ecg.task import ECGCrops, ECGTaskConfig, build_task, window_starts
from jepa_platform.errors import JepaError

# A hand-made statement table: NDT is both diagnostic and form (as in PTB-XL); XDIAG is
# diagnostic without a class or subclass.
STATEMENT_TABLE = pd.DataFrame(
    [
        ("NORM", 1.0, None, None, "NORM", "NORM"),
        ("IMI", 1.0, None, None, "MI", "IMI"),
        ("ASMI", 1.0, None, None, "MI", "AMI"),
        ("NDT", 1.0, 1.0, None, "STTC", "STTC"),
        ("XDIAG", 1.0, None, None, None, None),
        ("LVOLT", None, 1.0, None, None, None),
        ("SR", None, None, 1.0, None, None),
        ("AFIB", None, None, 1.0, None, None),
    ],
    columns=["code", "diagnostic", "form", "rhythm", "diagnostic_class", "diagnostic_subclass"],
)
CODES = [
    {"NORM": 100.0, "SR": 0.0},
    {"IMI": 50.0, "ASMI": 0.0, "SR": 0.0},  # likelihood 0 counts
    {"NDT": 100.0, "LVOLT": 0.0},  # no rhythm statement
    {"AFIB": 0.0},  # no diagnostic statement
    {"XDIAG": 100.0, "SR": 0.0},  # diagnostic, but no class or subclass
]


@pytest.fixture
def statements(tmp_path: Path) -> Path:
    STATEMENT_TABLE.to_csv(tmp_path / STATEMENTS, index=False)
    return tmp_path


@pytest.mark.parametrize(
    "label_set, expected",
    [
        ("all", [{"NORM", "SR"}, {"IMI", "ASMI", "SR"}, {"NDT", "LVOLT"}, {"AFIB"}, {"XDIAG", "SR"}]),
        ("diagnostic", [{"NORM"}, {"IMI", "ASMI"}, {"NDT"}, set(), {"XDIAG"}]),
        ("subdiagnostic", [{"NORM"}, {"IMI", "AMI"}, {"STTC"}, set(), set()]),
        ("superdiagnostic", [{"NORM"}, {"MI"}, {"STTC"}, set(), set()]),
        ("form", [set(), set(), {"NDT", "LVOLT"}, set(), set()]),
        ("rhythm", [{"SR"}, {"SR"}, set(), {"AFIB"}, {"SR"}]),
    ],
)
def test_label_sets_aggregate_statements_whatever_their_likelihood(statements, label_set, expected):
    assert aggregate(CODES, read_statements(statements), label_set) == expected


def test_records_without_a_label_in_the_set_are_dropped(statements):
    table = ptbxl_labels(CODES, statements, "superdiagnostic", min_samples=0)
    assert table.classes == ("MI", "NORM", "STTC")
    assert table.labelled.tolist() == [True, True, True, False, False]
    assert table.multi_hot[1].tolist() == [1.0, 0.0, 0.0]  # IMI and ASMI are one MI
    rhythm = ptbxl_labels(CODES, statements, "rhythm", min_samples=0)
    assert rhythm.classes == ("AFIB", "SR") and rhythm.labelled.tolist() == [True, True, False, True, True]


def test_rare_classes_are_dropped_except_for_diagnostic(statements):
    # min_samples=1 keeps classes of more than one record: AFIB (1 record) goes, and record 4 with it.
    rhythm = ptbxl_labels(CODES, statements, "rhythm", min_samples=1)
    assert rhythm.classes == ("SR",) and rhythm.labelled.tolist() == [True, True, False, False, True]
    diagnostic = ptbxl_labels(CODES, statements, "diagnostic", min_samples=1)  # the reference never filters it
    assert diagnostic.classes == ("ASMI", "IMI", "NDT", "NORM", "XDIAG")
    assert label_table([{"a"}, {"a", "b"}], min_samples=0).multi_hot.tolist() == [[1.0, 0.0], [1.0, 1.0]]


def test_missing_statement_table_is_a_clear_error(tmp_path):
    with pytest.raises(JepaError, match=f"{tmp_path / STATEMENTS} does not exist"):
        ptbxl_labels(CODES, tmp_path, "form", min_samples=0)
    assert ptbxl_labels(CODES, tmp_path, "all", min_samples=0).classes[0] == "AFIB"  # 'all' needs no table


def test_window_starts_follow_the_stride_and_fit_in_the_record():
    assert window_starts(1000, 250, 125) == [0, 125, 250, 375, 500, 625, 750]  # 10 s, 2.5 s crops, 1.25 s stride
    assert window_starts(200, 250, 125) == [0]  # shorter than a crop: one padded crop
    assert window_starts(250, 250, 125) == [0]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 synthetic records (PTB-XL layout) with hand-set folds and labels: each fold one AFIB, one SR record."""
    root = write_demo(tmp_path_factory.mktemp("ptbxl") / "demo", 20, 100)
    database = pd.read_csv(root / DATABASE)
    database["strat_fold"] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] * 2
    database["scp_codes"] = [str({"AFIB": 0.0}) if i < 10 else str({"NORM": 100.0, "SR": 0.0}) for i in range(20)]
    database.loc[0, "scp_codes"] = str({"NORM": 100.0})  # no rhythm statement: dropped from 'rhythm'
    database.to_csv(root / DATABASE, index=False)
    return root


DATA = ECGDataConfig(sampling_rate=100, patch_ms=100.0)


def test_folds_split_train_validation_and_test(demo):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        task = build_task(demo, DATA, ECGTaskConfig(name="rhythm"), demo=False)
    assert task.name == "ptbxl-rhythm" and task.labels.names == ("AFIB", "SR") and task.metric == "macro_auc"
    assert task.data.window_seconds == 2.5 and task.data.sampling_rate == 100
    folds = {split: sorted(set(getattr(task, split).windows.meta["strat_fold"])) for split in ("train", "val", "test")}
    assert folds == {"train": [1, 2, 3, 4, 5, 6, 7, 8], "val": [9], "test": [10]}
    assert len(task.train) == 15  # 16 records of folds 1-8, less record 1 (no rhythm label)
    assert 1 not in set(task.train.windows.meta["ecg_id"])
    assert len(task.test) == 2 * 7  # two records, seven 2.5 s windows each
    sample = task.train[0]
    assert sample["signal"].shape == (12, 250) and sample["length"] == 250 and sample["label"].shape == (2,)


def test_sliding_windows_are_slices_of_the_record_sharing_its_group(demo):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        task = build_task(demo, DATA, ECGTaskConfig(name="rhythm"), demo=False)
    test = task.test
    record = test.windows.signals[1]
    views = [test[i] for i in range(7, 14)]
    assert {int(view["group"]) for view in views} == {int(test.groups[1])} != {int(test[0]["group"])}
    for start, view in zip(range(0, 751, 125), views):
        assert torch.equal(view["signal"], record[:, start : start + 250])
        assert torch.equal(view["label"], test.labels[1])


def test_random_training_crops_stay_inside_the_record():
    signals = torch.arange(2 * 12 * 1000, dtype=torch.float32).reshape(2, 12, 1000)
    from jepa_domains.ecg.dataset import ECGWindows

    windows = ECGWindows(signals, torch.ones(2, 12, dtype=torch.bool), torch.tensor([1000, 300]), pd.DataFrame({"r": [0, 1]}))
    crops = ECGCrops(windows, torch.eye(2), torch.arange(2), crop=250, stride=None)
    torch.manual_seed(0)
    starts = set()
    for _ in range(50):
        sample = crops[1]
        start = int(sample["signal"][0, 0] - signals[1, 0, 0])
        starts.add(start)
        assert 0 <= start <= 50 and sample["length"] == 250
    assert len(starts) > 5  # the crop moves
    assert len(crops) == 2


@pytest.mark.parametrize(
    "task, message",
    [
        (ECGTaskConfig(name="rhythm", test_folds=(11,)), r"test folds \[11\] \(task.test_folds\) hold no record"),
        (ECGTaskConfig(name="all", crop_seconds=12.0), "longer than the encoder's windows"),
        (ECGTaskConfig(name="all", crop_seconds=2.55), "not a whole number of 100.0 ms patches"),
    ],
    ids=["empty-test-fold", "crop-too-long", "crop-not-whole-patches"],
)
def test_bad_tasks_fail_clearly(demo, task, message):
    with pytest.raises(JepaError, match=message):
        build_task(demo, DATA, task, demo=False)


def test_a_record_folder_without_ptbxl_labels_is_refused(tmp_path):
    with pytest.raises(JepaError, match=f"task 'all' needs PTB-XL labels, but {tmp_path} has no {DATABASE}"):
        build_task(tmp_path, DATA, ECGTaskConfig(name="all"), demo=False)


def test_task_folds_must_be_disjoint():
    with pytest.raises(ValueError, match="must be non-empty and disjoint"):
        ECGTaskConfig(name="all", val_folds=(8,))
    assert np.isclose(ECGTaskConfig(name="form").eval_stride_seconds, 1.25)
