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
