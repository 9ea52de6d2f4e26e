"""Progress bars on stderr for long work (reading, evaluating, synthesising, writing LMDBs, calibrating, training).

A bar is drawn only when stderr is a terminal and the user has not asked for quiet (``sgtr --quiet`` calls
``set_quiet``), so logs, pipes and CI output never hold bar redraws. Ground level (tqdm only): any layer may use it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

from tqdm import tqdm

_quiet = False


def set_quiet(quiet: bool) -> None:
    global _quiet
    _quiet = quiet


def shown() -> bool:
    """Whether bars are drawn: stderr is a terminal and quiet was not asked for."""
    return not _quiet and sys.stderr.isatty()


def bar(iterable: Iterable | None = None, *, total: float | None = None, desc: str, unit: str = "image") -> tqdm:
    """A tqdm bar on stderr, or a silent stand-in with the same methods when bars are not ``shown()``. It leaves no
    line behind: the summary a command prints at the end says what was done."""
    return tqdm(iterable, total=total, desc=desc, unit=unit, file=sys.stderr, disable=not shown(), leave=False,
                dynamic_ncols=True, smoothing=0.1)
