"""The record every reader yields: a decoded image, its label and, for synthetic data, its character masks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image


@dataclass
class Sample:
    """One word crop.

    ``mask`` is the per-character instance map of the same size as the image: 0 for background and t for the t-th
    non-space character of the label in reading order. Real data has none.
    """

    key: str
    image: Image.Image
    label: str
    mask: np.ndarray | None = None
