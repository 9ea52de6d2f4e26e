"""The one exception a subcommand raises for a user's mistake; ``sgtr.cli.main`` prints it as one line."""

from __future__ import annotations


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit status 2."""
