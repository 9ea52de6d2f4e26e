"""Throughput of ``sgtr synth`` with masks, and the LMDB size it implies.

Writes ``--count`` samples (32x128 by default, system fonts, default effects) into a temporary LMDB once per worker
count and prints a Markdown table: images/s (wall clock, rendering + encoding + LMDB commits, after the font scan),
CPU milliseconds per image (all processes; on a shared machine wall-clock rates fall while this stays put), bytes
per sample on disk (data.mdb size / samples) and the size of 100k samples extrapolated from that.

    .venv/bin/python benchmarks/synth_throughput.py --count 5000 --workers 1 2
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

from sgtr.data.charset import Charset
from sgtr.synth.config import SynthConfig
from sgtr.synth.render import SynthGenerator
from sgtr.synth.writer import write_shard


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the pool's workers, once it has joined them)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--height", type=int, default=32)
    parser.add_argument("--width", type=int, default=128, help="with --keep-ratio the largest width")
    parser.add_argument("--keep-ratio", action="store_true", help="crops as wide as their word")
    parser.add_argument("--image-format", choices=("jpg", "png"), default="jpg")
    parser.add_argument("--charset", default="94")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    generator = SynthGenerator.build(SynthConfig(Charset.from_spec(args.charset), height=args.height, width=args.width,
                                                 keep_ratio=args.keep_ratio, system_backgrounds=True))
    generator.backgrounds.preload()  # once per run, before the workers fork (write_shard does the same)
    setup = time.perf_counter() - start
    print(f"{len(generator.fonts)} faces in {generator.fonts.num_families} families, "
          f"{len(generator.texts.words)} words, {len(generator.backgrounds.files)} backgrounds; "
          f"setup (font scan, word list, backgrounds) {setup:.1f} s; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start; {platform.processor() or ''}",
          file=sys.stderr)

    rows = []
    for workers in args.workers:
        # A fresh renderer per run: forked workers would otherwise inherit the glyph cache an earlier run warmed.
        fresh = SynthGenerator(generator.config, generator.fonts, generator.texts, generator.backgrounds)
        with tempfile.TemporaryDirectory(prefix="sgtr-synth-bench-") as tmp:
            cpu0 = cpu_seconds()
            report = write_shard(fresh, Path(tmp) / "db", args.count, workers=workers, image_format=args.image_format)
            cpu = cpu_seconds() - cpu0
            disk = (Path(tmp) / "db" / "data.mdb").stat().st_size
        per_sample = disk / args.count
        rows.append((workers, args.count / report.seconds, 1000 * cpu / args.count, report.bytes_written / args.count,
                     per_sample, per_sample * 100_000 / 1e9, os.getloadavg()[0]))

    size = f"{args.height}x(up to {args.width})" if args.keep_ratio else f"{args.height}x{args.width}"
    print(f"| workers | images/s ({size}, masks, {args.image_format}) | CPU ms/image "
          "| payload bytes/sample | data.mdb bytes/sample | 100k samples (extrapolated) | load avg after |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for workers, rate, cpu_ms, payload, disk, gb, load in rows:
        print(f"| {workers} | {rate:.0f} | {cpu_ms:.2f} | {payload:.0f} | {disk:.0f} | {gb:.2f} GB | {load:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
