"""SynthText's scene images cut into upright word crops with per-character masks (``sgtr data synthtext-crops``).

SynthText's ``gt.mat`` holds, per image: ``imnames``, the image's path relative to the SynthText folder; ``wordBB``,
2×4×N (2×4 when N = 1) x/y of each word's four corners clockwise from its top-left; ``charBB``, 2×4×M corners of
each character the same way; and ``txt``, strings holding one or more words separated by whitespace, whose
characters, concatenated in order, pair one-to-one with the columns of ``charBB``.

Each word's quadrilateral is mapped by a perspective transform onto an upright rectangle, and the same transform
carries its character quadrilaterals into the crop, where they are filled into the instance mask in reading order
(t = the word's t-th character, 0 background: the convention of ``sgtr synth`` and the loaders). A crop keeps the
word's own height, clamped to ``CropSize``'s range, and its own aspect ratio. Every word is either written or named
as a skip (``IMAGE word J``, J counting wordBB's columns from 0) with its reason.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image

from sgtr.data.charset import Charset
from sgtr.data.images import BadImage, load_image
from sgtr.data.lmdb_writer import LmdbBuilder
from sgtr.data.skips import Skip, SkipLog
from sgtr.progress import bar

GROUND_TRUTH_FILE = "gt.mat"
FIELDS = ("imnames", "wordBB", "charBB", "txt")
# A word may poke out of its image by this many pixels (its box rounded outwards) and still keep all its ink.
EDGE_TOLERANCE = 2.0
MIN_SIDE = 1.0  # pixels; a shorter side makes a box degenerate
MAX_CHARACTERS = 255  # masks are 8-bit
IMAGE_FORMATS = ("jpg", "png")


class SynthTextError(ValueError):
    """A ground-truth file that cannot be read at all; the message names it and the problem in one line."""


@dataclass(frozen=True)
class CropSize:
    """A crop is the word's own height (the mean of its left and right sides) clamped to ``min_height`` ..
    ``max_height``, and as wide as the word's own aspect ratio makes it at that height."""

    min_height: int = 16
    max_height: int = 64

    def __post_init__(self) -> None:
        if not 1 <= self.min_height <= self.max_height:
            raise ValueError(f"crop heights must satisfy 1 <= min <= max, got {self.min_height}..{self.max_height}")

    def of(self, quad: np.ndarray) -> tuple[int, int]:
        """(width, height) of the crop of a word box ``quad`` (4, 2)."""
        width, height = _side_lengths(quad)
        out_height = min(self.max_height, max(self.min_height, round(height)))
        return max(1, round(out_height * width / height)), out_height


@dataclass(frozen=True)
class SceneImage:
    """One ``gt.mat`` entry: the image's relative path, its words in reading order, and the corners (K, 4, 2) of
    their boxes and of their characters' boxes."""

    name: str
    words: list[str]
    word_boxes: np.ndarray
    char_boxes: np.ndarray


@dataclass(frozen=True)
class WordCrop:
    """One rectified word: its label, the crop as encoded image bytes and its instance mask as PNG bytes."""

    label: str
    image: bytes
    mask: bytes


@dataclass
class CropReport:
    images: int  # gt.mat entries read
    written: int
    skips: SkipLog


class BadWord(ValueError):
    """A word that cannot be cropped; the message is the reason."""


# ---- reading gt.mat ---------------------------------------------------------------------------------------------
def load_ground_truth(path: str | Path) -> dict[str, list]:
    """The four SynthText fields of a MATLAB v5/v7 ``gt.mat``, one list entry per image."""
    try:
        from scipy.io import loadmat
    except ImportError:
        raise SynthTextError("reading SynthText's gt.mat needs scipy: pip install 'sgtr[synthtext]'") from None
    path = Path(path)
    try:
        raw = loadmat(str(path), variable_names=FIELDS)
    except FileNotFoundError:
        raise SynthTextError(f"{path}: no such file") from None
    except NotImplementedError:  # scipy's answer to a v7.3 (HDF5) file
        raise SynthTextError(f"{path}: a MATLAB v7.3 (HDF5) file; SynthText's gt.mat is v5/v7") from None
    except Exception as exc:  # noqa: BLE001 (scipy's readers raise many types on a damaged or foreign file)
        raise SynthTextError(f"{path}: not a readable MATLAB file ({exc})".replace("\n", " ")) from None
    missing = [name for name in FIELDS if name not in raw]
    if missing:
        raise SynthTextError(f"{path}: lacks {', '.join(missing)}; not SynthText's gt.mat")
    fields = {name: list(np.asarray(raw[name], dtype=object).ravel()) for name in FIELDS}
    counts = {name: len(values) for name, values in fields.items()}
    if len(set(counts.values())) != 1:
        lengths = ", ".join(f"{name} {count}" for name, count in counts.items())
        raise SynthTextError(f"{path}: fields of different lengths ({lengths})")
    return fields


def _strings(value) -> list[str]:
    """The strings of a loaded MATLAB char array or (nested) cell array of them, in order."""
    if isinstance(value, str):
        return [value]
    array = np.asarray(value)
    if array.dtype.kind == "U":
        return [str(s) for s in array.ravel()]
    if array.dtype == object:
        return [s for item in array.ravel() for s in _strings(item)]
    raise ValueError(f"holds {array.dtype} values, not text")


def _corners(value, field: str) -> np.ndarray:
    """A 2×4×K (or squeezed 2×4) box array as (K, 4, 2) corners."""
    boxes = np.asarray(value, dtype=np.float64)
    if boxes.shape == (2, 4):
        boxes = boxes[..., None]
    if boxes.ndim != 3 or boxes.shape[:2] != (2, 4):
        raise ValueError(f"malformed {field} (shape {boxes.shape}, expected 2x4xN)")
    return boxes.transpose(2, 1, 0)


def scene_image(name: str, word_bb, char_bb, txt) -> SceneImage:
    """One entry's fields checked against each other; ``ValueError`` says what does not fit."""
    word_boxes, char_boxes = _corners(word_bb, "wordBB"), _corners(char_bb, "charBB")
    try:
        words = [word for text in _strings(txt) for word in text.split()]
    except ValueError as exc:
        raise ValueError(f"malformed txt ({exc})") from None
    if len(words) != len(word_boxes):
        raise ValueError(f"word count mismatch (txt holds {len(words)} words, wordBB {len(word_boxes)} boxes)")
    characters = sum(len(word) for word in words)
    if characters != len(char_boxes):
        raise ValueError(f"character count mismatch (txt holds {characters} characters, charBB "
                         f"{len(char_boxes)} boxes)")
    return SceneImage(name, words, word_boxes, char_boxes)


# ---- geometry ---------------------------------------------------------------------------------------------------
def _side_lengths(quad: np.ndarray) -> tuple[float, float]:
    """Mean width (top and bottom sides) and mean height (left and right sides) of a clockwise quad."""
    sides = np.linalg.norm(np.roll(quad, -1, axis=0) - quad, axis=1)  # top, right, bottom, left
    return float(sides[0] + sides[2]) / 2, float(sides[1] + sides[3]) / 2


def is_upright_quad(quad: np.ndarray) -> bool:
    """Whether four finite corners make a convex quadrilateral, clockwise on screen from the top-left, with no
    side shorter than ``MIN_SIDE``."""
    if not np.isfinite(quad).all():
        return False
    edges = np.roll(quad, -1, axis=0) - quad
    turns = edges[:, 0] * np.roll(edges, -1, axis=0)[:, 1] - edges[:, 1] * np.roll(edges, -1, axis=0)[:, 0]
    return bool((turns > 0).all() and (np.linalg.norm(edges, axis=1) >= MIN_SIDE).all())


def homography(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 3×3 projective map (last entry 1) taking the four points ``src`` onto ``dst``."""
    rows, targets = [], []
    for (x, y), (u, v) in zip(src, dst):
        rows += [[x, y, 1, 0, 0, 0, -u * x, -u * y], [0, 0, 0, x, y, 1, -v * x, -v * y]]
        targets += [u, v]
    return np.append(np.linalg.solve(np.asarray(rows), np.asarray(targets)), 1.0).reshape(3, 3)


def apply_homography(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``points`` (..., 2) mapped through ``matrix``."""
    mapped = np.concatenate([points, np.ones(points.shape[:-1] + (1,))], axis=-1) @ matrix.T
    return mapped[..., :2] / mapped[..., 2:]


def fill_quad(mask: np.ndarray, quad: np.ndarray, value: int) -> None:
    """Set the pixels of ``mask`` whose centres lie inside the convex, clockwise ``quad`` (4, 2) to ``value``."""
    h, w = mask.shape
    x0, y0 = np.clip(np.floor(quad.min(axis=0)).astype(int), 0, [w, h])
    x1, y1 = np.clip(np.ceil(quad.max(axis=0)).astype(int), 0, [w, h])
    ys, xs = np.mgrid[y0:y1, x0:x1] + 0.5
    inside = np.ones(xs.shape, dtype=bool)
    for (ax, ay), (bx, by) in zip(quad, np.roll(quad, -1, axis=0)):
        inside &= (bx - ax) * (ys - ay) - (by - ay) * (xs - ax) >= 0  # on the inner side of edge a -> b
    mask[y0:y1, x0:x1][inside] = value


def _rectangle(width: float, height: float) -> np.ndarray:
    return np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float64)


def _warp(image: Image.Image, quad: np.ndarray, size: tuple[int, int]) -> Image.Image:
    """The ``quad`` of ``image`` rectified to ``size``. A word shrunk by the crop is first rectified at its own size
    and then resized, so the shrinking is antialiased (the perspective transform samples without a filter)."""
    own = tuple(max(1, round(s)) for s in _side_lengths(quad))
    warp_size = own if own[1] > size[1] else size
    to_source = homography(_rectangle(*warp_size), quad)
    crop = image.transform(warp_size, Image.Transform.PERSPECTIVE, tuple(to_source.ravel()[:8]),
                           resample=Image.Resampling.BICUBIC)
    return crop if crop.size == size else crop.resize(size, Image.Resampling.LANCZOS)


def crop_word(image: Image.Image, word: str, quad: np.ndarray, char_quads: np.ndarray, size: CropSize,
              image_format: str = "jpg") -> WordCrop:
    """Rectify one word and fill its character boxes, in reading order, into its mask; ``BadWord`` says why a
    word cannot be cropped. Where character boxes overlap, the later character keeps the shared pixels."""
    if len(word) > MAX_CHARACTERS:
        raise BadWord(f"word too long for an 8-bit mask ({len(word)} characters)")
    if not is_upright_quad(quad):
        raise BadWord("degenerate word box (not a convex quadrilateral clockwise from its top-left with sides of "
                      f"at least {MIN_SIDE:g} pixel)")
    width, height = image.size
    outside = (quad < -EDGE_TOLERANCE) | (quad > np.array([width, height]) + EDGE_TOLERANCE)
    if outside.any():
        x, y = quad[outside.any(axis=1)][0]
        raise BadWord(f"word box outside the image (corner {x:.1f},{y:.1f} of a {width}x{height} image)")
    for t, char_quad in enumerate(char_quads, 1):
        if not is_upright_quad(char_quad):
            raise BadWord(f"degenerate character box (character {t} {word[t - 1]!r})")
    out_size = size.of(quad)
    to_crop = np.linalg.inv(homography(_rectangle(*out_size), quad))
    mask = np.zeros(out_size[::-1], dtype=np.uint8)
    for t, corners in enumerate(apply_homography(to_crop, char_quads), 1):
        fill_quad(mask, corners, t)
    present = np.bincount(mask.ravel(), minlength=len(word) + 1)[1:]
    if not present.all():
        t = int(np.argmin(present > 0)) + 1
        raise BadWord(f"empty character mask (character {t} {word[t - 1]!r} has no pixel of its own in the crop)")
    return WordCrop(word, _encode(_warp(image, quad, out_size), image_format), _encode(Image.fromarray(mask), "png"))


def _encode(image: Image.Image, image_format: str) -> bytes:
    """JPEG at quality 95 without chroma subsampling (as ``sgtr synth`` stores crops), or PNG."""
    buffer = io.BytesIO()
    if image_format == "jpg":
        image.save(buffer, "JPEG", quality=95, subsampling=0)
    else:
        image.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


# ---- the conversion ---------------------------------------------------------------------------------------------
def _skip_words(name: str, count: int, reason: str) -> list[Skip]:
    return [Skip(f"{name} word {j}", reason) for j in range(count)]


def _word_count(word_bb) -> int:
    """How many words an entry's wordBB holds, or 0 when it is too malformed to say."""
    try:
        return len(_corners(word_bb, "wordBB"))
    except (ValueError, TypeError):
        return 0


def image_crops(root: Path, name: str, word_bb, char_bb, txt, size: CropSize, charset: Charset | None,
                image_format: str) -> Iterator[WordCrop | Skip]:
    """Every word of one ``gt.mat`` entry as a crop or a named skip; an entry-wide problem skips each word."""
    try:
        scene = scene_image(name, word_bb, char_bb, txt)
    except (ValueError, TypeError) as exc:
        count = _word_count(word_bb)
        yield from _skip_words(name, count, str(exc)) if count else [Skip(name, str(exc))]
        return
    try:
        image = load_image(root / name)
    except BadImage as exc:
        yield from _skip_words(name, len(scene.words), str(exc))
        return
    start = 0
    for j, (word, quad) in enumerate(zip(scene.words, scene.word_boxes)):
        chars = scene.char_boxes[start:start + len(word)]
        start += len(word)
        key = f"{name} word {j}"
        if charset is not None:
            reason = charset.check(charset.normalize(word))
            if reason is not None:
                yield Skip(key, f"{reason} (label {word!r})")
                continue
        try:
            yield crop_word(image, word, quad, chars, size, image_format)
        except BadWord as exc:
            yield Skip(key, str(exc))


def write_synthtext_crops(root: str | Path, out: str | Path, *, size: CropSize = CropSize(),
                          charset: Charset | None = None, image_format: str = "jpg", limit: int | None = None,
                          overwrite: bool = False, skips: SkipLog | None = None) -> CropReport:
    """Crop every word of the SynthText folder ``root`` (its ``gt.mat`` and images) into a new LMDB at ``out``,
    with character masks; ``limit`` reads only the first entries of ``gt.mat``."""
    if image_format not in IMAGE_FORMATS:
        raise ValueError(f"image format must be one of {', '.join(IMAGE_FORMATS)}, got {image_format!r}")
    root = Path(root)
    skips = skips if skips is not None else SkipLog()
    builder = LmdbBuilder(out, overwrite=overwrite)  # refuses an existing OUT before gt.mat is read
    fields = load_ground_truth(root / GROUND_TRUTH_FILE)
    entries = list(zip(*(fields[name] for name in FIELDS)))[:limit]
    images = 0
    with builder as db:
        for raw_name, word_bb, char_bb, txt in bar(entries, desc=f"cropping {db.out.name}"):
            images += 1
            try:
                (name,) = _strings(raw_name)
            except ValueError:
                skips.add(Skip(f"gt.mat entry {images}", f"malformed imnames entry ({raw_name!r})"))
                continue
            for result in image_crops(root, name, word_bb, char_bb, txt, size, charset, image_format):
                if isinstance(result, Skip):
                    skips.add(result)
                else:
                    db.add(result.image, result.label, result.mask)
    return CropReport(images, db.written, skips)
