"""The standard STR LMDB layout (clovaai/PARSeq bundles) and the keys sgtr adds for synthetic character masks.

Keys, all 1-based: ``num-samples`` (ASCII integer), ``image-%09d`` (encoded image), ``label-%09d`` (UTF-8 label),
and, written by ``sgtr synth``: ``mask-%09d`` (PNG, 8-bit, 0 = background, t = t-th non-space character) and
``boxes-%09d`` (little-endian int16 array of shape (L, 4): x0, y0, x1, y1 per character, exclusive ends).
"""

from __future__ import annotations

import os
from pathlib import Path

NUM_SAMPLES_KEY = b"num-samples"
# Written last by sgtr's writers; a database without it was interrupted before it finished.
COMPLETE_KEY = b"sgtr-complete"
# The settings of a synthetic shard (JSON); its presence marks a database written by ``sgtr synth``.
SYNTH_CONFIG_KEY = b"sgtr-synth-config"


def image_key(index: int) -> bytes:
    return b"image-%09d" % index


def label_key(index: int) -> bytes:
    return b"label-%09d" % index


def mask_key(index: int) -> bytes:
    return b"mask-%09d" % index


def boxes_key(index: int) -> bytes:
    return b"boxes-%09d" % index


def find_lmdb_dirs(root: str | Path) -> list[Path]:
    """Every folder at or below ``root`` that holds a ``data.mdb``, sorted, following no symlink loops."""
    root = Path(root)
    if (root / "data.mdb").is_file():
        return [root]
    found = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames.sort()
        if "data.mdb" in filenames:
            found.append(Path(dirpath))
            dirnames.clear()  # an LMDB folder does not nest another
    return sorted(found)
