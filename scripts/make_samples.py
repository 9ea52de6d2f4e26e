"""Render the bundled sample images (``samples/``) with sgtr's own synthetic engine, so README's main job reads
images that carry no third-party licence. Rerun to regenerate; the seed fixes them.

    python scripts/make_samples.py [--out samples] [--count 12] [--seed 2026]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image

from sgtr.data.charset import Charset
from sgtr.synth.config import SynthConfig
from sgtr.synth.render import SynthGenerator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("samples"))
    parser.add_argument("--count", type=int, default=12)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    generator = SynthGenerator.build(SynthConfig(Charset.from_spec("62", max_length=12), seed=args.seed,
                                                 height=64, width=256, text_mix={"word": 1.0}))
    args.out.mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(args.count):
        sample = generator.render(i)
        name = f"word_{i:02d}.png"
        Image.fromarray(sample.image).save(args.out / name, optimize=True)
        lines.append(f"{name}\t{sample.label}\n")
    (args.out / "labels.tsv").write_text("".join(lines), encoding="utf-8")
    print(f"wrote {args.count} samples to {args.out}")


if __name__ == "__main__":
    main()
