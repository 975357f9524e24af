"""Demo tables, written as CSV and Parquet to the cache.

- ``mixtures`` (the default): a synthetic table whose class is the way its
  features vary together, not where they lie. Each row draws a class ``c`` and
  two latent factors ``u``; numeric feature ``j`` is ``tanh(W_c[j] · u)`` plus
  noise, so every class has the same zero-mean, similar marginals and a linear
  model of the raw columns is near chance, while the features of one row
  predict each other only through the class's mixing ``W_c``. Predicting masked
  features from the others, as JEPA pretraining does, needs the class. Two
  categorical columns (signs of two features' latent parts, as letters) and
  about 2% missing values exercise the tokenizer's other paths.
- ``wine``, ``breast_cancer``, ``digits``, ``diabetes``: the real data sets
  that ship inside scikit-learn.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .config import DemoTable

TARGET = "target"
MIXTURE_ROWS, MIXTURE_CLASSES, MIXTURE_FEATURES, MIXTURE_FACTORS = 3000, 4, 16, 2


def mixtures_frame(seed: int = 0):
    """The ``mixtures`` table (see the module docstring) as a pandas DataFrame."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(MIXTURE_CLASSES, MIXTURE_FEATURES, MIXTURE_FACTORS))
    classes = rng.integers(0, MIXTURE_CLASSES, MIXTURE_ROWS)
    factors = rng.normal(size=(MIXTURE_ROWS, MIXTURE_FACTORS))
    latent = np.einsum("nfl,nl->nf", mixing[classes], factors)
    values = np.tanh(latent) + 0.3 * rng.normal(size=latent.shape)
    values[rng.random(values.shape) < 0.02] = np.nan
    frame = pd.DataFrame(values.round(4), columns=[f"x{j:02d}" for j in range(MIXTURE_FEATURES)])
    for name, column in (("sign_a", 0), ("sign_b", 1)):
        frame[name] = np.where(latent[:, column] > 0, "up", "down")
    frame[TARGET] = np.array(["class_a", "class_b", "class_c", "class_d"])[classes]
    return frame


def write_demo(folder: Path, name: DemoTable) -> None:
    """Write ``name`` as ``<name>.csv`` and ``<name>.parquet`` into ``folder`` (once; atomic per file)."""
    paths = [folder / f"{name}.csv", folder / f"{name}.parquet"]
    if all(path.is_file() for path in paths):
        return
    if name == "mixtures":
        frame = mixtures_frame()
    else:
        from sklearn import datasets

        frame = getattr(datasets, f"load_{name}")(as_frame=True).frame
    folder.mkdir(parents=True, exist_ok=True)
    for path in paths:
        tmp = path.with_name(f".{path.name}.tmp")
        if path.suffix == ".csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_parquet(tmp, index=False)
        tmp.replace(path)
