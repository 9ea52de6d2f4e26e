"""Entry point of the ``sgtr`` console script: builds the parser from the subcommand modules and runs one.

Subcommand modules import their heavy dependencies inside their run functions, so ``sgtr --help`` stays fast. They
raise ``sgtr.cli.errors.CommandError`` for a user's mistake and never import this module.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from tqdm.contrib.logging import logging_redirect_tqdm

from sgtr import progress
from sgtr.cli import (
    calibrate,
    compare,
    data,
    evaluate,
    explain,
    export,
    import_weights,
    info,
    read,
    serve,
    synth,
    train,
)
from sgtr.cli.errors import CommandError

# The subcommands, in the order ``sgtr --help`` lists them: each module has a ``register(subparsers)`` function.
# A new subcommand is imported above and added here.
SUBCOMMANDS = (
    data,
    synth,
    import_weights,
    info,
    calibrate,
    evaluate,
    compare,
    train,
    read,
    export,
    explain,
    serve,
)


def build_parser() -> argparse.ArgumentParser:
    from sgtr import __version__

    parser = argparse.ArgumentParser(prog="sgtr", description="Scene text recognition with S-GTR.")
    parser.add_argument("--version", action="version", version=f"sgtr {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every skipped sample and debug details")
    parser.add_argument("-q", "--quiet", action="store_true", help=QUIET_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in SUBCOMMANDS:
        module.register(sub)
    _add_quiet(sub)
    return parser


QUIET_HELP = "no progress bars (they are drawn only when stderr is a terminal anyway)"


def _add_quiet(subparsers) -> None:
    """``--quiet`` after any subcommand too (``sgtr read --quiet``), nested ones included."""
    for parser in subparsers.choices.values():
        parser.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help=QUIET_HELP)
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                _add_quiet(action)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # Only sgtr's own logger gets a handler: libraries (Lightning) keep theirs, so nothing prints twice.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("sgtr")
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if args.verbose else logging.INFO)
    progress.set_quiet(args.quiet)
    try:
        with logging_redirect_tqdm(loggers=[root]):  # log lines print above a progress bar, not through it
            return int(args.func(args) or 0)
    except CommandError as exc:
        print(f"sgtr {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader of our output went away (``| head``): stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        print(f"sgtr {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
