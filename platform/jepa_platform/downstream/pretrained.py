"""Pretrained encoders: read from a pretraining checkpoint or an exported folder, exported, rebuilt.

An exported encoder is a folder with ``encoder.safetensors`` (the weights) and
``config.json`` (domain, model and data sections). :func:`load_encoder` rebuilds
it from the domain's tokenizer and the core :class:`~jepa_platform.network.Encoder`
without importing Lightning.

Positional tables are computed from the token grid and not stored, so an
encoder pretrained on one window length loads into the grid of another (e.g.
10 s pretraining windows, 2.5 s downstream crops); learned tables must match.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from pydantic import ValidationError

from ..config import read_json
from ..domain.contract import DataConfig, DomainPlugin
from ..domain.registry import load_domain
from ..errors import JepaError
from ..model import Encoder, ModelConfig
from ..model import pooled as pooled_tokens
from ..runs.checkpoints import read_checkpoint as load_checkpoint  # torch only: no Lightning to embed a file
from .choices import Which

WEIGHTS_FILE = "encoder.safetensors"
CONFIG_FILE = "config.json"
FORMAT = "jepa-platform-encoder"

@dataclass
class Pretrained:
    """Encoder weights and what rebuilds them.

    Args:
        domain: The domain plugin's name.
        model: The recipe's ``model`` section.
        data: The recipe's ``data`` section the encoder was pretrained on.
        state: The encoder's state dict.
        source: Where the weights come from, for messages and results.
        step: The pretraining step, when known.
    """

    domain: str
    model: dict[str, Any]
    data: dict[str, Any]
    state: dict[str, torch.Tensor]
    source: str
    step: int | None = None
    run: dict[str, str] | None = None
    """The MLflow ``run_id`` and ``tracking_uri`` of the pretraining run, when known (its ``run.json``)."""


def pretraining_run(checkpoint: Path) -> dict[str, str] | None:
    """The MLflow run of the run folder holding ``checkpoint`` (``<run>/checkpoints/last.ckpt``), if any."""
    saved = checkpoint.parent.parent / "run.json"
    try:
        run = json.loads(saved.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(run, dict) or not {"run_id", "tracking_uri"} <= set(run):
        return None
    return {"run_id": str(run["run_id"]), "tracking_uri": str(run["tracking_uri"])}


def read_checkpoint(path: str | Path, which: Which = "target") -> Pretrained:
    """The encoder of a ``pretrain`` checkpoint (loaded with ``weights_only=True``)."""
    path = Path(path)
    if not path.is_file():
        raise JepaError(f"checkpoint {path} does not exist")
    checkpoint = load_checkpoint(path)
    recipe = checkpoint.get("hyper_parameters", {}).get("recipe") if isinstance(checkpoint, dict) else None
    if not isinstance(recipe, dict) or "domain" not in recipe or "state_dict" not in checkpoint:
        raise JepaError(f"{path} is not a jepa-platform pretraining checkpoint (no recipe in its hyper_parameters)")
    weights = checkpoint["state_dict"]
    has_teacher = any(key.startswith("teacher.") for key in weights)
    prefix = "teacher." if which == "target" and has_teacher else "encoder."
    state = {key.removeprefix(prefix): value for key, value in weights.items() if key.startswith(prefix)}
    if not state:
        raise JepaError(f"{path} holds no encoder weights (no '{prefix}' entries)")
    name = "EMA teacher" if prefix == "teacher." else ("context encoder" if which == "context" else "encoder")
    return Pretrained(
        domain=str(recipe["domain"]),
        model=dict(recipe.get("model", {})),
        data=dict(recipe.get("data", {})),
        state=state,
        source=f"{path} ({name}, step {checkpoint.get('global_step')})",
        run=pretraining_run(path),
        step=checkpoint.get("global_step"),
    )


def read_export(folder: str | Path) -> Pretrained:
    """An encoder written by :func:`export_encoder`."""
    from safetensors.torch import load_file

    folder = Path(folder)
    config_path, weights_path = folder / CONFIG_FILE, folder / WEIGHTS_FILE
    for needed in (config_path, weights_path):
        if not needed.is_file():
            raise JepaError(f"{folder} is not an exported encoder: {needed.name} is missing")
    config = read_json(config_path)
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise JepaError(f"{config_path}: not a jepa-platform encoder config (format is not '{FORMAT}')")
    missing = [key for key in ("domain", "model", "data") if key not in config]
    if missing:
        raise JepaError(f"{config_path}: missing keys {missing}")
    try:
        state = load_file(weights_path)
    except Exception as exc:
        raise JepaError(f"{weights_path}: cannot read safetensors: {exc}") from exc
    return Pretrained(
        domain=config["domain"], model=config["model"], data=config["data"], state=state,
        source=f"{folder} (exported from {config.get('source', 'unknown')})", step=config.get("step"),
        run=config.get("run"),
    )


def locate(path: str | Path) -> Path:
    """The checkpoint file or exported encoder folder ``path`` names; a run folder names its last checkpoint.

    Raises:
        JepaError: Nothing there, or a folder that is neither an exported encoder nor a pretraining run.
    """
    path = Path(path)
    if path.is_file() or (path / WEIGHTS_FILE).is_file():
        return path
    last = path / "checkpoints" / "last.ckpt"
    if last.is_file():
        return last
    if not path.exists():
        raise JepaError(f"{path} does not exist")
    raise JepaError(
        f"{path} is neither an exported encoder ({WEIGHTS_FILE}), a pretraining checkpoint nor a run folder "
        "(checkpoints/last.ckpt); 'jepa-platform export --checkpoint CKPT --out DIR' writes an encoder folder"
    )


def read_pretrained(path: str | Path, which: Which = "target") -> Pretrained:
    """A checkpoint file, a pretraining run folder (its last checkpoint) or an exported encoder folder."""
    path = locate(path)
    return read_export(path) if path.is_dir() else read_checkpoint(path, which)


def build_encoder(plugin: DomainPlugin, model: ModelConfig, data: DataConfig) -> Encoder:
    """A randomly initialized encoder of ``model``'s size on the token grid of ``data``."""
    return Encoder(plugin.build_tokenizer(data, model.embed_dim), model)


def load_weights(encoder: Encoder, pretrained: Pretrained) -> None:
    """Copy ``pretrained``'s weights into ``encoder``; every tensor must match by name and shape."""
    own = encoder.state_dict()
    missing = sorted(set(own) - set(pretrained.state))
    unexpected = sorted(set(pretrained.state) - set(own))
    wrong = [k for k in own if k in pretrained.state and own[k].shape != pretrained.state[k].shape]
    if missing or unexpected or wrong:
        problems = [f"{label}: {', '.join(keys[:3])}" for label, keys in
                    (("missing", missing), ("unexpected", unexpected), ("other shape", wrong)) if keys]
        raise JepaError(f"{pretrained.source}: weights do not fit the encoder ({'; '.join(problems)})")
    encoder.load_state_dict(pretrained.state)


def encoder_configs(
    pretrained: Pretrained, data: dict[str, Any] | None = None
) -> tuple[DomainPlugin, ModelConfig, DataConfig]:
    """The plugin and validated model and data sections of ``pretrained`` (``data`` overrides keys)."""
    plugin = load_domain(pretrained.domain)
    try:
        model = ModelConfig.model_validate(pretrained.model)
        data_config = plugin.data_config.model_validate({**pretrained.data, **(data or {})})
    except ValidationError as exc:
        raise JepaError(f"{pretrained.source}: invalid saved configuration: {exc.errors()[0]['msg']}") from None
    return plugin, model, data_config


class PretrainedEncoder(Encoder):
    """An encoder with its domain plugin and ``data`` section, so it embeds files as training read its data."""

    def __init__(self, plugin: DomainPlugin, model: ModelConfig, data: DataConfig) -> None:
        super().__init__(plugin.build_tokenizer(data, model.embed_dim), model)
        self.plugin = plugin
        self.data = data

    @torch.no_grad()
    def embed(self, item: str | Path | Mapping[str, Any], pooled: bool = True) -> torch.Tensor:
        """The embedding of a file or of one sample.

        Args:
            item: A file path, read by the domain's :meth:`~jepa_platform.domain.DomainPlugin.read_file`
                (e.g. an ECG ``.hea`` record, an EEG ``.edf``, a SAR GeoTIFF chip, a CSV of table rows),
                or one sample as a dataset gives it (a mapping of arrays without a batch axis).
            pooled: ``True``: each sample's valid tokens pooled by ``model.pooling`` (their mean unless the
                recipe said otherwise); ``False``: every token.

        Returns:
            For a file, one row per sample it gives (a record's windows, a table's rows): ``S × D`` (``S × 2D``
            for ``mean_std`` pooling), or ``S × N × D`` unpooled; for one sample ``D`` or ``N × D``.
            Float32 on the encoder's device.
        """
        single = isinstance(item, Mapping)
        samples = item if single else self.plugin.read_file(Path(item), self.data)
        device = next(self.parameters()).device
        batch = {
            key: torch.as_tensor(value).unsqueeze(0) if single else torch.as_tensor(value)
            for key, value in samples.items() if key not in ("label", "group")
        }
        batch = {key: value.to(device) for key, value in batch.items()}
        was_training = self.training
        self.eval()
        tokens = self(batch).float()
        valid = self.tokenizer.valid_mask(batch)
        self.train(was_training)
        result = pooled_tokens(tokens, None if valid is None else valid.to(device), self.pooling) if pooled else tokens
        return result[0] if single else result


def load_encoder(
    path: str | Path, data: dict[str, Any] | None = None, encoder: Which = "target"
) -> PretrainedEncoder:
    """Rebuild a pretrained encoder (in eval mode) without Lightning; ``.embed(file)`` embeds a file.

    Args:
        path: A folder written by ``jepa-platform export``, a pretraining checkpoint, or a pretraining
            run folder (its ``checkpoints/last.ckpt``).
        data: Overrides of the saved ``data`` section, e.g. ``{"window_seconds": 2.5}``
            for another window length (the positional table follows the new grid).
        encoder: Of a checkpoint: ``target`` (the EMA teacher; the encoder itself without one) or ``context``.
    """
    pretrained = read_pretrained(path, encoder)
    plugin, model, data_config = encoder_configs(pretrained, data)
    loaded = PretrainedEncoder(plugin, model, data_config)
    load_weights(loaded, pretrained)
    return loaded.eval()


def export_encoder(checkpoint: str | Path, out: str | Path, which: Which = "target") -> Path:
    """Write a checkpoint's encoder to ``out`` as safetensors + JSON (all or nothing)."""
    from safetensors.torch import save_file

    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise JepaError(f"{out} already exists and is not empty; choose another --out")
    pretrained = read_checkpoint(checkpoint, which)
    encoder_configs(pretrained)  # the saved configuration rebuilds an encoder
    config = {
        "format": FORMAT,
        "domain": pretrained.domain,
        "model": pretrained.model,
        "data": pretrained.data,
        "encoder": which,
        "source": pretrained.source,
        "step": pretrained.step,
        "run": pretrained.run,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)  # mkdtemp makes owner-only folders
    try:
        save_file({k: v.contiguous() for k, v in pretrained.state.items()}, staging / WEIGHTS_FILE)
        (staging / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
        if out.exists():
            out.rmdir()
        os.rename(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out
