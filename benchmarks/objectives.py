"""EMA teacher vs SIGReg vs random init on the ECG demo, and whether RankMe tracks probe quality.

Pretrains the demo model with each objective, with a sweep of EMA runs
(masking ratio, learning rate, EMA momentum), and with a learning rate of
1e-12 (the random-init encoder, which stays as it was while the run's
probe learns on it), then scores every encoder with the same frozen linear probe: pooled
embeddings of the training folds, a linear head trained full-batch, macro
AUC over the SCP statements on the validation fold. Reports the table, the
runs' own monitor probe scores, and the Spearman correlation between the
final RankMe and the probe AUC over the sweep (the RankMe paper compares
runs of one method).

    .venv/bin/python benchmarks/objectives.py --out runs/objectives [--steps 300]
    .venv/bin/python benchmarks/objectives.py --out OUT --steps 2 --demo-records 60 --runs ema ema-lr-3e-3 sigreg \\
        --threads 1   # smoke test
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from jepa_platform.data.datamodule import JEPADataModule
from jepa_platform.domain import cache_dir
from jepa_platform.domain.registry import load_domain
from jepa_platform.model import pooled
from jepa_platform.pretrain.config import resolve_recipe
from jepa_platform.pretrain.module import JEPAModule
from jepa_platform.pretrain.probe import macro_auc
from jepa_platform.pretrain.run import pretrain
from jepa_platform.pretrain.select import score
from scipy.stats import spearmanr

EMA = {"kind": "ema"}
SWEEP: dict[str, dict[str, Any]] = {
    "ema": {"objective": EMA},
    "ema-keep-0.4": {"objective": EMA, "masking": {"keep_ratio": [0.35, 0.45]}},
    "ema-keep-0.6": {"objective": EMA, "masking": {"keep_ratio": [0.55, 0.65]}},
    "ema-lr-3e-4": {"objective": EMA, "optim": {"lr": 3e-4}},
    "ema-lr-3e-3": {"objective": EMA, "optim": {"lr": 3e-3}},
    "ema-momentum-0.9": {"objective": {**EMA, "ema_momentum": [0.9, 0.95]}},
}
OTHER: dict[str, dict[str, Any]] = {
    "sigreg": {"objective": {"kind": "sigreg", "sigreg": {"weight": 0.02}}},
    "sigreg-scope-both": {"objective": {"kind": "sigreg", "sigreg": {"weight": 0.02, "scope": "both"}}},
    "random init": {"optim": {"lr": 1e-12, "start_lr": 1e-12, "final_lr": 1e-12}},
}


@torch.no_grad()
def embed(module: JEPAModule, loader: torch.utils.data.DataLoader) -> tuple[torch.Tensor, torch.Tensor]:
    """Pooled target-encoder embeddings and labels of every sample of ``loader``."""
    module.eval()
    features, labels = [], []
    for batch in loader:
        valid = module.encoder.tokenizer.valid_mask(batch)
        features.append(pooled(module.target_encoder(batch), valid, module.target_encoder.pooling))
        labels.append(batch["label"])
    return torch.cat(features), torch.cat(labels)


def linear_probe_auc(train: tuple[torch.Tensor, torch.Tensor], val: tuple[torch.Tensor, torch.Tensor]) -> float:
    """Macro AUC on ``val`` of a linear head trained full-batch on standardized ``train`` features."""
    (x, y), (xv, yv) = train, val
    mean, std = x.mean(0), x.std(0).clamp(min=1e-6)
    x, xv = (x - mean) / std, (xv - mean) / std
    torch.manual_seed(0)
    head = torch.nn.Linear(x.shape[1], y.shape[1])
    optimizer = torch.optim.AdamW(head.parameters(), lr=1e-2, weight_decay=1e-3)
    for _ in range(300):
        optimizer.zero_grad()
        F.binary_cross_entropy_with_logits(head(x), y).backward()
        optimizer.step()
    with torch.no_grad():
        return macro_auc(head(xv).sigmoid(), yv)


def evaluate(module: JEPAModule, datamodule: JEPADataModule) -> float:
    assert datamodule.splits is not None and datamodule.splits.val is not None
    loader = lambda dataset: torch.utils.data.DataLoader(dataset, batch_size=64)  # noqa: E731
    return linear_probe_auc(embed(module, loader(datamodule.splits.train)), embed(module, loader(datamodule.splits.val)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the runs and results.json")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--demo-records", type=int, help="size of the ECG demo data set (default: the demo's)")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--runs", nargs="+", choices=[*SWEEP, *OTHER], default=[*SWEEP, *OTHER],
                        help="the runs to make and score (default: all)")
    args = parser.parse_args()
    if len(set(args.runs) & set(SWEEP)) < 2:
        parser.error("--runs needs at least two EMA sweep runs for the Spearman correlation")
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    torch.set_num_threads(args.threads)

    common: dict[str, Any] = {"trainer": {"max_steps": args.steps}}
    if args.demo_records is not None:
        common["data"] = {"demo_records": args.demo_records}
    base = resolve_recipe("ecg", overrides=common)
    datamodule = JEPADataModule(load_domain("ecg"), base.data, 64, 0, base.seed, cache_dir())
    datamodule.prepare_data()
    datamodule.setup("fit")
    rows = {}
    for name, overrides in {**SWEEP, **OTHER}.items():
        if name not in args.runs:
            continue
        folder = args.out / name.replace(" ", "-")
        if not (folder / "checkpoints" / "last.ckpt").exists():
            recipe = resolve_recipe("ecg", overrides={**overrides, **common})
            pretrain(recipe, folder)
        checkpoint = torch.load(folder / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
        module = JEPAModule(checkpoint["hyper_parameters"]["recipe"])
        module.load_state_dict(checkpoint["state_dict"])
        run = score(str(folder))
        rows[name] = {"probe_auc": evaluate(module, datamodule), "rankme": run.criteria.get("rankme"), "run_probe_auc": run.probe}
        print(name, rows[name], flush=True)

    sweep = [rows[name] for name in SWEEP if name in rows]
    rho, p_value = spearmanr([r["rankme"] for r in sweep], [r["probe_auc"] for r in sweep])
    (args.out / "results.json").write_text(json.dumps({"rows": rows, "spearman": [rho, p_value]}, indent=2))
    print("\n| encoder | frozen linear probe, val macro AUC | final RankMe | run's probe AUC |\n|---|---:|---:|---:|")
    for name, row in rows.items():
        cells = [f"{row[key]:.3f}" if row.get(key) is not None else "-" for key in ("probe_auc", "rankme", "run_probe_auc")]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(f"\nSpearman(RankMe, probe AUC) over the {len(sweep)} EMA runs: rho = {rho:.3f} (p = {p_value:.3f})")


if __name__ == "__main__":
    main()
