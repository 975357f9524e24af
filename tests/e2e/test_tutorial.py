"""The audio plugin that docs/plugins.md builds, as the docs show it: it keeps the contract and pretrains on WAVs."""

from __future__ import annotations

import re
import shutil
import subprocess
from importlib.metadata import EntryPoint
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from jepa_platform.domain import JepaError, registry
from jepa_platform.pretrain.config import resolve_recipe
from jepa_platform.testing import check_domain

from tests.helpers import ROOT, cli_env, pip_install_elsewhere

TUTORIAL = ROOT / "docs" / "tutorial" / "audio_plugin"
DOC = ROOT / "docs" / "plugins.md"


def test_the_docs_show_the_tutorial_code_as_it_is():
    """Every file block of the tutorial (a block whose first line names the file) is that file, whole."""
    blocks = re.findall(r"```(?:python|toml)\n# (\S+)\n(.*?)```", DOC.read_text(), re.S)
    shown = {name: text for name, text in blocks}
    files = {p.relative_to(TUTORIAL).as_posix(): p for p in TUTORIAL.rglob("*") if p.suffix in (".py", ".toml")}
    assert set(shown) == set(files)
    for name, path in files.items():
        assert shown[name] == path.read_text(), f"docs/plugins.md shows another {name} than {path}"


@pytest.fixture
def audio_domain(monkeypatch):
    monkeypatch.syspath_prepend(str(TUTORIAL))
    audio = EntryPoint("audio", "jepa_audio:plugin", registry.ENTRY_POINT_GROUP)
    found = {**registry.domain_entry_points(), "audio": audio}
    monkeypatch.setattr(registry, "domain_entry_points", lambda: found)


def test_the_tutorial_plugin_keeps_the_contract(audio_domain, tmp_path):
    check_domain("audio", {"data": {"demo_files_per_class": 2}})
    from jepa_audio.config import AudioData
    from jepa_audio.dataset import load_splits

    too_short = "'data.frames_per_patch': data.clip_seconds 0.05 gives 6 spectrogram frames (data.hop_ms 10.0)"
    with pytest.raises(JepaError, match=re.escape(too_short)):
        resolve_recipe("audio", overrides={"data": {"clip_seconds": 0.05}})

    tokenizer = registry.load_domain("audio").build_tokenizer(AudioData(), 16)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # as under trainer.precision bf16-mixed
        tokens = tokenizer({"waveform": torch.randn(2, 16000)}).tokens
    assert tokens.shape == (2, 80, 16) and tokens.dtype == torch.bfloat16 and torch.isfinite(tokens).all()

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "broken.wav").write_bytes(b"RIFF\x00\x00")
    with pytest.raises(JepaError, match=r"broken\.wav: cannot read as a sound file"):
        load_splits(tmp_path, AudioData())


def write_wavs(folder: Path) -> None:
    """Two classes of tones: 16 kHz mono files and 8 kHz stereo files, 1.5 s each."""
    rng = np.random.default_rng(0)
    for name, pitch in (("low", 220.0), ("high", 1760.0)):
        (folder / name).mkdir(parents=True)
        for i, (rate, channels) in enumerate([(16000, 1)] * 4 + [(8000, 2)] * 4):
            time = np.arange(int(1.5 * rate)) / rate
            tone = np.sin(2 * np.pi * pitch * (1 + 0.05 * rng.normal()) * time)[:, None] * np.ones(channels)
            soundfile.write(folder / name / f"{i}.wav", 0.5 * tone + 0.01 * rng.normal(size=tone.shape), rate)


@pytest.mark.slow
def test_the_tutorial_plugin_installs_and_pretrains_on_a_folder_of_wav_files(tmp_path):
    ignored = shutil.ignore_patterns("*.egg-info", "__pycache__")
    package = shutil.copytree(TUTORIAL, tmp_path / "jepa-audio", ignore=ignored)
    python = pip_install_elsewhere(tmp_path / "venv", package)
    write_wavs(tmp_path / "wavs")

    def cli(*args: str) -> subprocess.CompletedProcess:
        command = [str(python), "-m", "jepa_platform.cli", *args]
        return subprocess.run(command, capture_output=True, text=True, env=cli_env(), timeout=300)

    out = tmp_path / "run"
    run = cli("pretrain", "--domain", "audio", "--data", str(tmp_path / "wavs"), "--out", str(out),
              "--trainer.max_steps", "2", "--trainer.batch_size", "8", "--trainer.num_workers", "0",
              "--model.preset", "vit_tiny", "--model.depth", "1", "--model.predictor_depth", "1")
    assert run.returncode == 0, run.stderr[-3000:]
    read = "16 files (8 of 2 channel(s) at 8000 Hz, 8 of 1 channel(s) at 16000 Hz), mixed to mono at 16000 Hz: 16 clips"
    assert read in run.stdout + run.stderr
    assert "Pretraining finished after 2 steps" in run.stdout and (out / "checkpoints" / "last.ckpt").is_file()
