"""Turning a decoded ``Sample`` into model-ready arrays: fixed-size resize, label encoding and position masks; and
``normalise``, the one uint8 → [−1, 1] mapping that training, validation and reading all feed the models through.

``Prepare`` runs inside DataLoader workers, so each sample is resized and encoded once, on the CPU side, as uint8;
``normalise`` makes the float tensor in the main process, keeping uint8 (4× smaller) on the way between processes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from PIL import Image

from sgtr.data.augment import Augment
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


def normalise(images: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 RGB → (N, 3, H, W) float32 in [-1, 1], the input every recognizer takes."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0).contiguous()


def instance_to_position(mask: np.ndarray, label: str) -> np.ndarray:
    """Map instance ids (k = k-th non-space character) to label positions + 1, so mask values index the label."""
    positions = [i for i, ch in enumerate(label) if not ch.isspace()]
    lut = np.zeros(256, dtype=np.uint8)
    lut[1 : len(positions) + 1] = np.asarray(positions, dtype=np.int64) + 1
    return lut[mask]


class Prepare:
    """Callable that encodes and resizes one sample, or returns a ``Skip`` explaining why it cannot be used.

    ``clean`` rewrites labels first (the engine passes the evaluation protocol's cleaning, so a real label such as
    ``"JOE'S"`` trains and scores as ``joes`` instead of being dropped for its apostrophe). A mask indexes the
    characters of the original label, so it is kept only when cleaning left the label unchanged. ``augment``
    (training only) distorts the resized crop and its mask together.
    """

    def __init__(self, charset: Charset, height: int, width: int, clean: Callable[[str], str] | None = None,
                 augment: Augment | None = None):
        self.charset, self.height, self.width, self.clean, self.augment = charset, height, width, clean, augment

    def __call__(self, sample: Sample | Skip) -> PreparedSample | Skip:
        if isinstance(sample, Skip):
            return sample
        original = self.charset.normalize(sample.label)
        label = self.charset.normalize(self.clean(sample.label)) if self.clean else original
        try:
            ids = self.charset.encode(label)
        except LabelError as exc:
            return Skip(sample.key, f"{exc} (label {sample.label!r})")
        image = resize_image(sample.image, self.height, self.width)
        positions = None
        if sample.mask is not None and label == original:
            mask = Image.fromarray(instance_to_position(sample.mask, label))
            positions = np.asarray(mask.resize((self.width, self.height), Image.NEAREST))
        if self.augment is not None:
            image, positions = self.augment(image, positions)
        return PreparedSample(sample.key, label, image, ids, positions)
