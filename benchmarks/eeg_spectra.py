"""How much of the EEG classes the windows' spectra hold, and how much of the spectra an encoder's tokens carry.

For each EEG pretraining run folder, on the monitor's fixed training and
validation windows (``monitor.samples``, the run's seed), with the run's
spectral target function (``jepa_domains.eeg.targets``, as the code stands):

- **hand-made probe**: the monitor's linear probe fitted on each window's
  targets averaged over its tokens (one log band power per band), the score a
  readout of the window's average spectrum alone reaches;
- **R² of own spectra**: ridge regression from each valid token's embedding to
  its own targets, fitted on the training windows and scored on the
  validation windows (mean R² over the bands), for the run's target encoder
  and for the monitor's random-init encoder of the same seed;
- **spectral loss baselines**: the smooth L1 loss (the objective's default) of
  predicting every token's targets by the average over all windows, and by its
  own window's average: where a run's ``train/domain_loss`` ends against these
  says how much beyond the average spectrum its predictor learned.

    .venv/bin/python benchmarks/eeg_spectra.py runs/eeg-s0 runs/eeg-s1 runs/eeg-s2
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from jepa_platform.downstream.pretrained import load_encoder
from jepa_platform.model import Encoder
from jepa_platform.pretrain.monitor import encoded, labels_of
from jepa_platform.pretrain.probe import linear_probe
from readout import monitor_view, run_config

RIDGE = 1.0
"""The ridge penalty on standardized token embeddings."""


def spectra(
    targets: torch.nn.Module, tokenizer: Any, batches: list[dict[str, Any]]
) -> tuple[torch.Tensor, torch.Tensor]:
    """The targets of every token of ``batches`` (``B × N × bands``) and which tokens are valid (``B × N``)."""
    return torch.cat([targets(batch) for batch in batches]), torch.cat([tokenizer.valid_mask(b) for b in batches])


def embeddings(encoder: Encoder, batches: list[dict[str, Any]]) -> torch.Tensor:
    """The encoder's tokens of ``batches`` as the monitor encodes them, ``B × N × D`` on the CPU."""
    return torch.cat([tokens for tokens, _ in encoded(encoder, batches, torch.device("cpu"))])


def window_average(values: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Each window's average over its valid tokens, ``B × bands``."""
    return (values * valid[..., None]).sum(1) / valid.sum(1, keepdim=True)


def ridge_r2(train: tuple[torch.Tensor, torch.Tensor], val: tuple[torch.Tensor, torch.Tensor]) -> float:
    """Mean validation R² over the target columns of a ridge regression on standardized inputs."""
    (x, y), (xv, yv) = train, val
    mean, std = x.mean(0), x.std(0).clamp(min=1e-6)
    x, xv = (x - mean) / std, (xv - mean) / std
    x, xv = F.pad(x, (0, 1), value=1.0), F.pad(xv, (0, 1), value=1.0)  # an intercept column
    weights = torch.linalg.solve(x.T @ x + RIDGE * torch.eye(x.shape[1]), x.T @ y)
    residual = ((xv @ weights - yv) ** 2).sum(0)
    return float((1 - residual / ((yv - yv.mean(0)) ** 2).sum(0)).mean())


def measure(run: Path) -> dict[str, float]:
    """The hand-made probe, R² of own spectra (pretrained, random init) and loss baselines of one run folder."""
    domain = run_config(run).get("domain")
    if domain != "eeg":
        raise SystemExit(f"{run}: not an EEG run (domain {domain!r})")
    view = monitor_view(run)
    recipe, train, val, random_init = view.recipe, view.train, view.val, view.random_init
    targets = view.plugin.target_function(recipe.data)
    train_spectra, train_valid = spectra(targets, random_init.tokenizer, train)
    val_spectra, val_valid = spectra(targets, random_init.tokenizer, val)
    result = {"hand_made_probe": linear_probe(
        (window_average(train_spectra, train_valid), labels_of(train)),
        (window_average(val_spectra, val_valid), labels_of(val)),
        view.labels, recipe.monitor.probe_lr, recipe.monitor.probe_steps, recipe.seed,
    )}
    for name, encoder in (("pretrained", load_encoder(run / "checkpoints" / "last.ckpt")), ("random", random_init)):
        result[f"r2_{name}"] = ridge_r2(
            (embeddings(encoder, train)[train_valid], train_spectra[train_valid]),
            (embeddings(encoder, val)[val_valid], val_spectra[val_valid]),
        )
    rows = train_spectra[train_valid]
    own_window = window_average(train_spectra, train_valid)[:, None].expand_as(train_spectra)[train_valid]
    result["loss_overall_average"] = float(F.smooth_l1_loss(rows, rows.mean(0).expand_as(rows)))
    result["loss_window_average"] = float(F.smooth_l1_loss(rows, own_window))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", type=Path, nargs="+", help="EEG pretraining run folders (config.yaml, checkpoints/)")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print("| run | hand-made probe | R² of own spectra: pretrained | random init "
          "| spectral loss: overall average | window's average |\n|---|---:|---:|---:|---:|---:|")
    for run in args.runs:
        m = measure(run)
        print(f"| {run} | {m['hand_made_probe']:.3f} | {m['r2_pretrained']:.3f} | {m['r2_random']:.3f} "
              f"| {m['loss_overall_average']:.3f} | {m['loss_window_average']:.3f} |")


if __name__ == "__main__":
    main()
