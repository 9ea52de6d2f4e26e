"""Font discovery and glyph coverage: which installed faces can draw which characters, and glyph bitmaps per worker.

``FontLibrary.scan`` walks font folders once (in the parent process), checks every face against the characters the
renderer may draw and keeps a boolean coverage matrix, so choosing a face for a word is one numpy lookup and no word
is ever drawn with a face that would show "tofu" (the .notdef box) or nothing at all. The library pickles into
worker processes; each worker then loads faces and rasterises glyphs lazily through small caches.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from sgtr.data.skips import Skip

FONT_SUFFIXES = (".ttf", ".otf", ".ttc")
# Debian's font packages install here (fonts-texgyre under texmf); --fonts adds more.
SYSTEM_FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "/usr/share/texmf/fonts/opentype")
# Faces that map letters to pictures or formula symbols: their "a" is a glyph, just not an "a".
NON_TEXT_FAMILIES = ("symbol", "dingbat", "d050000l", "math", "music", "emoji", "awesome", "icon", "ornament",
                     "keyboard", "pseudo", "layer", "binary", "barcode", "braille", "morse", "futhark", "runic",
                     "ogham", "guiada", "pautada", "punt")
# Small capitals make a lower-case word look upper-case, so such faces draw only the characters that are not.
SMALL_CAPS_FAMILIES = ("smallcaps", "smcp")
# A face covering less than this share of the alphabet is a script or symbol face that only borrows a few Latin
# glyphs; keeping it would make those few characters look odd far more often than other faces' glyphs.
MIN_COVERAGE = 0.5
# The most families one collection (font folder, i.e. one Debian package) counts for in the draw (`draw_weights`).
COLLECTION_CAP = 20
COVERAGE_SIZE = 24
X_HEIGHT_LETTERS = "acemnorsuvwxz"
# Letters covering more of their box than this are drawn light on a dark box (OCR-B's boxed variants): not text.
MAX_INK_SHARE = 0.65
# Gimmick faces draw many different characters as nearly the same shape (dots, boxes, hearts). A probe character
# is confusable when its glyph correlates above CONFUSABLE_CORRELATION with another one's (at 12x12, pairs that
# look alike in ordinary type excluded); a face with more than MAX_CONFUSABLE of them cannot be read.
CONFUSABLE_PROBE = "0234679abdefghjkmnqrtyADEFGHJKLMNQRTY$&?"
LOOK_ALIKE = ("0OoQD", "1lIi", "5S", "2Z", "8B", "6b", "9gq", "cC", "kK", "sS", "uU", "vV", "wW", "xX", "zZ", "pP",
              "nh", "EF", "MN", "db")
CONFUSABLE_CORRELATION = 0.95
MAX_CONFUSABLE = 0.3
# Never a mapped character, so a face answers it with its .notdef glyph.
NOTDEF_PROBE = "\U0010ffff"


def load_font(path: str, size: int) -> ImageFont.FreeTypeFont:
    """A face at a pixel size, with Pillow's basic layout so glyph advances do not depend on libraqm."""
    return ImageFont.truetype(path, size, layout_engine=ImageFont.Layout.BASIC)


def glyph_bitmap(font: ImageFont.FreeTypeFont, ch: str, stroke: int = 0) -> tuple[np.ndarray, int, int]:
    """Coverage (uint8) of one character and the offset of its top-left corner from the pen position on the
    baseline."""
    x0, y0, x1, y1 = font.getbbox(ch, anchor="ls", stroke_width=stroke)
    img = Image.new("L", (max(x1 - x0, 1), max(y1 - y0, 1)))
    ImageDraw.Draw(img).text((-x0, -y0), ch, font=font, fill=255, anchor="ls", stroke_width=stroke, stroke_fill=255)
    return np.asarray(img), x0, y0


class _Probe:
    """Tells a real glyph from the .notdef box cheaply: bounding box and advance first, the bitmap only when those
    agree."""

    def __init__(self, font: ImageFont.FreeTypeFont):
        self.font = font
        self.notdef_key = self.key(NOTDEF_PROBE)
        self.notdef = glyph_bitmap(font, NOTDEF_PROBE)[0]

    def key(self, ch: str) -> tuple:
        return self.font.getbbox(ch, anchor="ls"), self.font.getlength(ch)

    def missing(self, ch: str) -> bool:
        if ch.isspace():
            return self.font.getlength(ch) <= 0
        key = self.key(ch)
        x0, y0, x1, y1 = key[0]
        if x1 <= x0 or y1 <= y0:
            return True
        if key != self.notdef_key:
            return False
        return np.array_equal(glyph_bitmap(self.font, ch)[0], self.notdef)


def coverage(path: str, alphabet: str) -> np.ndarray:
    """Which characters of ``alphabet`` the face draws with a real glyph: not empty and not its .notdef glyph.

    All-caps faces (Bebas Neue, Humor Sans) would show "HELLO" for "hello", so their lower-case letters count as
    missing. Raises OSError for a file FreeType cannot open. Stops early, all False, once the face cannot reach
    ``MIN_COVERAGE``."""
    probe = _Probe(load_font(path, COVERAGE_SIZE))
    covered = np.zeros(len(alphabet), dtype=bool)
    allowed_missing = int((1 - MIN_COVERAGE) * len(alphabet))
    for i, ch in enumerate(alphabet):
        covered[i] = not probe.missing(ch)
        if i + 1 - covered[: i + 1].sum() > allowed_missing:
            return np.zeros(len(alphabet), dtype=bool)
    if _all_caps(probe.font):
        covered &= np.array([not ch.islower() for ch in alphabet])
    return covered


def _shape_vector(font: ImageFont.FreeTypeFont, ch: str) -> np.ndarray:
    """The glyph centred in a square, at 12x12, zero-mean and unit-norm: its shape, whatever its size."""
    g = glyph_bitmap(font, ch)[0].astype(np.float32)
    h, w = g.shape
    side = max(h, w)
    square = np.zeros((side, side), np.float32)
    square[(side - h) // 2:(side - h) // 2 + h, (side - w) // 2:(side - w) // 2 + w] = g
    v = np.asarray(Image.fromarray(square).resize((12, 12), Image.BOX)).ravel()
    v = v - v.mean()
    norm = float(np.linalg.norm(v))
    return v / norm if norm else v


_ALIKE = np.array([[a.lower() == b.lower() or any(a in g and b in g for g in LOOK_ALIKE) for b in CONFUSABLE_PROBE]
                   for a in CONFUSABLE_PROBE])


def _confusable_share(font: ImageFont.FreeTypeFont) -> float:
    """Share of the probe characters whose glyph is nearly another (unrelated) probe character's."""
    v = np.stack([_shape_vector(font, ch) for ch in CONFUSABLE_PROBE])
    sim = v @ v.T
    sim[_ALIKE] = 0.0
    return float((sim > CONFUSABLE_CORRELATION).any(axis=1).mean())


def unreadable(path: str) -> str | None:
    """Why a face that covers the characters still cannot be read, or None: letters cut out of solid boxes, or
    many different characters drawn alike."""
    font = load_font(path, COVERAGE_SIZE)
    if _inverted(font):
        return "letters drawn as holes in solid boxes"
    share = _confusable_share(font)
    if share > MAX_CONFUSABLE:
        return f"{share:.0%} of its characters look like another one"
    return None


def _inverted(font: ImageFont.FreeTypeFont) -> bool:
    """Letters drawn as holes in solid boxes: most of each glyph's box is ink."""
    shares = [float((glyph_bitmap(font, ch)[0] >= 128).mean()) for ch in X_HEIGHT_LETTERS]
    return float(np.median(shares)) > MAX_INK_SHARE


def _all_caps(font: ImageFont.FreeTypeFont) -> bool:
    """Lower-case letters without ascenders or descenders as tall as their capitals: the face has no lower case.
    (Their height is 0.6-0.8 of the capitals' in text faces and about 1.0 in all-caps faces.)"""
    ratios = []
    for ch in X_HEIGHT_LETTERS:
        _, top, _, bottom = font.getbbox(ch, anchor="ls")
        _, cap_top, _, cap_bottom = font.getbbox(ch.upper(), anchor="ls")
        if cap_bottom > cap_top:
            ratios.append((bottom - top) / (cap_bottom - cap_top))
    return bool(ratios) and float(np.median(ratios)) > 0.92


def find_font_files(dirs: Sequence[str | Path]) -> list[str]:
    """Font files: those named, in the order given (a manifest's order), then those under the folders, sorted;
    de-duplicated by real path. So the list (and so every sample) is the same on every machine with the same
    fonts."""
    named: dict[str, str] = {}
    found: dict[str, str] = {}
    for d in map(Path, dirs):
        if d.is_file() and d.suffix.lower() in FONT_SUFFIXES:
            named.setdefault(str(d.resolve()), str(d))
        elif d.is_dir():
            for p in d.rglob("*"):
                if p.suffix.lower() in FONT_SUFFIXES and p.is_file():
                    found.setdefault(str(p.resolve()), str(p))
    return list(named.values()) + sorted(v for k, v in found.items() if k not in named)


@dataclass
class FontLibrary:
    """Usable faces, their families, and which characters of ``alphabet`` each one covers."""

    paths: list[str]
    families: list[str]
    alphabet: str
    covers: np.ndarray  # (faces, len(alphabet)) bool
    skips: list[Skip] = field(default_factory=list)
    _char_index: dict[str, int] = field(init=False, repr=False)
    _weight: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._char_index = {c: i for i, c in enumerate(self.alphabet)}
        self._weight = draw_weights(self.paths, self.families)

    @classmethod
    def scan(cls, dirs: Sequence[str | Path], alphabet: str) -> "FontLibrary":
        """Check every face under ``dirs``; unreadable, non-text and low-coverage faces become skips."""
        return _scan_cached(tuple(str(d) for d in dirs), alphabet)

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def num_families(self) -> int:
        return len(set(self.families))

    def digest(self) -> str:
        """Identifies the face list, so a resumed run can tell it would draw with other fonts."""
        h = hashlib.sha256()
        for path in self.paths:
            h.update(path.encode() + b"\0")
        h.update(self.alphabet.encode())
        return h.hexdigest()[:16]

    def faces_for(self, text: str) -> np.ndarray:
        """Indices of the faces that cover every character of ``text``."""
        idx = [self._char_index.get(c, -1) for c in set(text)]
        if -1 in idx:
            return np.zeros(0, dtype=np.int64)
        return np.flatnonzero(self.covers[:, idx].all(axis=1))

    def choose(self, text: str, rng: np.random.Generator) -> int | None:
        """A face for ``text`` drawn by ``draw_weights`` among the faces that cover it, or None."""
        faces = self.faces_for(text)
        if len(faces) == 0:
            return None
        cumulative = np.cumsum(self._weight[faces])
        return int(faces[min(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"),
                             len(faces) - 1)])


def draw_weights(paths: Sequence[str], families: Sequence[str]) -> np.ndarray:
    """How often each face is drawn: every family alike (Noto alone has dozens of faces), except that no collection
    — the folder a face lies in, one Debian font package — weighs more than ``COLLECTION_CAP`` families. Without the
    cap, one package of 353 one-face display families (fonts-aenigma) drew about half of all words."""
    if not len(paths):
        return np.zeros(0)
    _, family_of, family_size = np.unique(np.array(families, dtype=object), return_inverse=True,
                                          return_counts=True)
    folders = np.array([str(Path(p).parent) for p in paths], dtype=object)
    _, folder_of = np.unique(folders, return_inverse=True)
    # families per collection, each family counted once (in the collection of its first face)
    first_face = np.unique(family_of, return_index=True)[1]
    collection_families = np.bincount(folder_of[first_face], minlength=folder_of.max() + 1)
    cap = np.minimum(1.0, COLLECTION_CAP / np.maximum(collection_families[folder_of], 1))
    return cap / family_size[family_of]


@lru_cache(maxsize=8)
def _scan_cached(dirs: tuple[str, ...], alphabet: str) -> FontLibrary:
    paths, families, rows, skips = [], [], [], []
    for path in find_font_files(dirs):
        try:
            family = load_font(path, COVERAGE_SIZE).getname()[0] or Path(path).stem
            if any(word in family.lower().replace(" ", "") for word in NON_TEXT_FAMILIES):
                skips.append(Skip(path, f"draws symbols, not text ({family})"))
                continue
            covered = coverage(path, alphabet)
            if any(word in family.lower().replace(" ", "") for word in SMALL_CAPS_FAMILIES):
                covered &= np.array([not ch.islower() for ch in alphabet])
            if covered.mean() < MIN_COVERAGE:
                skips.append(Skip(path, f"covers too few characters ({covered.sum()} of {len(alphabet)})"))
                continue
            why = unreadable(path)
            if why is not None:
                skips.append(Skip(path, f"unreadable glyphs ({why})"))
                continue
        except (OSError, ValueError) as exc:
            skips.append(Skip(path, f"unreadable font ({exc})"))
            continue
        paths.append(path)
        families.append(family)
        rows.append(covered)
    covers = np.array(rows, dtype=bool).reshape(len(rows), len(alphabet))
    return FontLibrary(paths, families, alphabet, covers, skips)


class GlyphCache:
    """Per-process faces, glyph bitmaps and metrics, bounded so a long run's memory stays flat (about 150 MB per
    worker when full). The renderer draws at a few fixed sizes (the warp scales), so the same glyphs come back
    often; a face reloads in tens of microseconds, so few are kept (each holds about 115 kB)."""

    def __init__(self, library: FontLibrary, max_fonts: int = 512, max_glyphs: int = 50_000):
        self.library = library
        self.max_fonts = max_fonts
        self.max_glyphs = max_glyphs
        self._fonts: OrderedDict[tuple[int, int], ImageFont.FreeTypeFont] = OrderedDict()
        self._glyphs: OrderedDict[tuple[int, int, str, int], tuple[np.ndarray, int, int]] = OrderedDict()
        self._advances: OrderedDict[tuple[int, int, str], float] = OrderedDict()
        self._boxes: OrderedDict[tuple[int, int, str], tuple[int, int, int, int]] = OrderedDict()

    def font(self, face: int, size: int) -> ImageFont.FreeTypeFont:
        return _lru_get(self._fonts, (face, size), self.max_fonts, lambda: load_font(self.library.paths[face], size))

    def glyph(self, face: int, size: int, ch: str, stroke: int = 0) -> tuple[np.ndarray, int, int]:
        """The bitmap and its top-left offset from the pen on the baseline."""
        return _lru_get(self._glyphs, (face, size, ch, stroke), self.max_glyphs,
                        lambda: glyph_bitmap(self.font(face, size), ch, stroke))

    def advance(self, face: int, size: int, ch: str) -> float:
        return _lru_get(self._advances, (face, size, ch), self.max_glyphs,
                        lambda: self.font(face, size).getlength(ch))

    def box(self, face: int, size: int, ch: str) -> tuple[int, int, int, int]:
        """Ink box relative to the pen on the baseline, without drawing the glyph."""
        return _lru_get(self._boxes, (face, size, ch), self.max_glyphs,
                        lambda: self.font(face, size).getbbox(ch, anchor="ls"))


def _lru_get(cache: OrderedDict, key, limit: int, make):
    value = cache.get(key)
    if value is None:
        value = cache[key] = make()
        if len(cache) > limit:
            cache.popitem(last=False)
    else:
        cache.move_to_end(key)
    return value
