"""The ``jepa-platform`` command line.

Heavy libraries (torch, lightning, mlflow) are imported only by the commands
that need them, so ``jepa-platform domains list`` answers at once.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from .downstream.commands import add_commands as add_downstream_commands
from .errors import JepaError


def split_overrides(extra: list[str]) -> list[tuple[str, str]]:
    """``["--model.depth", "4", "--optim.lr=1e-3"]`` -> ``[("model.depth", "4"), ("optim.lr", "1e-3")]``."""
    pairs, i = [], 0
    while i < len(extra):
        arg = extra[i]
        if not arg.startswith("--") or "." not in arg.split("=")[0]:
            raise JepaError(f"unrecognized argument '{arg}' (recipe overrides look like --section.key VALUE)")
        if "=" in arg:
            key, value = arg[2:].split("=", 1)
            i += 1
        elif i + 1 < len(extra) and not extra[i + 1].startswith("--"):
            key, value = arg[2:], extra[i + 1]
            i += 2
        else:
            raise JepaError(f"override '{arg}' needs a value")
        pairs.append((key, value))
    return pairs


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jepa-platform", description="Self-supervised JEPA pretraining for any domain."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    pre = commands.add_parser(
        "pretrain",
        help="pretrain an encoder",
        description="Pretrain a JEPA encoder. Any recipe key can be overridden: --model.depth 4 --optim.lr 5e-4",
    )
    pre.add_argument("--domain", help="domain plugin (see 'jepa-platform domains list')")
    pre.add_argument("--data", help="raw data folder or file (default: the domain's embedded demo data)")
    pre.add_argument("--recipe", help="recipe YAML file")
    pre.add_argument("--out", type=Path, help="run folder (default: runs/<domain>-<time>)")
    pre.add_argument("--max-steps", type=int, help="training steps (trainer.max_steps)")
    pre.add_argument("--seed", type=int, help="random seed (seed)")
    pre.add_argument("--objective", choices=["ema", "sigreg"], help="EMA teacher or SIGReg (objective.kind)")
    pre.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    pre.add_argument("--print-config", action="store_true", help="print the resolved recipe and exit")
    pre.set_defaults(handler=run_pretrain, takes_overrides=True)

    sel = commands.add_parser(
        "select",
        help="rank finished runs by RankMe (label-free model selection)",
        description="Rank runs by their final RankMe, within each method (objective); highest first.",
    )
    sel.add_argument("runs", nargs="+", help="run folders (holding run.json) or MLflow run ids")
    sel.add_argument("--tracking-uri", help="MLflow tracking URI for run ids (default: $MLFLOW_TRACKING_URI)")
    sel.set_defaults(handler=run_select, takes_overrides=False)

    add_downstream_commands(commands)  # probe, finetune, export, report

    dom = commands.add_parser("domains", help="installed domain plugins")
    dom_commands = dom.add_subparsers(dest="domains_command", required=True)
    dom_commands.add_parser("list", help="list installed domains").set_defaults(
        handler=run_domains_list, takes_overrides=False
    )
    return parser


def cli_overrides(args: argparse.Namespace, extra: list[str]) -> dict[str, Any]:
    from .recipe import deep_merge, parse_overrides

    named: dict[str, Any] = {}
    if args.data is not None:
        named["data"] = {"path": args.data}
    if args.max_steps is not None:
        named["trainer"] = {"max_steps": args.max_steps}
    if args.seed is not None:
        named["seed"] = args.seed
    if args.objective is not None:
        named["objective"] = {"kind": args.objective}
    return deep_merge(parse_overrides(split_overrides(extra)), named)


def run_pretrain(args: argparse.Namespace, extra: list[str]) -> int:
    from .recipe import read_yaml, resolve_recipe
    from .train import CONFIG_FILE, pretrain

    overrides = cli_overrides(args, extra)
    base = None
    if args.resume:
        if args.out is None:
            raise JepaError("--resume needs --out pointing at the run to continue")
        saved = args.out / CONFIG_FILE
        if not saved.is_file():
            raise JepaError(f"--resume: {saved} does not exist; nothing to resume in {args.out}")
        base = read_yaml(saved)
    recipe = resolve_recipe(args.domain, args.recipe, overrides, base=base)
    if args.print_config:
        print(recipe.to_yaml(), end="")
        return 0
    out = args.out or Path("runs") / f"{recipe.domain}-{datetime.now():%Y%m%d-%H%M%S}"
    summary = pretrain(recipe, out, resume=args.resume)
    shown = ("train/loss", "monitor/rankme", "probe/val_auc", "probe/val_accuracy")
    results = ", ".join(f"{key.split('/')[-1]} {summary.metrics[key]:.4g}" for key in shown if key in summary.metrics)
    print(f"\nPretraining finished after {summary.steps} steps: {results or 'no metrics logged'}.")
    print(f"  checkpoint: {summary.checkpoint}")
    print(f"  config:     {summary.config}")
    print(f"  MLflow run: {summary.run_id} in {summary.tracking_uri}")
    if summary.tracking_uri.startswith("sqlite:"):
        print(f"  browse:     mlflow ui --backend-store-uri {summary.tracking_uri}")
    return 0


def run_select(args: argparse.Namespace) -> int:
    import os

    from .select_runs import rank, score, table

    uri = args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
    ranked = rank([score(reference, uri) for reference in args.runs])
    print(table(ranked))
    methods = sorted({run.method for _, run in ranked})
    if len(methods) > 1:
        print(f"\nRuns of different methods ({', '.join(methods)}) are ranked separately: RankMe compares runs of one method.")
    return 0


def run_domains_list(args: argparse.Namespace) -> int:
    from .registry import list_domains

    rows = list_domains()
    width = max((len(name) for name, _ in rows), default=0)
    for name, description in rows:
        print(f"{name:<{width}}  {description}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not args.takes_overrides:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return args.handler(args, extra) if args.takes_overrides else args.handler(args)
    except JepaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
