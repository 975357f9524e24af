"""The ``pretrain``, ``prepare``, ``select`` and ``masks`` subcommands of ``jepa-platform``.

Heavy libraries are imported by the commands that run, not when the parser is built.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..config import command_overrides
from ..errors import JepaError
from .select import CRITERIA, DEFAULT_CRITERIA, FALLBACK_CRITERION

RAW_DATA = "raw data folder or file, or several for domains that read several (default: the domain's demo data)"


def add_recipe_arguments(parser: argparse.ArgumentParser, data_help: str) -> None:
    """``--domain``, ``--data`` and ``--recipe``: what a pretraining recipe is resolved from."""
    parser.add_argument("--domain", help="domain plugin (see 'jepa-platform domains list')")
    parser.add_argument("--data", nargs="+", metavar="PATH", help=data_help)
    parser.add_argument("--recipe", help="recipe YAML file")


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add the pretraining subcommands to the ``jepa-platform`` parser."""
    pre = commands.add_parser(
        "pretrain",
        help="pretrain an encoder",
        description="Pretrain a JEPA encoder. Any recipe key can be overridden: --model.depth 4 --optim.lr 5e-4",
    )
    add_recipe_arguments(pre, RAW_DATA)
    pre.add_argument("--target", help="label column of a table (data.target), for domains that have one")
    pre.add_argument("--out", type=Path, help="run folder (default: runs/<domain>-<time>)")
    pre.add_argument("--max-steps", type=int, help="training steps (trainer.max_steps)")
    pre.add_argument("--seed", type=int, help="random seed (seed)")
    pre.add_argument("--objective", choices=["ema", "sigreg"], help="EMA teacher or SIGReg (objective.kind)")
    pre.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    pre.add_argument("--print-config", action="store_true", help="print the resolved recipe and exit")
    pre.set_defaults(handler=run_pretrain, takes_overrides=True)

    prep = commands.add_parser(
        "prepare",
        help="convert raw data once into sharded, memory-mapped files for training",
        description="Read and preprocess raw data once into Arrow shards (resumable: run it again to continue). "
        "Data keys can be overridden like in pretrain: --data.sampling_rate 250",
    )
    add_recipe_arguments(prep, RAW_DATA)
    prep.add_argument("--out", type=Path, required=True, help="shard folder to write (or to finish)")
    prep.add_argument("--shard-size", type=int, default=1024, help="samples per shard (default 1024)")
    prep.add_argument("--workers", type=int, help="worker processes (default: one per CPU core)")
    prep.set_defaults(handler=run_prepare, takes_overrides=True)

    sel = commands.add_parser(
        "select",
        help="rank finished runs by a label-free criterion (model selection without labels)",
        description="Rank runs by a label-free criterion of their final representation, within each method "
        "(objective); best first.",
    )
    sel.add_argument("runs", nargs="+", help="run folders (holding run.json) or MLflow run ids")
    sel.add_argument(
        "--criterion", choices=list(CRITERIA),
        help="what to rank every method by (default: each method's own, "
        + ", ".join(f"{name} for {method}" for method, name in DEFAULT_CRITERIA.items())
        + f", {FALLBACK_CRITERION} otherwise; each agreed best with the linear probe on a sweep, see "
        "benchmarks/README.md)",
    )
    sel.add_argument("--tracking-uri", help="MLflow tracking URI for run ids (default: $MLFLOW_TRACKING_URI)")
    sel.set_defaults(handler=run_select, takes_overrides=False)

    masks = commands.add_parser(
        "masks",
        help="draw masks sampled on a domain's token grid",
        description="Sample masks with a domain's recipe and draw them (context, each target block, neither) "
        "into a PNG. Any recipe key can be overridden: --masking.strategy future_chunks --masking.num_chunks 1",
    )
    add_recipe_arguments(masks, "data folder whose recipe settings to use (nothing is read from it)")
    masks.add_argument("--out", type=Path, default=Path("masks.png"), help="PNG file to write (default: masks.png)")
    masks.add_argument("--count", type=int, default=4, help="samples to draw (default 4)")
    masks.add_argument("--seed", type=int, default=0, help="seed of the mask generator (default 0)")
    masks.set_defaults(handler=run_masks, takes_overrides=True)


def run_pretrain(args: argparse.Namespace, extra: list[str]) -> int:
    from .config import pretrain_recipe

    named: dict[str, Any] = {}
    if args.target is not None:
        named["data"] = {"target": args.target}
    if args.max_steps is not None:
        named["trainer"] = {"max_steps": args.max_steps}
    if args.seed is not None:
        named["seed"] = args.seed
    if args.objective is not None:
        named["objective"] = {"kind": args.objective}
    overrides = command_overrides(extra, named, args.data)
    if args.resume and args.out is None:
        raise JepaError("--resume needs --out pointing at the run to continue")
    if args.print_config:
        print(pretrain_recipe(args.domain, recipe=args.recipe, resume_from=args.out if args.resume else None,
                              **overrides).to_yaml(), end="")
        return 0
    from lightning.pytorch.utilities.rank_zero import rank_zero_only

    from .run import run_pretraining

    summary = run_pretraining(args.domain, recipe=args.recipe, out=args.out, resume=args.resume, **overrides)
    if rank_zero_only.rank != 0:  # the other processes of a distributed run
        return 0
    print(f"\nPretraining finished after {summary.steps} steps: {finished_line(summary.metrics)}.")
    print(f"  checkpoint: {summary.checkpoint}")
    print(f"  config:     {summary.config}")
    for note in summary.notes:
        print(f"  note:       {note}")
    print(f"  MLflow run: {summary.run_id} in {summary.tracking_uri}")
    if summary.tracking_uri.startswith("sqlite:"):
        print(f"  browse:     mlflow ui --backend-store-uri {summary.tracking_uri}")
    return 0


def finished_line(metrics: dict[str, float]) -> str:
    """``loss 0.12, RankMe 45.1 (random-init encoder 12.3), linear probe AUC 0.871 (random-init encoder 0.790)``,
    then the probe on the other poolings: ``, with max pooling 0.85 (random-init encoder 0.77)``."""
    parts = [f"loss {metrics['train/loss']:.4g}"] if "train/loss" in metrics else []
    for key, name in (("monitor/rankme", "RankMe"), ("probe/val_auc", "linear probe AUC"),
                      ("probe/val_accuracy", "linear probe accuracy"),
                      ("probe/val_mean_ap", "per-token linear probe mAP")):
        if key in metrics:
            initial = metrics.get(key.replace("/", "/random_init_", 1) if key.startswith("monitor") else
                                  key.replace("/val_", "/random_init_val_"))
            parts.append(f"{name} {metrics[key]:.4g}{beside_random_init(initial)}")
    for key in sorted(key for key in metrics if key.startswith("probe/pooling_") and "/val_" in key):
        initial = metrics.get(key.replace("/val_", "/random_init_val_"))
        pooling = key.split("/")[1].removeprefix("pooling_")
        parts.append(f"with {pooling} pooling {metrics[key]:.4g}{beside_random_init(initial)}")
    return ", ".join(parts) or "no metrics logged"


def beside_random_init(initial: float | None) -> str:
    """`` (random-init encoder 0.790)``, or nothing when the random-init encoder was not scored."""
    return f" (random-init encoder {initial:.4g})" if initial is not None else ""


def run_prepare(args: argparse.Namespace, extra: list[str]) -> int:
    from ..data.prepare import prepare
    from ..data.shards import ShardSet
    from ..domain import cache_dir, load_domain
    from .config import resolve_recipe

    if args.data is not None and len(args.data) == 1 and ShardSet.find(args.data[0]) is not None:
        raise JepaError(f"--data {args.data[0]} already holds prepared shards; train on it with pretrain --data")
    recipe = resolve_recipe(args.domain, args.recipe, command_overrides(extra, data=args.data))
    manifest = prepare(load_domain(recipe.domain), recipe.data, args.out, cache_dir(), args.shard_size, args.workers)
    counts = manifest["counts"]
    splits = ", ".join(f"{name} {count}" for name, count in sorted(counts["splits"].items()))
    print(f"Prepared {counts['samples']} samples ({splits}) from {counts['items']} items in {len(manifest['shards'])} shards.")
    if counts["empty_items"]:
        print(f"  {counts['empty_items']} items gave no sample (shorter than the minimum length)")
    print(f"  shards:       {args.out}")
    print(f"  content hash: {manifest['content_hash']}")
    print(f"  train on it:  jepa-platform pretrain --domain {recipe.domain} --data {args.out}")
    return 0


def run_select(args: argparse.Namespace) -> int:
    import os

    from .select import agreement_line, rank, score, table

    uri = args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
    scores = [score(reference, uri) for reference in args.runs]
    rankings = rank(scores, args.criterion)
    print("\n\n".join(table(ranking) for ranking in rankings))
    agreements = [line for ranking in rankings if (line := agreement_line(ranking))]
    if agreements:
        print("\n" + "\n".join(agreements))
    unfinished = sorted({s.status.lower() for s in scores if s.status != "FINISHED"})
    if unfinished:
        print(f"\n{', '.join(unfinished)}: the run has not finished (steps are those planned), so its values are the "
              "last it logged, not its final ones.")
    if len(rankings) > 1:
        print(f"\nRuns of different methods ({', '.join(r.method for r in rankings)}) are ranked separately: "
              "a label-free criterion compares runs of one method.")
    for ranking in rankings:
        unlogged = [run.name for position, run in ranking.rows if position == "-"]
        if unlogged:
            print(f"\n-: {', '.join(unlogged)} did not log {ranking.criterion}, so it is not ranked (a run pretrained "
                  "before the monitor measured it: `jepa-platform pretrain --resume --out RUN` measures a finished run "
                  "again at its last step).")
    if any(position == "collapsed" for ranking in rankings for position, _ in ranking.rows):
        print("\ncollapsed: RankMe ended below the random-init encoder's, so the run is not ranked by low RankMe.")
    return 0


def run_masks(args: argparse.Namespace, extra: list[str]) -> int:
    import torch

    from ..domain import load_domain
    from ..masking import Masks, build_masking
    from ..masking.plot import draw_masks, mask_usage, png_bytes, sample_masks, usage_warning
    from ..runs.atomic import atomic_write_bytes
    from .config import resolve_recipe

    if args.count < 1:
        raise JepaError(f"--count must be at least 1, got {args.count}")
    if args.out.is_dir():
        raise JepaError(f"--out {args.out} is a folder; name the PNG file to write, e.g. {args.out / 'masks.png'}")
    if args.out.suffix.lower() != ".png":
        raise JepaError(f"--out {args.out} must name a .png file")
    folder = next(parent for parent in args.out.parents if parent.exists())
    if not folder.is_dir():
        raise JepaError(f"--out {args.out}: {folder} is a file, not a folder")
    recipe = resolve_recipe(args.domain, args.recipe, command_overrides(extra, data=args.data))
    tokenizer = load_domain(recipe.domain).build_tokenizer(recipe.data, recipe.model.embed_dim)
    grid, strategy = tokenizer.grid, recipe.masking.strategy
    generator = torch.Generator().manual_seed(args.seed)
    batch_size = max(args.count, recipe.trainer.batch_size)  # drawn per batch, as in training (cut to its fewest)
    masks, valid = sample_masks(build_masking(recipe.masking), tokenizer, batch_size, generator)
    shown = Masks(masks.context[: args.count], masks.targets[: args.count])
    shown_valid = None if valid is None else valid[: args.count]
    title = f"{recipe.domain}: {strategy} masks on the token grid {' x '.join(map(str, grid.shape))}"
    try:
        atomic_write_bytes(args.out, png_bytes(draw_masks(shown, grid, shown_valid, title=title)))
    except OSError as exc:
        raise JepaError(f"cannot write --out {args.out}: {exc.strerror or exc}") from None
    usage = mask_usage(masks, grid.num_tokens, valid)
    invalid = f", {grid.num_tokens - usage.valid:.0f} never valid" if valid is not None else ""
    print(f"Wrote {args.count} samples of a batch of {batch_size} {strategy} masks to {args.out}: of "
          f"{grid.num_tokens} tokens{invalid}, {usage.context:.0f} context, {usage.targets:.0f} target "
          f"({masks.num_targets} blocks), {usage.neither:.0f} neither (mean over the batch)")
    warning = usage_warning(usage, strategy)
    if warning:
        print(warning)
    return 0


