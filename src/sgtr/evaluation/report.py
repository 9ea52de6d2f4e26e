"""Rendering of an ``EvaluationResult``: a Markdown table for people and a JSON document for programs.

The table shows rates as percentages with two decimals, as papers do, then the mean over the distinct sets and the
size-weighted mean, with a footer naming any set the means leave out; the JSON keeps the exact fractions and every
scored sample's reading.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from sgtr.evaluation.evaluator import EvaluationResult, Mean
from sgtr.evaluation.protocols import PROTOCOLS

_HEADER = ("set", "scored", "unreadable", "empty label", "missing", "accuracy %", "1-NED %", "mean conf %", "images/s")


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.2f}"


def _mean_row(label: str, mean: Mean, scored: str = "") -> list[str]:
    return [label, scored, "", "", "", _percent(mean.accuracy), _percent(mean.one_minus_ned), "", ""]


def to_markdown(result: EvaluationResult) -> str:
    protocol = PROTOCOLS.get(result.protocol)
    rows = [[s.name, str(s.scored), str(s.skipped_bad), str(s.skipped_empty), str(s.missing), _percent(s.accuracy),
             _percent(s.one_minus_ned), _percent(s.mean_confidence),
             "–" if s.images_per_second is None else f"{s.images_per_second:.1f}"]
            for s in result.sets]
    if len(result.sets) > 1:
        counted = sum(s.scored for s in result.sets if s.name in result.distinct)
        rows.append(_mean_row("mean over distinct sets", result.distinct_mean))
        rows.append(_mean_row("size-weighted mean", result.weighted_mean, str(counted)))
    lines = [f"Source: {result.source}. Protocol {result.protocol}"
             + (f" ({protocol.description})." if protocol else "."), "",
             "| " + " | ".join(_HEADER) + " |",
             "|" + "|".join(["---"] + ["---:"] * (len(_HEADER) - 1)) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    if len(result.sets) > 1:
        lines += ["", means_footer(result)]
    return "\n".join(lines) + "\n"


def means_footer(result: EvaluationResult) -> str:
    """What the two mean rows count, in one sentence."""
    text = (f"Means over {len(result.distinct)} distinct sets ({', '.join(result.distinct)}); the size-weighted mean "
            "weighs each by its scored samples.")
    if result.left_out:
        text += " Left out of the means, to count each benchmark once: " + ", ".join(
            f"{name} ({kept} is counted)" for name, kept in result.left_out.items()) + "."
    return text


def to_dict(result: EvaluationResult) -> dict:
    return dataclasses.asdict(result)


def write_json(result: EvaluationResult, path: str | Path) -> None:
    Path(path).write_text(json.dumps(to_dict(result), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _points(value: float) -> str:
    return f"{100 * value:+.2f}"


def comparison_to_markdown(comparison) -> str:
    """A ``sgtr.evaluation.comparison.Comparison`` as a Markdown table: one row per set, then the distinct mean."""
    c = comparison
    header = ("set", "paired", "A %", "B %", "A − B", "95 % interval", "only A right", "only B right", "McNemar p")
    lines = [f"A: {c.a}. B: {c.b}. Protocol {c.protocol}.", "",
             "| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    for s in c.sets:
        lines.append(f"| {s.name} | {s.paired} | {100 * s.accuracy_a:.2f} | {100 * s.accuracy_b:.2f} | "
                     f"{_points(s.gap)} | [{_points(s.low)}, {_points(s.high)}] | {s.a_only} | {s.b_only} | "
                     f"{s.p_value:.3g} |")
    lines.append(f"| mean over distinct sets | | | | {_points(c.mean_gap)} | [{_points(c.mean_low)}, "
                 f"{_points(c.mean_high)}] | | | {c.mean_p_value:.3g} |")
    notes = [f"Gaps in accuracy points; 95 % intervals by paired bootstrap over each set's samples ({c.resamples} "
             f"resamples, seed {c.seed}); McNemar's exact two-sided test on the samples only one side reads right "
             f"(pooled over the distinct sets in the last row). Distinct sets: {', '.join(c.distinct)}."]
    unpaired = sum(s.unpaired for s in c.sets)
    if unpaired:
        notes.append(f"{unpaired} samples scored on one side only are left out.")
    for side, names in (("A", c.only_in_a), ("B", c.only_in_b)):
        if names:
            notes.append(f"Only {side} scored {', '.join(names)}; left out.")
    return "\n".join(lines + ["", " ".join(notes)]) + "\n"
