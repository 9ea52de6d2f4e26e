"""LMDB read + decode + resize throughput (images/s), the ceiling of any training or evaluation loop fed from LMDB.

Usage: python benchmarks/lmdb_throughput.py [LMDB_OR_SET] [--size 32x128] [--samples N]
Without a path it builds an LMDB from ../shared/data/benchmarks/IIIT5K_3000 in a temporary folder.
Prints a Markdown table: one row per DataLoader worker count.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from sgtr.data.batching import Collate, PreparedDataset
from sgtr.data.charset import Charset
from sgtr.data.datasets import open_dataset
from sgtr.data.labels import parse_label_file
from sgtr.data.lmdb_writer import create_lmdb
from sgtr.data.transforms import Prepare

DEFAULT_SOURCE = Path(__file__).resolve().parents[2] / "shared" / "data" / "benchmarks" / "IIIT5K_3000"


def measure(dataset, workers: int, batch_size: int, max_steps: int) -> tuple[float, int]:
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=workers, collate_fn=Collate(max_steps),
                        persistent_workers=False)
    start, n = time.perf_counter(), 0
    for batch in loader:
        n += len(batch) + len(batch.skips)
    return n / (time.perf_counter() - start), n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path)
    parser.add_argument("--size", default="32x128")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workers", default="0,1,2")
    args = parser.parse_args()
    torch.set_num_threads(1)
    height, width = map(int, args.size.split("x"))
    charset = Charset.from_spec("94", max_length=100)
    with tempfile.TemporaryDirectory() as tmp:
        path = args.path
        if path is None:
            path = Path(tmp) / "lmdb"
            items, _ = parse_label_file(DEFAULT_SOURCE / "labels.tsv")
            create_lmdb(items, path)
        dataset = PreparedDataset(open_dataset(path), Prepare(charset, height, width))
        print(f"source: {args.path or DEFAULT_SOURCE} ({len(dataset)} samples), resize to {height}x{width}, "
              f"batch {args.batch_size}; machine: {platform.machine()} {torch.get_num_threads()} torch thread, "
              f"{__import__('os').cpu_count()} cores\n")
        print("| DataLoader workers | images | images/s |")
        print("|---|---|---|")
        for workers in map(int, args.workers.split(",")):
            rate, n = measure(dataset, workers, args.batch_size, charset.max_steps)
            print(f"| {workers} | {n} | {rate:,.0f} |")


if __name__ == "__main__":
    main()
