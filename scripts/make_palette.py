"""Measure text/background colour pairs on the real training crops and write the renderer's colour clusters.

Reads the training split only (``splits/train/*/labels.tsv``; never the validation split or the benchmarks) and
writes colour statistics, no pixels, to ``src/sgtr/assets/text_colours.json``:

    .venv/bin/python scripts/make_palette.py
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from sgtr.data.images import BadImage, load_image
from sgtr.data.labels import parse_label_file
from sgtr.synth.palette import PALETTE_ASSET, cluster_pairs, colour_pair

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=Path, default=ROOT / "splits" / "train",
                        help="folder of <SET>/labels.tsv lists (default: splits/train)")
    parser.add_argument("--clusters", type=int, default=48)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=PALETTE_ASSET)
    args = parser.parse_args(argv)
    if "val" in args.splits.parts or "benchmarks" in args.splits.parts:
        parser.error(f"{args.splits}: colours come from training data only")

    lists = sorted(args.splits.glob("*/labels.tsv"))
    if not lists:
        parser.error(f"{args.splits}: no */labels.tsv")
    text, background, unreadable, one_tone = [], [], 0, 0
    for list_file in lists:
        entries, _ = parse_label_file(list_file)
        for entry in entries:
            try:
                image = np.asarray(load_image(entry.path))
            except BadImage as exc:
                print(f"{entry.key}: skipped ({exc})", file=sys.stderr)
                unreadable += 1
                continue
            pair = colour_pair(image)
            if pair is None:
                one_tone += 1
                continue
            text.append(pair[0])
            background.append(pair[1])
    palette = cluster_pairs(np.array(text), np.array(background), args.clusters, args.seed)
    source = (f"{len(text)} crops of {', '.join(p.parent.name for p in lists)} (training split), k-means k="
              f"{args.clusters} seed {args.seed} in CIELAB; scripts/make_palette.py")
    table = palette.to_json(source)
    rows = ",\n  ".join(json.dumps(c) for c in table.pop("clusters"))
    args.out.write_text(json.dumps(table)[:-1] + f', "clusters": [\n  {rows}\n]}}\n', encoding="utf-8")
    print(f"{args.out}: {len(palette)} clusters from {len(text)} crops ({one_tone} without two clear tones, "
          f"{unreadable} unreadable)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
