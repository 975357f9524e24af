"""jepa-platform: Joint-Embedding Predictive Architecture pretraining, one core and a plugin per domain.

The Python API (see :mod:`jepa_platform.api`)::

    import jepa_platform as jp

    run = jp.pretrain(domain="ecg", trainer={"max_steps": 200})   # returns the run's summary
    jp.probe(recipe="recipes/ecg/ptbxl-all.yaml", checkpoint=run.out)
    encoder = jp.load_encoder(run.out)                            # a run folder, checkpoint or export
    vector = encoder.embed("record.hea")                          # one file, preprocessed as in training

Importing the package is light: each name imports what it needs on first use.
"""

from importlib import import_module as _import_module
from typing import Any as _Any

from . import pretrain  # a callable package: ``pretrain(domain=...)`` runs :func:`jepa_platform.api.pretrain`
from .version import __version__

_API = {
    "pretrain_recipe": "api", "probe": "api", "finetune": "api", "export": "api",
    "load_encoder": "downstream.pretrained", "RunSummary": "pretrain.run", "JepaError": "errors",
}

__all__ = ["__version__", "pretrain", *_API]


def __getattr__(name: str) -> _Any:
    """The API's names, imported on first use (the command line stays fast without torch)."""
    if name in _API:
        return getattr(_import_module(f".{_API[name]}", __name__), name)
    raise AttributeError(f"module 'jepa_platform' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
