"""Turning a decoded ``Sample`` into model-ready arrays: fixed-size resize (stretched, or aspect kept and padded),
label encoding and position masks; and ``normalise``, the one uint8 → [−1, 1] mapping that training, validation and
reading all feed the models through.

``Prepare`` runs inside DataLoader workers, so each sample is resized and encoded once, on the CPU side, as uint8;
``normalise`` makes the float tensor in the main process, keeping uint8 (4× smaller) on the way between processes.
"""

from __future__ import annotations

import math
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


PAD_VALUE = 128  # the grey that normalises to 0, where the pretrained PP-OCR network saw its padding


def fitted_width(size: tuple[int, int], height: int, width: int) -> int:
    """The width a (w, h) image takes at ``height`` with its aspect ratio kept, at most ``width``, at least 1."""
    w, h = size
    return max(1, min(width, math.ceil(height * w / max(h, 1))))


# How an image is scaled to the model's input: "antialias" is Pillow's bilinear filter, which widens its support when
# shrinking (every source pixel counts); "linear" samples the 2x2 neighbours of each output pixel's centre only, as
# OpenCV's INTER_LINEAR does — the resize PaddleOCR trains and reads with, so an imported PP-OCR network reads exactly
# as in RapidOCR with it (docs/pretrained.md).
RESAMPLE = ("antialias", "linear")


def resize_image(image: Image.Image, height: int, width: int, keep_ratio: bool = False,
                 resample: str = "antialias") -> np.ndarray:
    """``height``×``width`` uint8 RGB. Stretched (the paper's training), or with ``keep_ratio`` scaled to ``height``
    with the aspect ratio kept, squeezed only when wider than ``width``, and padded on the right with grey."""
    fitted = fitted_width(image.size, height, width) if keep_ratio else width
    if resample == "linear":
        scaled = linear_resize(np.asarray(image, dtype=np.uint8), height, fitted)
    elif resample == "antialias":
        same = image.size == (fitted, height)
        scaled = np.asarray(image if same else image.resize((fitted, height), Image.BILINEAR), dtype=np.uint8)
    else:
        raise ValueError(f"resample must be one of {', '.join(RESAMPLE)}, got {resample!r}")
    if fitted == width:
        return scaled
    canvas = np.full((height, width, 3), PAD_VALUE, dtype=np.uint8)
    canvas[:, :fitted] = scaled
    return canvas


def linear_resize(array: np.ndarray, height: int, width: int) -> np.ndarray:
    """(h, w, C) uint8 → (height, width, C) by plain bilinear interpolation at pixel centres, edges clamped
    (OpenCV's INTER_LINEAR convention; it rounds in fixed point, so the two differ by at most a grey level)."""
    rows, row_weight = _taps(array.shape[0], height)
    cols, col_weight = _taps(array.shape[1], width)
    row_weight, col_weight = row_weight[:, None, None], col_weight[None, :, None]
    pixels = array.astype(np.float32)
    top, bottom = (pixels[r][:, cols[0]] * (1 - col_weight) + pixels[r][:, cols[1]] * col_weight for r in rows)
    out = top * (1 - row_weight) + bottom * row_weight
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _taps(source: int, target: int) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    """For each of ``target`` output positions: the two source indices it interpolates and the second's weight."""
    position = np.clip((np.arange(target) + 0.5) * (source / target) - 0.5, 0, source - 1)
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, source - 1)
    weight = (position - low).astype(np.float32)
    return (low, high), weight


def resize_mask(mask: np.ndarray, size: tuple[int, int], height: int, width: int, keep_ratio: bool) -> np.ndarray:
    """A character-instance map resized like its (w, h) ``size`` image by ``resize_image`` (nearest; padding is
    background)."""
    fitted = fitted_width(size, height, width) if keep_ratio else width
    out = np.zeros((height, width), dtype=mask.dtype)
    out[:, :fitted] = np.asarray(Image.fromarray(mask).resize((fitted, height), Image.NEAREST))
    return out


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
                 augment: Augment | None = None, keep_ratio: bool = False, resample: str = "antialias"):
        self.charset, self.height, self.width, self.clean, self.augment = charset, height, width, clean, augment
        self.keep_ratio, self.resample = keep_ratio, resample

    def __call__(self, sample: Sample | Skip) -> PreparedSample | Skip:
        if isinstance(sample, Skip):
            return sample
        original = self.charset.normalize(sample.label)
        label = self.charset.normalize(self.clean(sample.label)) if self.clean else original
        try:
            ids = self.charset.encode(label)
        except LabelError as exc:
            return Skip(sample.key, f"{exc} (label {sample.label!r})")
        image = resize_image(sample.image, self.height, self.width, self.keep_ratio, self.resample)
        positions = None
        if sample.mask is not None and label == original:
            positions = resize_mask(instance_to_position(sample.mask, label), sample.image.size, self.height,
                                    self.width, self.keep_ratio)
        if self.augment is not None:
            image, positions = self.augment(image, positions)
        return PreparedSample(sample.key, label, image, ids, positions)
