"""The ``domains`` subcommand of ``jepa-platform``: the installed domain plugins."""

from __future__ import annotations

import argparse


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add ``domains list`` to the ``jepa-platform`` parser."""
    dom = commands.add_parser("domains", help="installed domain plugins")
    dom_commands = dom.add_subparsers(dest="domains_command", required=True)
    dom_commands.add_parser("list", help="list installed domains").set_defaults(
        handler=run_domains_list, takes_overrides=False
    )


def run_domains_list(args: argparse.Namespace) -> int:
    from .registry import list_domains

    rows = list_domains()
    width = max((len(name) for name, _ in rows), default=0)
    for name, description in rows:
        print(f"{name:<{width}}  {description}")
    return 0


