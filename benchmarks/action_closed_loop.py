"""Behaviour cloning on the action demo in closed loop: pretrained vs random init vs plain behaviour cloning.

For each seed, on the demo demonstrations (Pendulum-v1 swing-up; a scripted expert, half of the demos with
noisy torques):

- pretrained: pretrain (JEPA on future observation steps + action-chunk regression, ``jepa-platform
  pretrain --domain action``, windows of ``--window`` steps), then probe: an action head on the frozen encoder
  (``--head``; default ``last``: an MLP on the latest step's token);
- random init: the same probe on a random-init encoder of the same shape;
- plain behaviour cloning: encoder and head trained from random init on the actions alone (``finetune``
  without a checkpoint: no JEPA term);
- pretrained fine-tune (``--methods ... finetune``): encoder and head trained from the pretrained encoder.

Every head is trained by the platform's ``probe`` / ``finetune`` on the same training episodes and stopped
early on the validation episodes. Reported: the offline action-chunk MSE per chunk step on the test
episodes, and closed-loop rollouts in the simulator (ACT's temporal ensembling of overlapping chunks) from
``--episodes`` starts per seed: the mean return and the success rate (upright for the last 50 steps).
Mean ± std over seeds.

    .venv/bin/python benchmarks/action_closed_loop.py --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

METHODS = ("pretrained probe", "random-init probe", "plain behaviour cloning", "pretrained fine-tune")
SHORT = ("pretrained", "random", "bc", "finetune")
"""``--methods`` names of :data:`METHODS`: the random-init probe and plain behaviour cloning do not depend on the
pretraining settings, so a run comparing those can leave them out."""


def tuning(args: argparse.Namespace) -> dict[str, Any]:
    stage = {"head": args.head, "max_epochs": args.epochs, "patience": args.patience, "weight_decay": 0.01}
    return {
        "domain": "action", "task": {"name": "behaviour_cloning", "train_stride": args.train_stride},
        "probe": {**stage, "lr": args.lr, "final_lr": args.lr / 10},
        "finetune": {
            **stage, "lr": args.lr, "final_lr": args.lr / 10, "warmup_epochs": 0, "layer_decay": 1.0, "drop_path": 0.0,
        },
        "trainer": {"batch_size": 64, "num_workers": 0},
    }


def load_policy(run: Path):
    """The encoder and head of a probe / finetune run folder as a policy: a batch -> ``B × chunk × A`` actions."""
    import torch
    from jepa_platform.config import read_yaml
    from jepa_platform.domain.registry import load_domain
    from jepa_platform.downstream.config import downstream_model
    from jepa_platform.downstream.heads import build_head
    from jepa_platform.downstream.pretrained import build_encoder

    saved = read_yaml(run / "config.yaml")
    plugin = load_domain(saved["domain"])
    recipe = downstream_model(plugin).model_validate(saved)
    data = recipe.data
    checkpoint = torch.load(run / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=True)
    stage = recipe.stage(checkpoint["hyper_parameters"]["mode"])
    encoder = build_encoder(plugin, recipe.model, data)
    outputs = data.chunk * data.normalization.action_dim
    head = build_head(stage.head, recipe.model.embed_dim, outputs, recipe.model.num_heads, pooling=recipe.model.pooling)
    state = checkpoint["state_dict"]
    encoder.load_state_dict({k.removeprefix("encoder."): v for k, v in state.items() if k.startswith("encoder.")})
    head.load_state_dict({k.removeprefix("head."): v for k, v in state.items() if k.startswith("head.")})
    mean, std = state["target_mean"], state["target_std"]
    encoder.eval()
    head.eval()

    def policy(batch: dict[str, torch.Tensor]) -> torch.Tensor:
        with torch.no_grad():
            embedded = encoder.embed_tokens(batch)
            tokens = encoder.encode(embedded.tokens, valid=embedded.valid)
            return (head(tokens, embedded.valid) * std + mean).view(len(tokens), data.chunk, -1)

    return policy, data


def offline_mse(policy, data, task_recipe: dict[str, Any]) -> list[float]:
    """Action-chunk MSE per chunk step on the test episodes."""
    import torch
    from jepa_domains.action.config import ActionTaskConfig
    from jepa_domains.action.task import build_task, chunk_mse
    from jepa_platform.domain.contract import cache_dir
    from jepa_platform.domain.registry import load_domain

    plugin = load_domain("action")
    task = build_task(plugin.ensure_data(data, cache_dir()), data, ActionTaskConfig(**task_recipe))
    predicted, target = [], []
    for batch in torch.utils.data.DataLoader(task.test, batch_size=256):
        predicted.append(policy(batch).reshape(len(batch["label"]), -1))
        target.append(batch["label"])
    return chunk_mse(torch.cat(predicted), torch.cat(target), data.chunk)


def run_seed(seed: int, args: argparse.Namespace, work: Path) -> dict[str, dict[str, Any]]:
    """Pretraining and the behaviour-cloning runs of ``args.methods``, and their offline and closed-loop scores."""
    from jepa_domains.action.task import rollout
    from jepa_platform.downstream.config import resolve_downstream
    from jepa_platform.downstream.run import run_downstream
    from jepa_platform.pretrain.config import resolve_recipe
    from jepa_platform.pretrain.run import pretrain

    data = {"demo_episodes": args.demo_episodes, "window": args.window}
    overrides = {
        "seed": seed, "data": {**data, "action_conditioned": args.action_conditioned},
        "objective": {"kind": args.objective},
        "trainer": {"max_steps": args.steps, "checkpoint_every_n_steps": args.steps, "val_every_n_steps": args.steps},
        "monitor": {"probe": False, "random_init": False},
    }
    base = {**tuning(args), "seed": seed}
    runs = {}
    if {METHODS[0], METHODS[3]} & set(args.methods):
        summary = pretrain(resolve_recipe("action", None, overrides), work / f"pretrain-{seed}")
        recipe, pretrained = resolve_downstream(None, base, summary.checkpoint)
        for method, mode in ((METHODS[0], "probe"), (METHODS[3], "finetune")):
            if method in args.methods:
                run_downstream(recipe, mode, pretrained, work / f"{mode}-pretrained-{seed}")
                runs[method] = work / f"{mode}-pretrained-{seed}"
    recipe, _ = resolve_downstream(None, {**base, "data": data}, None)
    if METHODS[1] in args.methods:
        run_downstream(recipe, "probe", None, work / f"probe-random-{seed}")
        runs[METHODS[1]] = work / f"probe-random-{seed}"
    if METHODS[2] in args.methods:
        run_downstream(recipe, "finetune", None, work / f"bc-{seed}")
        runs[METHODS[2]] = work / f"bc-{seed}"
    scores = {}
    starts = [100_000 + 1000 * seed + i for i in range(args.episodes)]
    for method, run in runs.items():
        policy, resolved = load_policy(run)
        closed = rollout(policy, resolved, starts)
        scores[method] = {
            "mse": offline_mse(policy, resolved, base["task"]),
            "return": float(closed["returns"].mean()),
            "success": float(closed["success"].mean()),
        }
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--methods", nargs="+", choices=SHORT, default=list(SHORT[:3]), help="the methods to run")
    parser.add_argument("--window", type=int, default=8, help="observation steps per window (tokens)")
    parser.add_argument("--steps", type=int, default=1000, help="pretraining steps")
    parser.add_argument("--objective", default="sigreg", choices=["ema", "sigreg"],
                        help="the pretraining objective (the demo recipe's: sigreg)")
    parser.add_argument("--action-conditioned", action="store_true", help="pretrain an action-conditioned predictor")
    parser.add_argument("--head", default="last", choices=["last", "attentive", "linear", "mlp"], help="action head")
    parser.add_argument("--epochs", type=int, default=20, help="probe / behaviour-cloning epochs (early stopping)")
    parser.add_argument("--patience", type=int, default=20, help="epochs without a better validation RMSE")
    parser.add_argument("--lr", type=float, default=1e-3, help="head (and encoder) learning rate, a cosine to lr / 10")
    parser.add_argument("--train-stride", type=int, default=1, help="training examples every this many steps")
    parser.add_argument("--episodes", type=int, default=10, help="closed-loop episodes per seed and method")
    parser.add_argument("--demo-episodes", type=int, default=60, help="demonstrations in the demo file")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (more slow it down on a shared CPU)")
    args = parser.parse_args()
    args.methods = [METHODS[SHORT.index(name)] for name in args.methods]

    import torch

    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="action-closed-loop-"))
    os.environ.setdefault("JEPA_PLATFORM_CACHE", str(work / "cache"))
    results: list[dict[str, dict[str, Any]]] = []
    for seed in args.seeds:
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            results.append(run_seed(seed, args, work))
        took = time.perf_counter() - start
        print(f"seed {seed}: {len(args.methods)} methods (pretraining, behaviour cloning, rollouts) in {took:.0f} s:",
              json.dumps(results[-1]), flush=True)

    from jepa_domains.action.demo import STEPS

    print(f"\nPendulum-v1 demo, {args.demo_episodes} demonstrations; {args.steps} {args.objective} pretraining steps"
          f"{' (action-conditioned predictor)' if args.action_conditioned else ''}; "
          f"{args.head} head, up to {args.epochs} epochs; mean ± std over "
          f"seeds {args.seeds}; {args.episodes} closed-loop episodes of {STEPS} steps per seed; run folders under "
          f"{work}:\n")
    chunk = len(next(iter(results[0].values()))["mse"])
    print(f"| method | return | success rate | chunk MSE, step 1 | chunk MSE, step {chunk} | mean chunk MSE |")
    print("|---|---|---|---|---|---|")
    for method in args.methods:
        values = {
            "return": [r[method]["return"] for r in results],
            "success": [r[method]["success"] for r in results],
            "first": [r[method]["mse"][0] for r in results],
            "last": [r[method]["mse"][-1] for r in results],
            "mean": [float(np.mean(r[method]["mse"])) for r in results],
        }
        cells = [f"{np.mean(v):.{1 if key == 'return' else 3}f} ± {np.std(v):.{1 if key == 'return' else 3}f}"
                 for key, v in values.items()]
        print(f"| {method} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
