"""Statistics of a dataset for ``sgtr data inspect``: counts, label lengths, charset coverage, image sizes, bad samples.

Given the cleaning training applies to labels (its evaluation protocol's ``clean``), coverage is counted on the
cleaned labels, so a sample is called bad only when training would drop it too (``JOE'S`` is ``joes`` under 36).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
from torch.utils.data import Dataset

from sgtr.data.charset import Charset
from sgtr.data.skips import Skip, SkipLog


@dataclass
class Inspection:
    samples: int = 0
    readable: int = 0
    label_lengths: dict[int, int] = field(default_factory=dict)
    encodable: int = 0
    unknown_chars: dict[str, int] = field(default_factory=dict)
    too_long: int = 0
    cleaned: int = 0
    width: dict[str, float] = field(default_factory=dict)
    height: dict[str, float] = field(default_factory=dict)
    aspect: dict[str, float] = field(default_factory=dict)
    with_masks: int = 0
    bad: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _stats(values: np.ndarray) -> dict[str, float]:
    if values.size == 0:
        return {}
    q = np.percentile(values, [0, 5, 50, 95, 100])
    return {"min": float(q[0]), "p5": float(q[1]), "median": float(q[2]), "p95": float(q[3]), "max": float(q[4]),
            "mean": float(values.mean())}


def inspect_dataset(dataset: Dataset, charset: Charset, skips: SkipLog, limit: int | None = None,
                    clean: Callable[[str], str] | None = None) -> Inspection:
    """Read every sample (or the first ``limit``), record bad ones in ``skips``, and summarise the rest. ``clean``:
    the cleaning training applies to each normalised label before encoding it."""
    n = len(dataset) if limit is None else min(limit, len(dataset))  # type: ignore[arg-type]
    lengths: Counter = Counter()
    unknown: Counter = Counter()
    sizes = []
    report = Inspection(samples=n)
    for i in range(n):
        item = dataset[i]
        if isinstance(item, Skip):
            skips.add(item)
            continue
        report.readable += 1
        sizes.append(item.image.size)
        report.with_masks += item.mask is not None
        label = charset.normalize(item.label)
        if clean is not None:
            cleaned = clean(label)
            if not cleaned:
                skips.add(Skip(item.key, f"nothing left once cleaned for charset {charset.name} (label "
                                         f"{item.label!r})"))
                continue
            report.cleaned += cleaned != label
            label = cleaned
        lengths[len(label)] += 1
        missing = [c for c in label if c not in charset.symbols]
        if missing:
            unknown.update(missing)
            skips.add(Skip(item.key, f"characters outside charset {charset.name}: {''.join(sorted(set(missing)))} "
                                     f"(label {item.label!r})"))
        elif len(label) > charset.max_length:
            report.too_long += 1
        elif label:
            report.encodable += 1
    wh = np.asarray(sizes, dtype=np.float64).reshape(-1, 2)
    report.label_lengths = dict(sorted(lengths.items()))
    report.unknown_chars = dict(unknown.most_common())
    report.width, report.height = _stats(wh[:, 0]), _stats(wh[:, 1])
    report.aspect = _stats(wh[:, 0] / np.maximum(wh[:, 1], 1))
    report.bad = [str(s) for s in skips.skips]
    return report


def format_inspection(name: str, r: Inspection, charset: Charset) -> str:
    lines = [f"# {name}", "",
             f"samples: {r.samples}  readable: {r.readable}  unreadable: {r.samples - r.readable}  "
             f"with character masks: {r.with_masks}",
             f"charset {charset.name} ({len(charset)} symbols, max length {charset.max_length}): "
             f"{r.encodable} label{'' if r.encodable == 1 else 's'} encodable "
             f"({100.0 * r.encodable / max(r.readable, 1):.1f}%), "
             f"{r.too_long} too long, {sum(1 for b in r.bad if 'outside charset' in b)} with unknown characters"
             + (f", {r.cleaned} changed by training's cleaning" if r.cleaned else ""),
             ]
    if r.unknown_chars:
        lines.append("unknown characters: " + " ".join(f"{c!r}×{n}" for c, n in list(r.unknown_chars.items())[:30]))
    lines += ["", "label length histogram:"]
    top = max(r.label_lengths.values(), default=1)
    for length, count in r.label_lengths.items():
        lines.append(f"  {length:3d} {count:7d} {'#' * max(1, round(40 * count / top))}")
    lines += ["", "| image | min | p5 | median | p95 | max | mean |", "|---|---|---|---|---|---|---|"]
    for label, st in (("width", r.width), ("height", r.height), ("aspect w/h", r.aspect)):
        if st:
            lines.append(f"| {label} | " + " | ".join(f"{st[k]:.1f}" for k in ("min", "p5", "median", "p95", "max",
                                                                            "mean")) + " |")
    return "\n".join(lines)
