"""EEG domain: channel names, scalp grid, reader and its errors, preprocessing, splits, tokens, CLI."""

from __future__ import annotations

import warnings
from pathlib import Path

import mne
import numpy as np
import pytest
import torch
from jepa_domains.eeg.channels import CHANNELS_1020, normalize_channel, scalp_cells
from jepa_domains.eeg.config import EEGDataConfig
from jepa_domains.eeg.dataset import load_splits, load_windows, pretrain_split
from jepa_domains.eeg.demo import write_demo
from jepa_domains.eeg.preprocess import filter_resample, windows
from jepa_domains.eeg.readers import NoChannels, find_recordings, read_recording
from jepa_domains.eeg.tokenizer import EEGTubeletTokenizer
from jepa_platform.cli import main
from jepa_platform.errors import JepaError
from jepa_platform.masking import TubeMaskingConfig, build_masking
from jepa_platform.masking.plot import INVALID, sample_masks, token_roles

from tests.helpers import run_cli

FAST = EEGDataConfig(sampling_rate=100, l_freq=0.5, h_freq=40, notch_freq=None, window_seconds=4, hop_seconds=2)


def write_edf(path: Path, names: list[str], seconds: float = 12.0, rate: float = 250.0, seed: int = 0) -> Path:
    """An EDF file written by mne/edfio (not the demo writer): random microvolt signals."""
    rng = np.random.default_rng(seed)
    info = mne.create_info(names, rate, "eeg")
    raw = mne.io.RawArray(rng.normal(0, 20e-6, (len(names), int(seconds * rate))), info, verbose="error")
    path.parent.mkdir(parents=True, exist_ok=True)
    mne.export.export_raw(path, raw, fmt="edf", verbose="error")
    return path


@pytest.mark.parametrize(
    ("name", "expected"),
    [("EEG FP1-REF", "Fp1"), ("Fp1", "Fp1"), ("FP1-LE", "Fp1"), ("EEG CZ-LE", "Cz"), ("eeg o2-ref", "O2"),
     ("T7", "T3"), ("EEG P8-REF", "T6"), ("EKG1-REF", None), ("EEG T1-REF", None), ("PHOTIC-REF", None)],
)
def test_channel_names_normalize(name: str, expected: str | None) -> None:
    assert normalize_channel(name) == expected


def test_scalp_grid_layout() -> None:
    cells = {name: tuple(cell) for name, cell in zip(CHANNELS_1020, scalp_cells().tolist())}
    assert len(set(cells.values())) == 19  # one electrode per cell of the 5 x 5 grid
    assert cells["Fp1"] == (0, 1) and cells["Fp2"] == (0, 3) and cells["Cz"] == (2, 2)
    assert cells["T3"] == (2, 0) and cells["T4"] == (2, 4) and cells["O1"] == (4, 1) and cells["O2"] == (4, 3)
    assert [cells[n][1] for n in ("F7", "F3", "Fz", "F4", "F8")] == [0, 1, 2, 3, 4]


def test_reader_few_channels_nonstandard_names(tmp_path: Path) -> None:
    path = write_edf(tmp_path / "few.edf", ["EEG FP1-LE", "c3", "EEG CZ-REF", "EKG1-REF"], rate=256.0)
    signal, present, rate = read_recording(path, CHANNELS_1020)
    assert rate == 256.0 and signal.shape == (19, 12 * 256)
    assert [c for c, p in zip(CHANNELS_1020, present) if p] == ["Fp1", "C3", "Cz"]
    assert np.abs(signal[~present]).max() == 0 and signal[present].std() > 1e-6
    with pytest.warns(UserWarning, match="missing, marked invalid"):
        loaded = load_windows(find_recordings(tmp_path), FAST)
    assert loaded.present.sum(dim=1).tolist() == [3] * len(loaded)
    tokenizer = EEGTubeletTokenizer(CHANNELS_1020, FAST.window_size, FAST.frame_size, 16)
    valid = tokenizer.valid_mask({"present": loaded.present[:1]})
    assert valid.shape == (1, 4 * 25) and int(valid.sum()) == 3 * 4


def test_recordings_without_any_channel_are_skipped(tmp_path: Path) -> None:
    write_edf(tmp_path / "a" / "good.edf", list(CHANNELS_1020))
    write_edf(tmp_path / "b" / "ecg.edf", ["EKG1-REF", "PHOTIC-REF"])
    with pytest.warns(UserWarning, match="skipped 1 of 2 recordings"):
        loaded = load_windows(find_recordings(tmp_path), FAST)
    assert len(loaded) == 5 and bool(loaded.present.all())  # 12 s, 4 s windows every 2 s


def test_corrupt_truncated_and_empty(tmp_path: Path) -> None:
    good = write_edf(tmp_path / "good.edf", list(CHANNELS_1020))
    corrupt = tmp_path / "corrupt.edf"
    header = bytearray(good.read_bytes())
    header[236:244] = b"xx      "  # number of data records
    corrupt.write_bytes(bytes(header))
    with pytest.raises(JepaError, match=r"corrupt\.edf: corrupted EDF header"):
        read_recording(corrupt, CHANNELS_1020)
    truncated = tmp_path / "truncated.edf"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(JepaError, match=r"truncated\.edf: truncated file"):
        read_recording(truncated, CHANNELS_1020)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no recordings here")
    with pytest.raises(JepaError, match=r"empty: no EDF/BDF files"):
        find_recordings(tmp_path / "empty")


def test_filter_resample_shapes_and_window_counts() -> None:
    rng = np.random.default_rng(1)
    t = np.arange(250 * 30) / 250
    signal = np.sin(2 * np.pi * 10 * t)[None] + np.sin(2 * np.pi * 60 * t)[None] + rng.normal(0, 0.1, (19, t.size))
    out = filter_resample(signal, 250.0, FAST, Path("x.edf"))
    assert out.shape == (19, 3000)
    spectrum = np.abs(np.fft.rfft(out[0]))
    freqs = np.fft.rfftfreq(out.shape[1], 1 / 100)
    assert spectrum[np.argmin(np.abs(freqs - 10))] > 50 * spectrum[(freqs > 45)].max()  # 60 Hz gone
    assert windows(out, 400, 200).shape == (14, 19, 400)  # (3000 - 400) // 200 + 1
    assert windows(out, 1000, 1000).shape == (3, 19, 1000)
    assert windows(out[:, :399], 400, 200).shape == (0, 19, 400)
    too_slow = r"x\.edf: sampled at 1 Hz, too slow for the band from data\.l_freq 0\.5 Hz"
    with pytest.warns(UserWarning, match="low-pass at 0.45 Hz instead"), pytest.raises(JepaError, match=too_slow):
        filter_resample(signal[:, :30], 1.0, FAST, Path("x.edf"))


def test_filters_adapt_to_a_slow_recording() -> None:
    """At 128 Hz the 75 Hz low-pass drops to 57.6 Hz (one warning); the 50 Hz notch fits and still works."""
    t = np.arange(128 * 30) / 128
    signal = (np.sin(2 * np.pi * 10 * t) + np.sin(2 * np.pi * 50 * t))[None]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = filter_resample(signal, 128.0, EEGDataConfig(), Path("slow.edf"))
    assert [str(w.message) for w in caught] == [
        ("slow.edf: sampled at 128 Hz, data.h_freq 75 Hz is above 0.45 x the rate (Nyquist 64 Hz); "
         "low-pass at 57.6 Hz instead")
    ]
    spectrum = np.abs(np.fft.rfft(out[0]))
    freqs = np.fft.rfftfreq(out.shape[1], 1 / 200)
    assert out.shape == (1, 6000)
    assert spectrum[np.argmin(np.abs(freqs - 10))] > 100 * spectrum[np.argmin(np.abs(freqs - 50))]  # notched


def test_filter_warnings_once_per_recording_not_per_window(tmp_path: Path) -> None:
    # 100 Hz: the 50 Hz notch sits at Nyquist and is skipped; 14 windows of 4 s every 2 s per file
    write_edf(tmp_path / "a" / "hundred.edf", ["Fp1", "Cz"], seconds=30.0, rate=100.0)
    write_edf(tmp_path / "b" / "fast.edf", ["Fp1", "Cz"], seconds=30.0, rate=250.0)
    config = EEGDataConfig(window_seconds=4, hop_seconds=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = load_windows(find_recordings(tmp_path), config)
    filters = [str(w.message) for w in caught if "sampled at" in str(w.message)]
    assert len(loaded) == 2 * 14
    slow = tmp_path / "a" / "hundred.edf"
    assert filters == [
        f"{slow}: sampled at 100 Hz, data.h_freq 75 Hz is above 0.45 x the rate (Nyquist 50 Hz); "
        + "low-pass at 45 Hz instead",
        f"{slow}: sampled at 100 Hz, data.notch_freq 50 Hz does not fit below the Nyquist frequency (50 Hz); "
        + "no notch filter",
    ]


def test_a_window_too_small_to_mask_names_the_recording(tmp_path: Path) -> None:
    write_edf(tmp_path / "two.edf", ["Fp1", "Cz"])
    write_edf(tmp_path / "one.edf", ["Fp1", "EKG1-REF"])
    one_frame = FAST.model_copy(update={"window_seconds": 1.0, "hop_seconds": 1.0, "val_percent": 0.0})
    expected = (r"one\.edf: 1 valid channel\(s\) x 1 frame\(s\) per window = 1 valid token\(s\), fewer than the 2 "
                r"masking needs .* raise data\.window_seconds or lower data\.frame_seconds")
    with pytest.warns(UserWarning, match="missing, marked invalid"), pytest.raises(JepaError, match=expected):
        load_splits(tmp_path, one_frame)
    (tmp_path / "one.edf").unlink()
    with pytest.warns(UserWarning, match="missing, marked invalid"):
        splits = load_splits(tmp_path, one_frame)
    assert len(splits.train) == 12  # two channels, 2 tokens per window: 12 s in 1 s windows


def test_tuab_split_is_patient_disjoint(tmp_path: Path) -> None:
    write_demo(tmp_path / "tuab", 16)
    recordings = find_recordings(tmp_path / "tuab")
    assert {r.split for r in recordings} == {"train", "eval"} and {r.label for r in recordings} == {0, 1}
    splits = {name: {r.patient for r in recordings if pretrain_split(r, 30.0) == name} for name in ("train", "val", "eval")}
    assert all(splits.values())
    assert not (splits["train"] & splits["val"]) and not (splits["train"] | splits["val"]) & splits["eval"]


def test_tokenizer_places_electrodes_on_grid() -> None:
    tokenizer = EEGTubeletTokenizer(CHANNELS_1020, 300, 100, 8)
    signal = torch.zeros(2, 19, 300)
    signal[:, CHANNELS_1020.index("Cz")] = 1.0
    present = torch.ones(2, 19, dtype=torch.bool)
    batch = tokenizer({"signal": signal, "present": present})
    silent = tokenizer({"signal": torch.zeros_like(signal), "present": present})
    moved = (batch.tokens - silent.tokens).reshape(2, 3, 5, 5, 8).abs().sum(dim=(0, 1, 4)) > 1e-6
    assert moved.nonzero().tolist() == [[2, 2]]
    assert tokenizer.grid.shape == (3, 5, 5) and int(batch.valid.sum()) == 2 * 3 * 19


def test_cli_pretrain_and_masks(tmp_path: Path) -> None:
    run = run_cli(
        "pretrain", "--domain", "eeg", "--out", str(tmp_path / "run"), "--max-steps", "3", "--data.demo_patients", "16",
        "--model.depth", "1", "--model.predictor_depth", "1", "--trainer.batch_size", "8",
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert (tmp_path / "run" / "checkpoints" / "last.ckpt").exists()
    masks = run_cli("masks", "--domain", "eeg", "--out", str(tmp_path / "m.png"))
    assert masks.returncode == 0, masks.stderr[-2000:]
    assert "token grid 5 x 5 x 5" in masks.stdout or (tmp_path / "m.png").stat().st_size > 1000
    bad = run_cli("pretrain", "--domain", "eeg", "--data", str(tmp_path / "run" / "checkpoints"), "--max-steps", "1")
    assert bad.returncode != 0 and "no EDF/BDF files" in bad.stderr


def test_cli_pretrains_a_128hz_one_channel_edf_plus_with_defaults(tmp_path: Path) -> None:
    """A consumer-style recording: EDF+, one channel at 128 Hz, pretrained with no flags but the step count."""
    path = write_edf(tmp_path / "data" / "home128.edf", ["Fp1"], seconds=60.0, rate=128.0)
    assert path.read_bytes()[192:197] == b"EDF+C"
    run = run_cli("pretrain", "--domain", "eeg", "--data", str(path.parent), "--out", str(tmp_path / "run"),
                  "--max-steps", "2")
    assert run.returncode == 0, run.stderr[-2000:]
    assert (tmp_path / "run" / "checkpoints" / "last.ckpt").exists()
    low_pass = (f"{path}: sampled at 128 Hz, data.h_freq 75 Hz is above 0.45 x the rate (Nyquist 64 Hz); "
                "low-pass at 57.6 Hz instead")
    assert run.stderr.count(low_pass) == 1, run.stderr[-2000:]
    assert "data.notch_freq" not in run.stderr  # 50 Hz fits below the 64 Hz Nyquist frequency: the notch runs


def generator_file(name: str) -> Path:
    """An EDF+/BDF file made by EDFbrowser's test generator, shipped inside the pyedflib wheel."""
    from importlib.resources import files

    return Path(str(files("pyedflib") / "tests" / "data" / name))


def test_reader_on_outside_edf_with_one_of_the_19_channels(tmp_path: Path) -> None:
    # test_subsecond.edf: EDF+, one channel "Fp1" at 128 Hz, 698 s, data records shorter than a second
    source = generator_file("test_subsecond.edf")
    signal, present, rate = read_recording(source, CHANNELS_1020)
    assert rate == 128.0 and signal.shape == (19, 89344)
    assert [c for c, p in zip(CHANNELS_1020, present) if p] == ["Fp1"] and signal[0].std() > 0
    (tmp_path / "rec").mkdir()
    (tmp_path / "rec" / source.name).symlink_to(source)
    config = FAST.model_copy(update={"max_seconds": 60.0})
    with pytest.warns(UserWarning, match="missing, marked invalid"):
        loaded = load_windows(find_recordings(tmp_path), config)
    assert len(loaded) == 29  # 60 s at 100 Hz, 4 s windows every 2 s
    assert loaded.present.sum(dim=1).tolist() == [1] * 29
    assert torch.isfinite(loaded.signals).all() and float(loaded.signals[:, 1:].abs().max()) == 0


def test_reader_on_outside_bdf_without_eeg_channels(tmp_path: Path) -> None:
    # a 24-bit BDF with test signals ("sine 2.5Hz", "pink noise", ...): read, then skipped with a count
    source = generator_file("test_generator_datarec_generator_2.bdf")
    with pytest.raises(NoChannels, match=r"generator_2\.bdf: none of the channels .*sine 2\.5Hz"):
        read_recording(source, CHANNELS_1020)
    write_edf(tmp_path / "a" / "good.edf", list(CHANNELS_1020))
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / source.name).symlink_to(source)
    with pytest.warns(UserWarning, match="skipped 1 of 2 recordings"):
        assert len(load_windows(find_recordings(tmp_path), FAST)) == 5


def test_masks_are_drawn_as_in_training_never_on_the_cells_without_an_electrode(tmp_path, capsys) -> None:
    tokenizer = EEGTubeletTokenizer(CHANNELS_1020, 500, 100, 8)
    static = tokenizer.static_valid_mask()
    empty = [cell for cell in range(25) if not static[cell]]
    assert len(empty) == 6 and static.reshape(5, 25).eq(static[:25]).all()
    strategy = build_masking(TubeMaskingConfig(min_context=8))
    masks, valid = sample_masks(strategy, tokenizer, 6, torch.Generator().manual_seed(0))
    roles = token_roles(masks, 125, valid).reshape(6, 5, 25)
    assert (roles[:, :, empty] == INVALID).all() and (roles[:, :, static[:25]] != INVALID).all()

    assert main(["masks", "--domain", "eeg", "--out", str(tmp_path / "m.png")]) == 0
    assert "of 125 tokens, 30 never valid" in capsys.readouterr().out
