"""The ``probe``, ``finetune``, ``baseline``, ``export`` and ``report`` subcommands of ``jepa-platform``.

Heavy libraries are imported by the commands that run, not when the parser is built.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add the downstream subcommands to the ``jepa-platform`` parser."""
    for name, summary in (
        ("probe", "train a linear, MLP, attentive or last-token head on a frozen encoder"),
        ("finetune", "fine-tune the encoder and a head (layer-wise learning-rate decay)"),
    ):
        sub = commands.add_parser(
            name,
            help=summary,
            description=f"{summary[0].upper()}{summary[1:]} on a domain's labelled task; any recipe key "
            "can be overridden: --task.name rhythm --probe.head linear",
        )
        sub.add_argument("--recipe", required=True, help="downstream recipe YAML (e.g. recipes/ecg/ptbxl-all.yaml)")
        sub.add_argument(
            "--checkpoint", help="pretraining checkpoint or exported encoder folder (default: random init)"
        )
        sub.add_argument("--data", help="labelled data folder (default: the checkpoint's data, or the demo data)")
        sub.add_argument("--out", type=Path, help="run folder (default: runs/<domain>-<task>-<command>-<init>-<time>)")
        sub.add_argument("--seed", type=int, help="random seed (seed)")
        sub.add_argument(
            "--encoder", choices=["target", "context"],
            help="the checkpoint's target (EMA teacher, default) or context encoder (encoder)",
        )
        sub.add_argument("--print-config", action="store_true", help="print the resolved recipe and exit")
        sub.set_defaults(handler=run_train, takes_overrides=True)

    base = commands.add_parser(
        "baseline", help="fit gradient-boosted trees on a task's raw columns (several seeds)",
        description="Fit scikit-learn's HistGradientBoosting on the raw columns of a downstream task, with the "
        "train / val / test split probe and finetune use, once per seed; print its row beside the given runs. "
        "Any recipe key can be overridden: --baseline.learning_rate 0.05 --data.target price",
    )
    base.add_argument("--recipe", required=True, help="downstream recipe YAML (e.g. recipes/tabular/classify.yaml)")
    base.add_argument("--data", help="labelled data file or folder (default: the demo data)")
    base.add_argument("--seeds", type=int, default=3, help="seeds to fit, from the recipe's seed on (default 3)")
    base.add_argument("--out", type=Path, help="run folder (default: runs/<domain>-<task>-baseline-<time>)")
    base.add_argument("--compare", nargs="+", type=Path, default=[], help="probe / finetune run folders for the table")
    base.add_argument("--print-config", action="store_true", help="print the resolved recipe and exit")
    base.set_defaults(handler=run_baseline_command, takes_overrides=True)

    export = commands.add_parser(
        "export", help="write a checkpoint's encoder as safetensors + JSON config",
        description="Write the encoder of a pretraining checkpoint as encoder.safetensors and config.json; "
        "jepa_platform.load_encoder(DIR) rebuilds it without Lightning.",
    )
    export.add_argument("--checkpoint", required=True, help="pretraining checkpoint (last.ckpt)")
    export.add_argument("--out", type=Path, required=True, help="folder to write (must not exist or be empty)")
    export.add_argument(
        "--encoder", choices=["target", "context"], default="target",
        help="target: the EMA teacher (default; the encoder itself without one); context: the student",
    )
    export.set_defaults(handler=run_export, takes_overrides=False)

    report = commands.add_parser("report", help="compare probe/finetune runs in a markdown table")
    report.add_argument("runs", nargs="+", type=Path, help="run folders holding results.json")
    report.set_defaults(handler=run_report, takes_overrides=False)


def run_export(args: argparse.Namespace) -> int:
    from .pretrained import export_encoder

    out = export_encoder(args.checkpoint, args.out, args.encoder)
    print(f"Exported the {args.encoder} encoder of {args.checkpoint} to {out}")
    print(f"  load it with: jepa_platform.load_encoder('{out}')")
    return 0


def run_report(args: argparse.Namespace) -> int:
    from .results import report_table

    print(report_table(args.runs), end="")
    return 0


def run_baseline_command(args: argparse.Namespace, extra: list[str]) -> int:
    """``baseline``; ``extra`` holds recipe overrides."""
    from ..config import command_overrides
    from ..errors import JepaError
    from .baseline import run_baseline
    from .config import resolve_downstream
    from .results import report_table

    if args.seeds < 1:
        raise JepaError(f"--seeds must be at least 1, got {args.seeds}")
    recipe, _ = resolve_downstream(args.recipe, command_overrides(extra, data=args.data), None)
    if args.print_config:
        print(recipe.to_yaml(), end="")
        return 0
    out = args.out or Path("runs") / f"{recipe.domain}-{recipe.task.name}-baseline-{datetime.now():%Y%m%d-%H%M%S}"
    seeds = list(range(recipe.seed, recipe.seed + args.seeds))
    results = run_baseline(recipe, seeds, out)
    print(f"baseline finished: test {results['metric']} {results['value']:.4f} (mean of seeds {seeds})\n")
    print(report_table([out, *args.compare]), end="")
    print(f"\n  results: {out / 'results.json'}")
    return 0


def run_train(args: argparse.Namespace, extra: list[str]) -> int:
    """``probe`` or ``finetune``; ``extra`` holds recipe overrides."""
    from ..config import command_overrides
    from .results import markdown_row

    named: dict = {}
    if args.seed is not None:
        named["seed"] = args.seed
    if args.encoder is not None:
        named["encoder"] = args.encoder
    overrides = command_overrides(extra, named, args.data)
    if args.print_config:
        from .config import resolve_downstream

        print(resolve_downstream(args.recipe, overrides, args.checkpoint)[0].to_yaml(), end="")
        return 0
    from .run import run_task

    results = run_task(args.command, args.recipe, args.checkpoint, None, args.out, overrides)
    print(
        f"\n{args.command} finished: test {results['metric']} {results['value']:.4f} "
        f"(best validation {results['best_val']:.4f}, {results['examples']['test']} test examples)"
    )
    print(f"  results: {results['out']}/results.json")
    print(f"  row:     {markdown_row(results)}")
    return 0
