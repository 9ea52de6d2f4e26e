"""Data the tests read: real word crops from the shared benchmarks (for reading tests only, never to train or choose
anything) and the whole contents of an LMDB."""

from __future__ import annotations

from pathlib import Path

import lmdb
import pytest

CROPS = Path(__file__).resolve().parents[3] / "shared" / "data" / "benchmarks" / "IIIT5K_3000" / "images"


def crops(n: int = 8) -> list[Path]:
    """Real word crops from the shared benchmarks; the test is skipped without them."""
    if not CROPS.is_dir():
        pytest.skip(f"{CROPS} is not present")
    return [CROPS / f"{i}.jpg" for i in range(1, n + 1)]


def contents(path: Path) -> dict[bytes, bytes]:
    env = lmdb.open(str(path), readonly=True, lock=False)
    with env.begin() as txn:
        items = dict(txn.cursor().iternext())
    env.close()
    return items
