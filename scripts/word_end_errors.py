"""How many of a model's wrong words are wrong only at the word's end: the last character dropped, or doubled.

Reads evaluation JSON files (``sgtr evaluate ... --json FILE``; a branch's with ``--branches``) and prints a Markdown
table, one row per file and set: the words read wrong, how many of them are the label without its last character
(``coul`` for ``could``), how many the label with its last character repeated (``hotell``), and their share of the
errors. Labels and readings are compared under the file's own protocol, as the evaluation scored them.

    python scripts/word_end_errors.py runs/table-ablation_ppocr/vr-seed0/benchmarks.json \
        runs/table-ablation_ppocr/vr_gtr_res-seed0/benchmarks.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sgtr.evaluation.protocols import get_protocol


def end_errors(samples: list[dict], clean) -> tuple[int, int, int]:
    """(wrong, last dropped, last doubled) over one set's per-sample records."""
    wrong = dropped = doubled = 0
    for sample in samples:
        if sample["correct"]:
            continue
        wrong += 1
        label, reading = clean(sample["label"]), clean(sample["prediction"] or "")
        dropped += len(label) > 0 and reading == label[:-1]
        doubled += len(label) > 0 and reading == label + label[-1]
    return wrong, dropped, doubled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path, metavar="EVALUATION.json")
    parser.add_argument("--skip", nargs="*", default=["IC13_857"], metavar="SET",
                        help="sets left out (default IC13_857, a subset of IC13_1015)")
    args = parser.parse_args()
    print("| file | set | wrong | last dropped | last doubled | share of the errors |")
    print("|---|---|---:|---:|---:|---:|")
    for path in args.files:
        result = json.loads(path.read_text(encoding="utf-8"))
        clean = get_protocol(result["protocol"]).clean
        for entry in result["sets"]:
            if entry["name"] in args.skip:
                continue
            wrong, dropped, doubled = end_errors(entry["samples"], clean)
            share = f"{100 * (dropped + doubled) / wrong:.1f} %" if wrong else "–"
            print(f"| `{path}` | {entry['name']} | {wrong} | {dropped} | {doubled} | {share} |")


if __name__ == "__main__":
    main()
