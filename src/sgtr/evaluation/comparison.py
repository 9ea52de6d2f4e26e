"""Two evaluations of the same sets compared sample by sample, as a reviewer asks: is the gap larger than chance?

The inputs are two ``sgtr evaluate --json`` results (``report.to_dict`` form), which keep every scored sample's
reading. Samples are paired by set name and key; a sample scored on one side only is counted and left out. Per set:

* the **gap** ``accuracy(A) − accuracy(B)`` over the paired samples;
* its **paired bootstrap 95 % interval**: the paired samples are drawn with replacement ``resamples`` times (one
  seeded NumPy generator, all draws of a set in one array operation) and the interval is the 2.5th to 97.5th
  percentile of the resampled gaps;
* **McNemar's test**: of the samples exactly one side reads right (``a_only``, ``b_only``), under "no difference"
  each is equally likely to be either side's, so the two-sided p-value is the exact binomial tail
  ``min(1, 2 · P(X ≤ min(a_only, b_only)))`` with ``X ~ Binomial(a_only + b_only, 1/2)``. It is computed with
  integers (``math.comb``), exact at every count, so no chi-square approximation is needed for large ones.

The **mean over distinct sets** (one per benchmark, as in the evaluation's own means) gets the mean of the per-set
gaps, an interval from the same per-set resamples averaged across sets (each set resampled on its own, as the sets
are independent samples of their benchmarks), and McNemar's test on the discordant samples pooled over those sets.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sgtr.evaluation.benchmarks import distinct_sets

RESAMPLES = 2000
CHUNK = 256  # resamples drawn per array operation: bounds memory at CHUNK × samples indices


@dataclass
class SetComparison:
    name: str
    paired: int  # samples scored on both sides
    unpaired: int  # samples scored on one side only, left out
    accuracy_a: float
    accuracy_b: float
    gap: float  # accuracy_a − accuracy_b, a fraction
    low: float  # 95 % paired bootstrap interval of the gap
    high: float
    a_only: int  # right in A, wrong in B
    b_only: int  # wrong in A, right in B
    p_value: float  # McNemar, exact two-sided


@dataclass
class Comparison:
    a: str
    b: str
    protocol: str
    resamples: int
    seed: int
    sets: list[SetComparison]
    distinct: list[str]
    mean_gap: float
    mean_low: float
    mean_high: float
    mean_p_value: float  # McNemar on the discordant samples pooled over the distinct sets
    only_in_a: list[str] = field(default_factory=list)  # sets one side did not score
    only_in_b: list[str] = field(default_factory=list)


def mcnemar_p(a_only: int, b_only: int) -> float:
    """Exact two-sided McNemar p-value from the two discordant counts."""
    n = a_only + b_only
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(a_only, b_only) + 1))
    return min(1.0, 2 * tail / 2**n)  # int / int: a correctly rounded float at any size


def bootstrap_gaps(right_a: np.ndarray, right_b: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """``resamples`` gaps in accuracy, each over the paired samples drawn with replacement."""
    diff = right_a.astype(np.float64) - right_b.astype(np.float64)
    n = len(diff)
    gaps = np.empty(resamples)
    for start in range(0, resamples, CHUNK):
        stop = min(start + CHUNK, resamples)
        gaps[start:stop] = diff[rng.integers(0, n, size=(stop - start, n))].mean(axis=1)
    return gaps


def _interval(gaps: np.ndarray) -> tuple[float, float]:
    low, high = np.percentile(gaps, [2.5, 97.5])
    return float(low), float(high)


def _readings(result: dict, where: str) -> dict[str, dict[str, bool]]:
    """Set name → sample key → right, from an evaluation result."""
    out: dict[str, dict[str, bool]] = {}
    for s in result.get("sets", []):
        if "samples" not in s:
            raise ValueError(f"{where}: set {s.get('name')!r} has no per-sample readings; write it again with "
                             "sgtr evaluate --json")
        out[s["name"]] = {sample["key"]: bool(sample["correct"]) for sample in s["samples"]}
    return out


def compare(a: dict, b: dict, *, resamples: int = RESAMPLES, seed: int = 0, names: tuple[str, str] = ("A", "B")
            ) -> Comparison:
    """Compare two evaluation results (``report.to_dict`` form) of the same sets under the same protocol."""
    if a.get("protocol") != b.get("protocol"):
        raise ValueError(f"{names[0]} was scored under protocol {a.get('protocol')}, {names[1]} under "
                         f"{b.get('protocol')}: compare results of one protocol")
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    read_a, read_b = _readings(a, names[0]), _readings(b, names[1])
    rng = np.random.default_rng(seed)
    sets: list[SetComparison] = []
    resampled: dict[str, np.ndarray] = {}
    for name, samples_a in read_a.items():
        if name not in read_b:
            continue
        samples_b = read_b[name]
        keys = [k for k in samples_a if k in samples_b]
        if not keys:
            continue
        right_a = np.array([samples_a[k] for k in keys])
        right_b = np.array([samples_b[k] for k in keys])
        gaps = bootstrap_gaps(right_a, right_b, resamples, rng)
        resampled[name] = gaps
        low, high = _interval(gaps)
        a_only, b_only = int((right_a & ~right_b).sum()), int((~right_a & right_b).sum())
        sets.append(SetComparison(
            name=name, paired=len(keys), unpaired=len(samples_a) + len(samples_b) - 2 * len(keys),
            accuracy_a=float(right_a.mean()), accuracy_b=float(right_b.mean()),
            gap=float(right_a.mean() - right_b.mean()), low=low, high=high, a_only=a_only, b_only=b_only,
            p_value=mcnemar_p(a_only, b_only)))
    if not sets:
        raise ValueError(f"{names[0]} and {names[1]} share no scored sample: compare results on the same sets")
    distinct, _ = distinct_sets([s.name for s in sets])
    counted = [s for s in sets if s.name in distinct]
    mean_low, mean_high = _interval(np.mean([resampled[s.name] for s in counted], axis=0))
    return Comparison(
        a=a.get("source", names[0]), b=b.get("source", names[1]), protocol=a.get("protocol", ""),
        resamples=resamples, seed=seed, sets=sets, distinct=distinct,
        mean_gap=float(np.mean([s.gap for s in counted])), mean_low=mean_low, mean_high=mean_high,
        mean_p_value=mcnemar_p(sum(s.a_only for s in counted), sum(s.b_only for s in counted)),
        only_in_a=[n for n in read_a if n not in read_b], only_in_b=[n for n in read_b if n not in read_a])


def load_result(path: str | Path) -> dict:
    """An ``sgtr evaluate --json`` file, or a ``ValueError`` naming it."""
    path = Path(path)
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not an sgtr evaluate --json file ({exc})") from None
    if not isinstance(result, dict) or not isinstance(result.get("sets"), list):
        raise ValueError(f"{path}: not an sgtr evaluate --json file (no list of sets)")
    return result
