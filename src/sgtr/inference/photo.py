"""Reading the words of whole photos: detected lines (``detection.py``) → rectified crops → sgtr's ``Recognizer``.

    from sgtr import Recognizer
    from sgtr.inference.photo import PhotoReader
    words = PhotoReader(Recognizer()).read("street.jpg").words   # [PhotoWord(box, text, confidence, ...), ...]

Each detected line is cut out by a perspective warp of its four corners. A line taller than ``VERTICAL_RATIO`` times
its width is taken to run top to bottom and is cut turned a quarter; the orientation classifier then says which
lines are upside down, and those are cut turned 180°. Every turn is a cyclic shift of the corner order, so a box's
first corner is always the top-left of its text as read.

Lines or words: the detector finds lines, with the spaces in them. A model whose charset has a space reads whole
lines (``mode="lines"``). A model without one (the bundled 94-character model) cannot, so each line is split into
words at the gaps of its ink (``split_words``) and each word is read alone (``mode="words"``). The default,
``mode=None``, picks by the charset.

Results come in reading order: lines top to bottom (a line joins the one before it when their vertical extents
overlap by more than half the smaller height, and a row of such lines is read left to right), words within a line in
the order they are read. A region the recognizer reads as nothing is left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from sgtr.inference.detection import TextBox, TextDetector
from sgtr.inference.lexicon import Lexicon
from sgtr.inference.predictor import Recognizer
from sgtr.inference.preprocess import ImageInput, to_rgb
from sgtr.models.decoding import Prediction

MODES = ("lines", "words")
VERTICAL_RATIO = 1.5
# Word spaces. The gaps between the ink runs of a line are of two kinds, between letters and between words. Where
# the sorted gaps jump by SPACE_JUMP times at once (gaps under LETTER_FLOOR ink heights taken as that), to a gap of
# at least SPACE_MIN ink heights, the spaces start there; otherwise a gap of WORD_GAP ink heights is a space. Chosen
# on DejaVu lines (9 faces, 16-64 px, 13 texts, cropped as the detector crops): 7 of 468 lines split wrongly, against
# 14 with WORD_GAP alone. Word spaces there span 0.42-1.07 of the ink height, letter gaps reach 0.28 (0.38 in the
# monospaced face). Condensed display capitals, whose spaces are near 0.2, stay joined.
SPACE_JUMP = 1.8
SPACE_MIN = 0.25
LETTER_FLOOR = 0.12
WORD_GAP = 0.33
INK_SHARE = 0.03  # a column (or row) with less than this share of ink pixels counts as empty: noise, specks
WORD_MARGIN = 0.15  # of the ink height, kept on each side of a word's ink


@dataclass
class PhotoWord:
    """One reading in a photo: ``box`` four [x, y] corners, clockwise from the top-left of the text as read;
    ``text``, ``confidence`` and ``char_probs`` as in a ``Reading``; ``line``: the index of its row of text in
    reading order (detected lines side by side make one row); ``detection``: the detector's score of the line
    it was found in; ``branches``: per-branch readings when asked for."""

    box: list[list[float]]
    text: str
    confidence: float
    char_probs: list[float]
    line: int
    detection: float
    branches: dict[str, Prediction] = field(default_factory=dict)

    def to_dict(self) -> dict:
        out = {"box": self.box, "text": self.text, "confidence": self.confidence, "char_probs": self.char_probs,
               "line": self.line, "detection": self.detection}
        if self.branches:
            out["branches"] = {name: {"text": p.text, "confidence": p.confidence} for name, p in self.branches.items()}
        return out


@dataclass
class PhotoReading:
    """All of one photo: its ``width`` and ``height``, the ``mode`` it was read in and its ``words`` in reading
    order."""

    width: int
    height: int
    mode: str
    words: list[PhotoWord]

    @property
    def text(self) -> str:
        """The words joined by spaces, one line of text per row."""
        lines: dict[int, list[str]] = {}
        for word in self.words:
            lines.setdefault(word.line, []).append(word.text)
        return "\n".join(" ".join(texts) for texts in lines.values())


class PhotoReader:
    """A ``Recognizer`` with a ``TextDetector`` (a default one when not given): ``read`` one photo.

    ``mode``: ``lines``, ``words`` or None (lines when the recognizer's charset has a space, else words)."""

    def __init__(self, recognizer: Recognizer, detector: TextDetector | None = None, mode: str | None = None):
        if mode is not None and mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; choose one of: {', '.join(MODES)}")
        self.recognizer = recognizer
        self.detector = detector or TextDetector()
        self.mode = mode or ("lines" if " " in recognizer.charset.symbols else "words")

    def read(self, image: ImageInput, *, boxes: list[TextBox] | None = None, branches: bool = False,
             whitelist: Iterable[str] | None = None, lexicon: Lexicon | Iterable[str] | None = None) -> PhotoReading:
        """Find and read the words of one photo; ``boxes``: its lines when already detected. ``branches``,
        ``whitelist`` and ``lexicon`` as in ``Recognizer.predict``, applied to each word (or line)."""
        rgb = np.asarray(to_rgb(image))
        if boxes is None:
            boxes = self.detector.detect(rgb)
        lines = [_upright(box.corners) for box in boxes]
        crops = [rectify(rgb, corners) for corners in lines]
        for i in np.flatnonzero(self.detector.upside_down(crops)):
            lines[i] = np.roll(lines[i], -2, axis=0)
            crops[i] = np.ascontiguousarray(crops[i][::-1, ::-1])
        pieces: list[tuple[int, TextBox, np.ndarray, np.ndarray]] = []  # (row, its box, word corners, crop)
        for rank, i in reading_order(lines):
            spans = [(0, crops[i].shape[1])] if self.mode == "lines" else split_words(crops[i])
            for x0, x1 in spans:
                pieces.append((rank, boxes[i], _span_corners(lines[i], crops[i].shape, x0, x1),
                               crops[i][:, x0:x1]))
        # Lines are already turned upright; a short word's crop may still be tall ("I", "a"), and is read as it is.
        readings = self.recognizer.predict([crop for *_, crop in pieces], branches=branches, whitelist=whitelist,
                                           lexicon=lexicon, rotate_vertical=False)
        words = [PhotoWord(corners.astype(float).round(1).tolist(), r.text, r.confidence, r.char_probs, rank,
                           box.score, r.branches)
                 for (rank, box, corners, _), r in zip(pieces, readings) if r.text]
        return PhotoReading(rgb.shape[1], rgb.shape[0], self.mode, words)


def _upright(corners: np.ndarray) -> np.ndarray:
    """The corners shifted a quarter turn when the box is tall: such a line is taken to run top to bottom."""
    width = np.linalg.norm(corners[1] - corners[0])
    height = np.linalg.norm(corners[3] - corners[0])
    return np.roll(corners, -1, axis=0) if height > VERTICAL_RATIO * width else corners


def rectify(image: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """The quadrilateral ``corners`` (clockwise from the text's top-left) of an RGB image, warped to an upright
    rectangle as wide as its longer top/bottom edge and as tall as its longer side."""
    import cv2

    width = round(max(np.linalg.norm(corners[1] - corners[0]), np.linalg.norm(corners[2] - corners[3])))
    height = round(max(np.linalg.norm(corners[3] - corners[0]), np.linalg.norm(corners[2] - corners[1])))
    width, height = max(width, 1), max(height, 1)
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(corners.astype(np.float32), target)
    return cv2.warpPerspective(image, matrix, (width, height), flags=cv2.INTER_CUBIC,
                               borderMode=cv2.BORDER_REPLICATE)


def _span_corners(corners: np.ndarray, shape: tuple[int, ...], x0: int, x1: int) -> np.ndarray:
    """The photo corners of columns ``x0``..``x1`` of the crop ``rectify`` made of ``corners``."""
    import cv2

    height, width = shape[:2]
    if (x0, x1) == (0, width):
        return corners
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    inverse = cv2.getPerspectiveTransform(target, corners.astype(np.float32))
    span = np.array([[[x0, 0], [x1, 0], [x1, height], [x0, height]]], dtype=np.float32)
    return cv2.perspectiveTransform(span, inverse)[0]


def split_words(crop: np.ndarray) -> list[tuple[int, int]]:
    """Column ranges [x0, x1) of the words of an upright line crop (H, W, 3) uint8: ink is the Otsu class that is
    rarer along the crop's border, and words are separated by runs of empty columns as wide as a word space
    (``space_width``)."""
    import cv2

    gray = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    width = gray.shape[1]
    _, dark = cv2.threshold(gray, 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    border = np.concatenate([dark[0], dark[-1], dark[:, 0], dark[:, -1]])
    ink = dark if border.mean() < 0.5 else 1 - dark
    filled = ink.sum(axis=0) >= max(1, int(INK_SHARE * ink.shape[0]))  # one pixel is a thin stroke in small text
    rows = np.flatnonzero(ink[:, filled].mean(axis=1) >= INK_SHARE) if filled.any() else []
    if len(rows) == 0:
        return [(0, width)]
    ink_height = rows[-1] - rows[0] + 1
    # Runs of filled columns, then merge runs whose gap is narrower than a word space.
    edges = np.flatnonzero(np.diff(np.concatenate([[0], filled.astype(np.int8), [0]])))
    runs = edges.reshape(-1, 2)
    gaps = runs[1:, 0] - runs[:-1, 1]
    breaks = np.flatnonzero(gaps >= space_width(gaps, ink_height))
    starts = np.concatenate([[runs[0, 0]], runs[breaks + 1, 0]])
    ends = np.concatenate([runs[breaks, 1], [runs[-1, 1]]])
    margin = round(WORD_MARGIN * ink_height)
    return [(max(0, int(s) - margin), min(width, int(e) + margin)) for s, e in zip(starts, ends)]


def space_width(gaps: np.ndarray, ink_height: int) -> float:
    """The narrowest gap (pixels) that counts as a word space among a line's ``gaps`` between ink runs: the lower
    edge of the largest jump in the sorted gaps when it is a clear one, else ``WORD_GAP`` ink heights."""
    ordered = np.sort(gaps).astype(np.float64)
    if len(ordered) >= 2:
        jumps = ordered[1:] / np.maximum(ordered[:-1], LETTER_FLOOR * ink_height)
        jumps[ordered[1:] < SPACE_MIN * ink_height] = 0.0
        k = int(np.argmax(jumps))
        if jumps[k] >= SPACE_JUMP:
            return float(ordered[k + 1])
    return WORD_GAP * ink_height


def reading_order(lines: list[np.ndarray]) -> list[tuple[int, int]]:
    """(row, index) of each line corner array in reading order: rows of vertically overlapping lines top to bottom,
    each row left to right."""
    if not lines:
        return []
    tops = np.array([c[:, 1].min() for c in lines])
    bottoms = np.array([c[:, 1].max() for c in lines])
    lefts = np.array([c[:, 0].min() for c in lines])
    rows: list[list[int]] = []
    for i in np.argsort((tops + bottoms) / 2, kind="stable"):
        row = rows[-1] if rows else None
        if row is not None:
            top, bottom = tops[row].max(), bottoms[row].min()
            overlap = min(bottom, bottoms[i]) - max(top, tops[i])
            if overlap > 0.5 * min(bottom - top, bottoms[i] - tops[i]):
                row.append(int(i))
                continue
        rows.append([int(i)])
    return [(rank, i) for rank, row in enumerate(rows) for i in sorted(row, key=lambda k: lefts[k])]


def annotate(image: ImageInput, reading: PhotoReading) -> Image.Image:
    """The photo with each word's box drawn and its text written above it."""
    from PIL import ImageDraw, ImageFont

    canvas = to_rgb(image).copy()
    draw = ImageDraw.Draw(canvas)
    size = max(12, round(min(canvas.size) / 50))
    try:
        font = ImageFont.load_default(size)
    except TypeError:  # Pillow before 10.1 has one fixed-size bitmap font
        font = ImageFont.load_default()
    for word in reading.words:
        points = [tuple(p) for p in word.box]
        draw.polygon(points, outline=(255, 0, 64), width=max(2, size // 6))
        label = f"{word.text} {word.confidence:.2f}"
        x, y = points[0]
        left, top, right, bottom = draw.textbbox((x, y), label, font=font, anchor="lb")
        draw.rectangle((left - 2, top - 2, right + 2, bottom + 2), fill=(255, 0, 64))
        draw.text((x, y), label, font=font, fill=(255, 255, 255), anchor="lb")
    return canvas
