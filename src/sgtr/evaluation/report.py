"""Rendering of an ``EvaluationResult``: a Markdown table for people and a JSON document for programs.

The table shows rates as percentages with two decimals, as papers do; the JSON keeps the exact fractions.
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
        rows.append(_mean_row("mean over sets", result.plain_mean))
        rows.append(_mean_row("mean over samples", result.weighted_mean, str(sum(s.scored for s in result.sets))))
    lines = [f"Source: {result.source}. Protocol {result.protocol}"
             + (f" ({protocol.description})." if protocol else "."), "",
             "| " + " | ".join(_HEADER) + " |",
             "|" + "|".join(["---"] + ["---:"] * (len(_HEADER) - 1)) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def to_dict(result: EvaluationResult) -> dict:
    return dataclasses.asdict(result)


def write_json(result: EvaluationResult, path: str | Path) -> None:
    Path(path).write_text(json.dumps(to_dict(result), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
