"""The plugin API: everything a domain plugin imports from the core, and nothing else.

A plugin's modules import from ``jepa_platform.domain`` alone. The names that
need torch (the token grid, tokenizers, target functions, auxiliary losses,
predictor conditioning) are imported on
first use, so a plugin's light ``__init__`` keeps ``jepa-platform domains
list`` fast.
"""

from typing import TYPE_CHECKING, Any

from ..config import Section
from ..errors import JepaError, one_line
from .badfiles import BadFiles
from .contract import (
    BaselineData,
    DataConfig,
    DatasetSplits,
    DomainPlugin,
    DownstreamTask,
    LabelSpec,
    Metric,
    PreparedSamples,
    PreparedShards,
    PrepareSource,
    TaskConfig,
    cache_dir,
)
from .missing import NanPolicy, NanReport, NanWindows, apply_nan_policy, check_nan, fill_linear, resample_missing
from .registry import ENTRY_POINT_GROUP, list_domains, load_domain
from .splits import Holdout, holdout_mask, in_holdout, split_holdout

if TYPE_CHECKING:
    from .auxiliary import AuxiliaryLoss
    from .conditioning import PredictorConditioning
    from .targets import TargetFunction
    from .tokens import MIN_VALID_TOKENS, TokenBatch, TokenGrid, Tokenizer

_LAZY = {
    "AuxiliaryLoss": "auxiliary",
    "MIN_VALID_TOKENS": "tokens", "TokenBatch": "tokens", "TokenGrid": "tokens", "Tokenizer": "tokens",
    "TargetFunction": "targets", "PredictorConditioning": "conditioning",
}

__all__ = [
    "AuxiliaryLoss", "ENTRY_POINT_GROUP", "MIN_VALID_TOKENS", "BadFiles", "BaselineData", "DataConfig", "DatasetSplits",
    "DomainPlugin",
    "DownstreamTask", "Holdout", "JepaError", "LabelSpec", "Metric", "NanPolicy", "NanReport", "NanWindows",
    "PredictorConditioning", "PrepareSource", "PreparedSamples", "PreparedShards", "Section", "TargetFunction",
    "TaskConfig", "TokenBatch",
    "TokenGrid", "Tokenizer", "apply_nan_policy", "cache_dir", "check_nan", "fill_linear", "holdout_mask",
    "in_holdout", "list_domains", "load_domain", "one_line", "resample_missing", "split_holdout",
]


def __getattr__(name: str) -> Any:
    """The torch-backed names of :data:`_LAZY`, imported when first asked for."""
    if name in _LAZY:
        from importlib import import_module

        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
