"""`desk`: the terminal's command line. With no sub-command it starts the reception screen.

Each sub-command lives in its own module under desk/commands/ and exposes
`register(subparsers)`; the handler is stored as `func` and returns an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys

__all__ = ["main", "build_parser"]

# Modules under desk.commands that add sub-commands, in the order --help lists them.
COMMAND_MODULES = ("card", "readers", "check", "stats", "facility")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="desk", description="madoguchi: オンライン資格確認の受付端末")
    from desk.commands.run import add_run_options

    add_run_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"desk.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        from desk.commands.run import run_tui

        return run_tui(args)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
