"""Checkpoints are written atomically and loaded without running code from the file."""

from __future__ import annotations

import os

import pytest
import torch
from jepa_platform.errors import JepaError
from jepa_platform.runs import atomic as checkpoint
from jepa_platform.runs.atomic import atomic_torch_save, atomic_write_text, load_checkpoint


def test_a_failed_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "last.ckpt"
    atomic_torch_save({"step": 1, "w": torch.ones(3)}, path)

    def crash(obj, handle):
        handle.write(b"partial bytes of a checkpoint")
        raise KeyboardInterrupt  # as if the job were stopped mid-write

    monkeypatch.setattr(checkpoint.torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        atomic_torch_save({"step": 2}, path)
    monkeypatch.undo()
    assert load_checkpoint(path)["step"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"], "no temporary file is left behind"


def test_files_get_normal_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "config.yaml", "a: 1\n")
    finally:
        os.umask(umask)
    assert (tmp_path / "config.yaml").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "config.yaml").read_text() == "a: 1\n"


class Payload:
    def __reduce__(self):
        return (os.system, ("echo should-not-run",))


def test_loading_refuses_pickled_code(tmp_path):
    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "extra": Payload()}, path)
    with pytest.raises(JepaError, match="it refers to posix.system, which a weights-only load refuses") as refused:
        load_checkpoint(path)
    assert "weights_only=False" not in str(refused.value) and "weights_only` set to `False" not in str(refused.value)


@pytest.mark.parametrize(
    "damage, reason",
    [
        (lambda data: b"", "the file is empty"),
        (lambda data: data[: len(data) // 2], "it is truncated or not a PyTorch checkpoint"),
        (lambda data: os.urandom(len(data)), "it is truncated or not a PyTorch checkpoint"),
        (lambda data: data[:100] + bytes([data[100] ^ 0xFF]) + data[101:], "it"),  # a flipped byte in the pickle
    ],
    ids=["empty", "truncated", "random-bytes", "flipped-byte"],
)
def test_an_unreadable_checkpoint_says_why_and_never_advises_an_unsafe_load(tmp_path, damage, reason):
    path = tmp_path / "last.ckpt"
    atomic_torch_save({"state_dict": {"w": torch.ones(64)}, "global_step": 3}, path)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(JepaError) as refused:
        load_checkpoint(path)
    message = str(refused.value)
    assert message.startswith(f"{path}: cannot read as a checkpoint: {reason}"), message
    assert "\n" not in message and "weights_only" not in message
