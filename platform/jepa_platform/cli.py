"""The ``jepa-platform`` command line: parse the arguments and dispatch to a command.

Each wing adds its own subcommands; heavy libraries (torch, lightning, mlflow)
are imported only by the command that runs, so ``jepa-platform domains list``
answers at once.
"""

from __future__ import annotations

import argparse
import sys

from .domain.commands import add_commands as add_domain_commands
from .downstream.commands import add_commands as add_downstream_commands
from .errors import JepaError
from .pretrain.commands import add_commands as add_pretrain_commands
from .version import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jepa-platform", description="Self-supervised JEPA pretraining for any domain."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    add_pretrain_commands(commands)  # pretrain, prepare, select, masks
    add_downstream_commands(commands)  # probe, finetune, baseline, export, report
    add_domain_commands(commands)  # domains list, new-domain
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not args.takes_overrides:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return args.handler(args, extra) if args.takes_overrides else args.handler(args)
    except JepaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", 2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
