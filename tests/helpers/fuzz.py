"""What the fuzz suites share: bounded, derandomised Hypothesis settings and a fresh folder per example."""

from __future__ import annotations

import itertools
from pathlib import Path

from hypothesis import HealthCheck, settings

_counter = itertools.count()


def fuzz_settings(max_examples: int) -> settings:
    """Seeded (``derandomize``), no example database, no deadline: the same examples on every run and machine."""
    return settings(max_examples=max_examples, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


def fresh_dir(workdir: Path) -> Path:
    """A new folder per Hypothesis example (function-scoped fixtures are not reset between examples)."""
    path = workdir / f"ex{next(_counter)}"
    path.mkdir()
    return path
