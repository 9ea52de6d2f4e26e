"""Reading in width buckets: accuracy and speed of a model that keeps the aspect ratio, read at its trained width
against batches cut to width buckets (``Recognizer(width_buckets=N)``), in one run on the same decoded crops.

Scored on labelled folders (default: the validation split, ``splits/val/*``; never the benchmarks, since this
decides a default), under the 36- and 94-character protocols, with the count of readings that differ from reading at
the trained width. Images/s is ``Recognizer.predict`` over already-decoded images (resize, forward pass, decoding),
the fastest of ``--rounds``; compare rows as ratios (column "speed").

    .venv/bin/python benchmarks/width_buckets.py --model src/sgtr/assets/default.safetensors --buckets 0 32 64 128
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "src/sgtr/assets/default.safetensors"))
    parser.add_argument("--sets", nargs="+", type=Path, default=sorted((ROOT / "splits" / "val").iterdir()))
    parser.add_argument("--buckets", nargs="+", type=int, default=[0, 32, 64, 128], help="0: the trained width")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    import torch

    from sgtr.data.images import load_image
    from sgtr.data.labels import parse_label_file
    from sgtr.evaluation.protocols import get_protocol
    from sgtr.inference.predictor import Recognizer

    torch.set_num_threads(args.threads)
    items = [item for folder in args.sets for item in parse_label_file(folder / "labels.tsv")[0]]
    images, labels = [load_image(item.path) for item in items], [item.label for item in items]
    protocols = [get_protocol("36"), get_protocol("94")]
    print(f"{args.model}: {len(images)} crops of {', '.join(f.name for f in args.sets)}; batch {args.batch}, "
          f"{args.threads} thread(s), {platform.processor() or platform.machine()}")
    print("\n| width buckets | " + " | ".join(f"accuracy {p.name} (%)" for p in protocols)
          + " | readings changed | images/s | speed |\n|---|" + "---:|" * (len(protocols) + 3))
    first, base_speed = None, None
    for step in args.buckets:
        reader = Recognizer(args.model, runtime="torch", device="cpu", batch_size=args.batch, threads=args.threads,
                            width_buckets=step)
        best = 0.0
        for _ in range(args.rounds):
            start = time.perf_counter()
            texts = [r.text for r in reader.predict(images, rotate_vertical=False)]
            best = max(best, len(images) / (time.perf_counter() - start))
        first = first or texts
        base_speed = base_speed or best
        scores = [100 * sum(p.clean(t) == p.clean(y) for t, y in zip(texts, labels)) / len(labels)
                  for p in protocols]
        changed = sum(a != b for a, b in zip(texts, first))
        name = "off (trained width)" if step == 0 else f"{step} columns"
        print(f"| {name} | " + " | ".join(f"{s:.2f}" for s in scores)
              + f" | {changed} | {best:.1f} | {best / base_speed:.2f}× |", flush=True)


if __name__ == "__main__":
    main()
