"""Test photos: words drawn with PIL at known places over a smooth, noisy procedural background, so a detector's
boxes and a reader's words can be checked against where the words really are."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
# Three rows: two single-word lines side by side, a two-word line, one word alone.
LAYOUT = (("OPEN", 40, 40, "DejaVuSans-Bold.ttf", 52), ("daily", 330, 46, "DejaVuSans-Bold.ttf", 52),
          ("coffee shop", 60, 190, "DejaVuSerif.ttf", 44), ("hello", 120, 320, "DejaVuSans-Bold.ttf", 52))
WORDS = ("open", "daily", "coffee", "shop", "hello")  # in reading order, as the 36-character model writes them


def background(width: int, height: int, seed: int) -> np.ndarray:
    """Smooth colour waves with pixel noise, (H, W, 3) uint8."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    waves = np.stack([120 + 70 * np.sin(x / 130), 140 + 50 * np.cos(y / 80), 110 + 40 * np.sin((x + y) / 170)], -1)
    return np.clip(waves + rng.normal(0, 10, waves.shape), 0, 255).astype(np.uint8)


def render_photo(seed: int = 0, size: tuple[int, int] = (560, 420)) -> tuple[Image.Image, list[tuple[str, tuple]]]:
    """The ``LAYOUT`` drawn on a ``size`` (width, height) background: the photo and each drawn line's text with its
    ink box (x0, y0, x1, y1). Skips the test without the DejaVu fonts."""
    if not (FONT_DIR / "DejaVuSans-Bold.ttf").is_file():
        pytest.skip("DejaVu fonts (fonts-dejavu-core) are not installed")
    photo = Image.fromarray(background(*size, seed))
    draw = ImageDraw.Draw(photo)
    drawn = []
    for text, x, y, face, points in LAYOUT:
        font = ImageFont.truetype(str(FONT_DIR / face), points)
        luma = np.asarray(photo)[y:y + points, x:x + points * len(text) // 2].mean()
        draw.text((x, y), text, font=font, fill=(255, 255, 255) if luma < 128 else (15, 15, 15))
        drawn.append((text, draw.textbbox((x, y), text, font=font)))
    return photo, drawn


def inside(point, box) -> bool:
    x, y = point
    return box[0] <= x <= box[2] and box[1] <= y <= box[3]
