"""Counting and reporting of skipped samples, so a run never dies on one bad sample and never drops one silently.

Every reader yields either a sample or a ``Skip``; whoever consumes them records the skips here. Each bad sample is
logged once, and the summary counts them by reason.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

log = logging.getLogger("sgtr.data")


@dataclass(frozen=True)
class Skip:
    """A sample that was not used: where it came from and why."""

    key: str
    reason: str

    def __str__(self) -> str:
        return f"{self.key}: {self.reason}"


@dataclass
class SkipLog:
    """Collects skips; logs each distinct sample once and keeps counts by reason."""

    skips: list[Skip] = field(default_factory=list)
    _seen: set[str] = field(default_factory=set, repr=False)
    quiet: bool = False

    def add(self, skip: Skip) -> None:
        if skip.key in self._seen:
            return
        self._seen.add(skip.key)
        self.skips.append(skip)
        if not self.quiet:
            log.warning("skipped %s", skip)

    def extend(self, skips) -> None:
        for s in skips:
            self.add(s)

    def __len__(self) -> int:
        return len(self.skips)

    def by_reason(self) -> Counter:
        """Counts keyed by the reason's first clause (e.g. 'corrupt or truncated image')."""
        return Counter(s.reason.split(" (")[0].split(":")[0] for s in self.skips)

    def summary(self) -> str:
        if not self.skips:
            return "no samples skipped"
        parts = ", ".join(f"{n} {reason}" for reason, n in self.by_reason().most_common())
        return f"{len(self.skips)} sample{'' if len(self.skips) == 1 else 's'} skipped ({parts})"
