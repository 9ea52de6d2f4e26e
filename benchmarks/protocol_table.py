"""Re-score saved per-sample readings (``sgtr evaluate --json`` files) under another protocol, one row per file.

Each file keeps every sample's label and prediction, so the case-sensitive table costs no second forward pass:

    .venv/bin/python benchmarks/protocol_table.py --protocol 62 runs/ppocr/bench_*.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sgtr.evaluation.benchmarks import distinct_sets
from sgtr.evaluation.metrics import Tally
from sgtr.evaluation.protocols import get_protocol


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--protocol", default="62")
    args = parser.parse_args()
    protocol = get_protocol(args.protocol)
    rows, names = [], None
    for path in args.files:
        doc = json.loads(path.read_text(encoding="utf-8"))
        scores = {}
        for s in doc["sets"]:
            tally = Tally()  # the evaluation's own metric; samples whose cleaned label is empty are not scored
            for x in s["samples"]:
                label = protocol.clean(x["label"])
                if label:
                    tally.add(protocol.clean(x["prediction"] or ""), label)
            scores[s["name"]] = (100.0 * tally.accuracy, tally.count)
        names = names or sorted(scores)
        distinct, _ = distinct_sets(list(scores))
        mean = sum(scores[n][0] for n in distinct) / len(distinct)
        rows.append(f"| {doc['source']} | " + " | ".join(f"{scores[n][0]:.2f}" for n in names) + f" | {mean:.2f} |")
    print(f"Word accuracy %, protocol {protocol.name}; mean over distinct sets.\n")
    print("| source | " + " | ".join(names) + " | mean |")
    print("|---|" + "---:|" * (len(names) + 1))
    print("\n".join(rows))


if __name__ == "__main__":
    main()
