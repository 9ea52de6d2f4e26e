"""Turning a decoded ``Sample`` into model-ready arrays: fixed-size resize, label encoding and position masks.

Runs inside DataLoader workers, so each sample is resized and encoded once, on the CPU side, as uint8.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from sgtr.data.charset import Charset, LabelError
from sgtr.data.sample import Sample
from sgtr.data.skips import Skip


@dataclass
class PreparedSample:
    """A sample ready for collation: ``image`` (H, W, 3) uint8, ``ids`` without EOS, ``positions`` (H, W) uint8 where
    t+1 marks the label's t-th token (None without a mask)."""

    key: str
    label: str
    image: np.ndarray
    ids: list[int]
    positions: np.ndarray | None


def resize_image(image: Image.Image, height: int, width: int) -> np.ndarray:
    """Resize to exactly ``height``×``width`` (aspect not kept, as in the paper's training) as uint8 RGB."""
    if image.size != (width, height):
        image = image.resize((width, height), Image.BILINEAR)
    return np.asarray(image, dtype=np.uint8)


def instance_to_position(mask: np.ndarray, label: str) -> np.ndarray:
    """Map instance ids (k = k-th non-space character) to label positions + 1, so mask values index the label."""
    positions = [i for i, ch in enumerate(label) if not ch.isspace()]
    lut = np.zeros(256, dtype=np.uint8)
    lut[1 : len(positions) + 1] = np.asarray(positions, dtype=np.int64) + 1
    return lut[mask]


class Prepare:
    """Callable that encodes and resizes one sample, or returns a ``Skip`` explaining why it cannot be used."""

    def __init__(self, charset: Charset, height: int, width: int):
        self.charset, self.height, self.width = charset, height, width

    def __call__(self, sample: Sample | Skip) -> PreparedSample | Skip:
        if isinstance(sample, Skip):
            return sample
        label = self.charset.normalize(sample.label)
        try:
            ids = self.charset.encode(label)
        except LabelError as exc:
            return Skip(sample.key, f"label {sample.label!r} not used: {exc}")
        image = resize_image(sample.image, self.height, self.width)
        positions = None
        if sample.mask is not None:
            mask = Image.fromarray(instance_to_position(sample.mask, label))
            positions = np.asarray(mask.resize((self.width, self.height), Image.NEAREST))
        return PreparedSample(sample.key, label, image, ids, positions)
