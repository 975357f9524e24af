"""The ``domains`` and ``new-domain`` subcommands of ``jepa-platform``: the installed domain plugins, and a new one."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add ``domains list`` to the ``jepa-platform`` parser."""
    dom = commands.add_parser("domains", help="installed domain plugins")
    dom_commands = dom.add_subparsers(dest="domains_command", required=True)
    dom_commands.add_parser("list", help="list installed domains").set_defaults(
        handler=run_domains_list, takes_overrides=False
    )
    new = commands.add_parser(
        "new-domain",
        help="write a new domain plugin package",
        description="Write a pip-installable domain plugin package jepa-NAME: reader, tokenizer, demo data, a "
        "labelled task, tests running the plugin contract suite, and a README. Install it with pip install -e.",
    )
    new.add_argument("name", help="the --domain name: a lowercase Python identifier, e.g. audio")
    new.add_argument("--out", type=Path, default=Path("."), help="folder to write jepa-NAME into (default: here)")
    new.add_argument(
        "--geometry", choices=("sequence", "image", "volume", "set"), default="sequence",
        help="the token grid: 1-D time patches, 2-D image patches, 3-D tubelets, or an unordered feature set "
        "(default: sequence)",
    )
    new.set_defaults(handler=run_new_domain, takes_overrides=False)


def run_domains_list(args: argparse.Namespace) -> int:
    from .registry import list_domains

    rows = list_domains()
    width = max((len(name) for name, _ in rows), default=0)
    for name, description in rows:
        print(f"{name:<{width}}  {description}")
    return 0


def run_new_domain(args: argparse.Namespace) -> int:
    from .scaffold import write_plugin

    folder = write_plugin(args.name, args.out, args.geometry)
    print(f"Wrote the {args.geometry} domain plugin '{args.name}' to {folder}. Next:")
    print(f"  pip install -e {folder}")
    print("  jepa-platform domains list")
    print(f"  jepa-platform pretrain --domain {args.name}")
    print(f"  pytest {folder / 'tests'}")
    return 0
