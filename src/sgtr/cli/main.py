"""Entry point of the ``sgtr`` console script: builds the parser from the subcommand modules and runs one.

Subcommand modules import their heavy dependencies inside their run functions, so ``sgtr --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

# Each name is a module of sgtr.cli with a ``register(subparsers)`` function.
COMMANDS = ("data", "synth", "evaluate", "train", "read", "export", "explain")


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    from sgtr import __version__

    parser = argparse.ArgumentParser(prog="sgtr", description="Scene text recognition with S-GTR.")
    parser.add_argument("--version", action="version", version=f"sgtr {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every skipped sample and debug details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"sgtr.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"sgtr.cli.{name}":
                continue  # subcommand not built yet
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # Only sgtr's own logger gets a handler: libraries (Lightning) keep theirs, so nothing prints twice.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("sgtr")
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if args.verbose else logging.INFO)
    try:
        return int(args.func(args) or 0)
    except CommandError as exc:
        print(f"sgtr {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"sgtr {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
