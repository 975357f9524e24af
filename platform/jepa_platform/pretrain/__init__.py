"""Pretraining: the recipe, the JEPA LightningModule, the run with its callbacks and monitoring, and its commands.

The package is callable: ``jepa_platform.pretrain(domain="ecg", ...)`` is :func:`jepa_platform.api.pretrain`
(pretrain an encoder and return the run's summary), so the Python API reads like the command line.
"""

import sys
from types import ModuleType
from typing import Any


class _CallablePackage(ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from .run import run_pretraining

        return run_pretraining(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
