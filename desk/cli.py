"""`desk`: the terminal's command line. With no sub-command it starts the reception screen.

Each sub-command lives in its own module under desk/commands/ and exposes
`register(subparsers)`; the handler is stored as `func` and returns an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import NoReturn

from desk.commands import EXIT_USAGE, guarded

__all__ = ["main", "build_parser"]

# Modules under desk.commands that add sub-commands, in the order --help lists them.
COMMAND_MODULES = ("card", "readers", "check", "bulk", "stats", "facility", "journal")


class DeskArgumentParser(argparse.ArgumentParser):
    """argparse that answers a bad command line in Japanese (exit 2), sub-commands included."""

    def error(self, message: str) -> NoReturn:
        print(f"コマンドの指定が正しくありません: {message}", file=sys.stderr)
        print(self.format_usage().rstrip(), file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = DeskArgumentParser(prog="desk", description="madoguchi: オンライン資格確認の受付端末")
    from desk.commands.run import add_run_options

    add_run_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"desk.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run `desk`; every error ends in a Japanese message and an exit code (desk/commands/__init__.py)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a bad command line (2, already explained)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.command is None:
        from desk.commands.run import run_tui

        return guarded(lambda: run_tui(args))
    return guarded(lambda: int(args.func(args) or 0))


if __name__ == "__main__":
    sys.exit(main())
