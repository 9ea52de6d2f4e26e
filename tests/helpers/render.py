"""A tiny word renderer for the model tests: draws each character separately with PIL, so its mask is known exactly,
and packs rendered words into a batch as the data pipeline yields them."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw, ImageFont

from sgtr.data.charset import Charset
from sgtr.models.output import Targets

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def font() -> str:
    """The DejaVu font file; the test is skipped without it."""
    if not DEJAVU.is_file():
        pytest.skip("DejaVu fonts (fonts-dejavu-core) are not installed")
    return str(DEJAVU)


def _font(height: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(DEJAVU), int(height * 0.7)) if DEJAVU.is_file() else ImageFont.load_default()


def render_word(word: str, height: int = 32, width: int = 128, rng: random.Random | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """(H, W, 3) uint8 image and (H, W) mask with value t+1 on the ink bounding box of the word's t-th character.

    Characters are drawn left to right on one line, then the whole line is resized to fit the image (as a plain
    resize would), so long words get narrow characters."""
    rng = rng or random.Random(0)
    font = _font(height)
    advances = [font.getlength(c) for c in word]
    line_w, line_h = int(sum(advances)) + 4, height
    ink = np.zeros((line_h, line_w), dtype=np.uint8)
    mask = np.zeros((line_h, line_w), dtype=np.uint8)
    x = 2.0
    for t, (char, advance) in enumerate(zip(word, advances)):
        glyph = Image.new("L", (line_w, line_h))
        ImageDraw.Draw(glyph).text((x, height * 0.1), char, fill=255, font=font)
        g = np.asarray(glyph)
        ys, xs = np.nonzero(g > 64)
        if len(ys):
            mask[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1] = t + 1
        ink = np.maximum(ink, g)
        x += advance
    fit_w = min(width, max(line_w, width // 2))
    ink = np.asarray(Image.fromarray(ink).resize((fit_w, height), Image.BILINEAR))
    mask = np.asarray(Image.fromarray(mask).resize((fit_w, height), Image.NEAREST))
    left = rng.randrange(width - fit_w + 1)
    canvas_ink = np.zeros((height, width), dtype=np.float32)
    canvas_mask = np.zeros((height, width), dtype=np.uint8)
    canvas_ink[:, left: left + fit_w] = ink / 255.0
    canvas_mask[:, left: left + fit_w] = mask
    bg, fg = np.array([rng.randrange(256) for _ in range(3)]), np.array([rng.randrange(256) for _ in range(3)])
    if np.abs(bg - fg).sum() < 200:
        fg = 255 - bg
    image = bg * (1 - canvas_ink[..., None]) + fg * canvas_ink[..., None]
    return image.astype(np.uint8), canvas_mask


def random_words(n: int, charset: Charset, rng: random.Random, lengths: tuple[int, int] = (3, 8)) -> list[str]:
    return ["".join(rng.choice(charset.symbols) for _ in range(rng.randint(*lengths))) for _ in range(n)]


def render_batch(words: list[str], charset: Charset, height: int = 32, width: int = 128, seed: int = 0
                 ) -> tuple[torch.Tensor, Targets]:
    """Images (B, 3, H, W) in [-1, 1] and ``Targets`` with masks for every sample, as the data pipeline yields them."""
    rng = random.Random(seed)
    rendered = [render_word(w, height, width, rng) for w in words]
    images = torch.from_numpy(np.stack([r[0] for r in rendered])).permute(0, 3, 1, 2).float() / 127.5 - 1
    masks = torch.from_numpy(np.stack([r[1] for r in rendered])).long()
    return images, Targets(charset.encode_batch(words), masks, torch.ones(len(words), dtype=torch.bool))

