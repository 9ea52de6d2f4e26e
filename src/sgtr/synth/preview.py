"""Contact sheet of synthetic samples: each image beside the same image with its character masks in colour and the
label underneath, so a person can judge realism and mask alignment at a glance. ``sgtr synth --preview`` draws it
from what it stored, so the sheet also shows that images and masks survived encoding together."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

import lmdb
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from sgtr.data import lmdb_format as fmt

ZOOM = 2  # for crops under ZOOM_BELOW pixels high; taller ones are shown at their own size
ZOOM_BELOW = 40
COLUMNS = 2
LABEL_HEIGHT = 14
GAP = 6


def instance_colours(count: int) -> np.ndarray:
    """(count + 1, 3) uint8: black for background, then hues far apart for neighbouring characters."""
    hues = (np.arange(count) * 0.38) % 1.0
    rgb = np.clip(np.abs((hues[:, None] * 6 + np.array([0.0, 4.0, 2.0])) % 6 - 3) - 1, 0, 1)
    return np.vstack([np.zeros((1, 3)), rgb * 255]).astype(np.uint8)


def overlay(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    colours = instance_colours(int(mask.max(initial=0)))
    tinted = (0.35 * image + 0.65 * colours[mask]).astype(np.uint8)
    return np.where(mask[..., None] > 0, tinted, (image * 0.5).astype(np.uint8))


def contact_sheet(samples: Sequence[tuple[np.ndarray, np.ndarray, str]], path: str | Path) -> Path:
    """Write the sheet for (image, mask, label) triples to ``path`` (PNG) and return it."""
    if not samples:
        raise ValueError("no samples to preview")
    # Keep-ratio samples differ in width: every tile is as wide as the widest, each pair starting at its left.
    h, w = samples[0][0].shape[0], max(s[0].shape[1] for s in samples)
    zoom = ZOOM if h < ZOOM_BELOW else 1
    tile_w, tile_h = 2 * w * zoom + GAP, h * zoom + LABEL_HEIGHT
    rows = (len(samples) + COLUMNS - 1) // COLUMNS
    sheet = Image.new("RGB", (COLUMNS * (tile_w + GAP) + GAP, rows * (tile_h + GAP) + GAP), (40, 40, 40))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for k, (image, mask, label) in enumerate(samples):
        x, y = GAP + (k % COLUMNS) * (tile_w + GAP), GAP + (k // COLUMNS) * (tile_h + GAP)
        pad = np.full((h, w - image.shape[1] + GAP // zoom, 3), 40, np.uint8)
        pair = np.concatenate([image, pad, overlay(image, mask)], axis=1)
        big = Image.fromarray(pair).resize((pair.shape[1] * zoom, h * zoom), Image.NEAREST)
        sheet.paste(big, (x, y))
        draw.text((x, y + h * zoom + 1), label, fill=(230, 230, 230), font=font)
    path = Path(path)
    sheet.save(path)
    return path


def read_samples(path: str | Path, count: int) -> list[tuple[np.ndarray, np.ndarray, str]]:
    """The first ``count`` (image, mask, label) triples of a synth LMDB."""
    env = lmdb.open(str(path), readonly=True, lock=False)
    try:
        with env.begin() as txn:
            total = int(txn.get(fmt.NUM_SAMPLES_KEY, b"0"))
            return [(np.asarray(Image.open(io.BytesIO(txn.get(fmt.image_key(i)))).convert("RGB")),
                     np.asarray(Image.open(io.BytesIO(txn.get(fmt.mask_key(i))))),
                     txn.get(fmt.label_key(i)).decode("utf-8")) for i in range(1, min(count, total) + 1)]
    finally:
        env.close()
