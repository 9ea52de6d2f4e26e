"""Preprocessing for reading: user inputs → RGB images → the model's input, exactly as in training.

Inputs are file paths (decoded by ``sgtr.data.images.load_image``: EXIF-upright, alpha on white, bad files raise
``BadImage``), NumPy arrays (H×W or H×W×1 gray, H×W×3 RGB — not OpenCV's BGR — all uint8) or PIL images of any mode.

Every image is brought to the input size the model was trained at exactly as in training
(``sgtr.data.transforms.resize_image``, bilinear, with the filter the spec's ``resample`` names): stretched for
models trained stretched, or scaled to the height with the aspect ratio kept and padded on the right for models whose
spec says ``keep_ratio`` (the PP-OCR geometry).
Besides that, with ``rotate_vertical``, a crop taller than
``VERTICAL_RATIO`` times its width — likely a word written along its long side — is also read turned by +90° and
−90°, and the predictor keeps whichever of the three readings is most confident. The unturned reading stays a
candidate because tall crops are also single upright characters ("I", "1").

``Preprocessor`` is picklable and works on one image at a time, so DataLoader workers run it; ``to_batch`` (training's
own ``sgtr.data.transforms.normalise``) makes the float tensor in the main process, keeping uint8 (4× smaller) on the
way between processes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image

from sgtr.data.images import BadImage, load_image
from sgtr.data.transforms import fitted_width, normalise, resize_image

ImageInput = Union[str, Path, np.ndarray, Image.Image]
VERTICAL_RATIO = 1.5
TURNS = (0, 90, -90)  # degrees counter-clockwise, as PIL's ``rotate``


def to_rgb(image: ImageInput) -> Image.Image:
    """An RGB PIL image from any accepted input; a path that cannot be decoded raises ``BadImage`` naming it."""
    if isinstance(image, Image.Image):
        return image if image.mode == "RGB" else image.convert("RGB")
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8:
            raise ValueError(f"image arrays must be uint8, got {image.dtype}")
        if image.ndim == 3 and image.shape[2] == 1:
            image = image[..., 0]
        if image.ndim == 2:
            return Image.fromarray(np.ascontiguousarray(image), "L").convert("RGB")
        if image.ndim == 3 and image.shape[2] == 3:
            return Image.fromarray(np.ascontiguousarray(image), "RGB")
        raise ValueError(f"image arrays must be H×W (gray) or H×W×3 (RGB), got shape {image.shape}")
    if isinstance(image, (str, os.PathLike)):
        try:
            return load_image(image)
        except BadImage as exc:
            raise BadImage(f"{image}: {exc}") from None
    raise TypeError(f"cannot read a {type(image).__name__}; give a path, a uint8 NumPy array or a PIL image")


@dataclass
class Prepared:
    """One image's candidates: ``arrays`` (N, H, W, 3) uint8 at the model's input size, read turned by ``turns``;
    ``widths``: each candidate's content width, the columns left of its padding (W when stretched)."""

    arrays: np.ndarray
    turns: tuple[int, ...]
    widths: tuple[int, ...]

    @property
    def width(self) -> int:
        """The widest candidate's content width."""
        return max(self.widths)


class Preprocessor:
    def __init__(self, input_size: tuple[int, int], rotate_vertical: bool = False, keep_ratio: bool = False,
                 resample: str = "antialias"):
        self.input_size, self.rotate_vertical, self.keep_ratio = input_size, rotate_vertical, keep_ratio
        self.resample = resample

    def __call__(self, image: ImageInput) -> Prepared:
        img = to_rgb(image)
        h, w = self.input_size
        turns = TURNS if self.rotate_vertical and img.height > VERTICAL_RATIO * img.width else TURNS[:1]
        turned = [img.rotate(t, expand=True) if t else img for t in turns]
        return Prepared(np.stack([resize_image(image, h, w, self.keep_ratio, self.resample) for image in turned]),
                        turns, tuple(fitted_width(image.size, h, w) if self.keep_ratio else w for image in turned))


to_batch = normalise  # (N, H, W, 3) uint8 → (N, 3, H, W) float32 in [-1, 1], exactly as in training
