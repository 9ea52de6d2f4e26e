"""Backgrounds and colours: procedural surfaces, crops of the user's natural images, and contrast-controlled ink.

Everything is made at output resolution as float32 RGB in [0, 1]. Natural images are read lazily, shrunk once and
cached per worker; an unreadable one is remembered, reported once as a skip and replaced by a procedural surface,
so a bad file costs one sample's variety, not the run.
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
from PIL import Image

from sgtr.data.images import BadImage, load_image
from sgtr.data.skips import Skip

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
PROCEDURAL = ("plain", "gradient", "noise", "stripes", "clutter")
PROCEDURAL_WEIGHTS = (0.25, 0.2, 0.3, 0.1, 0.15)
# Natural images are shrunk to this longest side on first use: word crops never need more, and the cache stays small
# (uint8, about 0.5 MB an image), large enough for every wallpaper package's photographs at once.
MAX_SIDE = 512
CACHE_IMAGES = 256
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
# Where Debian's wallpaper packages put their photographs (scripts/setup-system.sh installs them); used by default.
SYSTEM_BACKGROUND_DIRS = ("/usr/share/wallpapers", "/usr/share/backgrounds", "/usr/share/mypaint/backgrounds")
# A path each of those packages installs, to tell a machine which ones it lacks.
BACKGROUND_PACKAGES = {
    "plasma-workspace-wallpapers": "/usr/share/wallpapers/PastelHills",
    "mate-backgrounds": "/usr/share/backgrounds/mate",
    "gnome-backgrounds": "/usr/share/backgrounds/gnome",
    "desktop-base": "/usr/share/wallpapers/DebianTheme",
    "lomiri-wallpapers-20.04": "/usr/share/backgrounds/Fossa_by_Jasper_Roks.jpg",
    "ukui-wallpapers": "/usr/share/backgrounds/focal-ubuntukylin.png",
    "sway-backgrounds": "/usr/share/backgrounds/sway",
    "mypaint-data-extras": "/usr/share/mypaint/backgrounds",
}
# Wallpaper packages ship one picture at many resolutions ("1920x1080.jpg", "Blue_1366x768.png"); files that differ
# only in that part of the name are one picture, of which the largest file is kept.
_RESOLUTION = re.compile(r"[_-]?\d{3,4}x\d{3,4}.*$")
# Logos and lock-screen art carry words of their own, which would be unlabelled text behind the label.
_WITH_TEXT = re.compile(r"logo|text|lockscreen|login|grub", re.IGNORECASE)


def find_images(dirs: Sequence[str | Path]) -> list[str]:
    """Image files: those named, in the order given (a manifest's order), then those under the folders, sorted, so
    every machine picks the same file for the same sample."""
    named: dict[str, None] = {}
    found = set()
    for d in map(Path, dirs):
        if d.is_file():
            named[str(d)] = None
        elif d.is_dir():
            found.update(str(p) for p in d.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    return list(named) + sorted(found - set(named))


def one_per_picture(paths: Sequence[str]) -> list[str]:
    """The largest file of each picture shipped at several resolutions, leaving out art named as carrying words."""
    largest: dict[tuple[str, str], Path] = {}
    for path in map(Path, paths):
        if _WITH_TEXT.search(str(path)):
            continue
        key = (str(path.parent), _RESOLUTION.sub("", path.stem))
        if key not in largest or path.stat().st_size > largest[key].stat().st_size:
            largest[key] = path
    return sorted(str(p) for p in largest.values())


def system_backgrounds() -> tuple[list[str], list[str]]:
    """The photographs of the installed wallpaper packages (one file per picture), and the packages of
    ``BACKGROUND_PACKAGES`` that are not installed."""
    missing = [name for name, marker in BACKGROUND_PACKAGES.items() if not Path(marker).exists()]
    return one_per_picture(find_images(SYSTEM_BACKGROUND_DIRS)), missing


def luminance(rgb: np.ndarray) -> np.ndarray:
    return rgb @ LUMA


def with_luma(rgb, luma: float) -> np.ndarray:
    """The colour moved towards black or white until its luminance is ``luma``, hue kept."""
    rgb = [float(c) for c in rgb]
    current = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
    if luma <= current:
        rgb = [c * luma / max(current, 1e-6) for c in rgb]
    else:
        rgb = [1 - (1 - c) * (1 - luma) / max(1 - current, 1e-6) for c in rgb]
    return np.array(rgb, dtype=np.float32)


def random_colour(rng: np.random.Generator, luma: float | None = None) -> np.ndarray:
    """An RGB colour of random hue and saturation; with ``luma``, scaled towards black or white to that luminance."""
    # Much real text and paint is near-neutral (black, white, grey, cream), so a third of the colours are.
    hue, neutral, sat, value = rng.random(4)
    sat = sat * 0.12 if neutral < 0.35 else rng.beta(0.8, 1.2)
    value = 0.3 + 0.7 * value
    # The HSV hue ring, in plain floats: numpy's per-call cost dwarfs three channels.
    rgb = [value * (1 - sat + sat * min(max(abs((hue * 6 + k) % 6 - 3) - 1, 0.0), 1.0)) for k in (0.0, 4.0, 2.0)]
    return with_luma(rgb, luma) if luma is not None else np.array(rgb, dtype=np.float32)


def contrasting_luma(rng: np.random.Generator, background: float, min_contrast: float) -> float:
    """A luminance at least ``min_contrast`` from the background's, on whichever side has room (the darker side
    when both do, slightly more often, as most signage is dark on light)."""
    low, high = background - min_contrast, background + min_contrast
    sides = [s for s, ok in (("dark", low >= 0.0), ("light", high <= 1.0)) if ok]
    side = sides[0] if len(sides) == 1 else ("dark" if rng.random() < 0.55 else "light")
    return float(rng.uniform(0.0, low)) if side == "dark" else float(rng.uniform(high, 1.0))


def _smooth_noise(rng: np.random.Generator, height: int, width: int, cells: int) -> np.ndarray:
    grid = rng.random((max(2, cells // 4), cells)).astype(np.float32)
    return cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)


def procedural(rng: np.random.Generator, height: int, width: int, kind: str, base: np.ndarray | None = None
               ) -> np.ndarray:
    """A (height, width, 3) surface: flat paint, a gradient, mottled noise, stripes, or shapes of other colours.
    Given a ``base`` colour (a real background's), the other colours stay near it."""
    near = base is not None
    base = base if near else random_colour(rng)

    def second() -> np.ndarray:
        return np.clip(base + rng.normal(0.0, 0.12, 3), 0, 1).astype(np.float32) if near else random_colour(rng)

    if kind == "plain":
        shade = np.linspace(1 - rng.uniform(0, 0.12), 1, width, dtype=np.float32)[None, :, None]
        return np.broadcast_to(base * shade, (height, width, 3)).copy()
    if kind == "gradient":
        other = second()
        a = rng.uniform(0, 2 * math.pi)
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        t = xx * math.cos(a) / width + yy * math.sin(a) / height
        t = ((t - t.min()) / max(float(t.max() - t.min()), 1e-6))[..., None]
        return base * (1 - t) + other * t
    if kind == "noise":
        other = second()
        t = 0.6 * _smooth_noise(rng, height, width, int(rng.integers(4, 16))) \
            + 0.4 * _smooth_noise(rng, height, width, int(rng.integers(16, 48)))
        t = np.clip(t * rng.uniform(0.2, 0.8), 0, 1)[..., None]
        return base * (1 - t) + other * t
    if kind == "stripes":
        other = second()
        a = rng.uniform(0, math.pi)
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        phase = (xx * math.cos(a) + yy * math.sin(a)) * (2 * math.pi / rng.uniform(4, 24))
        t = (0.5 + 0.5 * np.sin(phase))[..., None] * rng.uniform(0.1, 0.45)
        return base * (1 - t) + other * t
    img = np.broadcast_to(base, (height, width, 3)).copy()
    for _ in range(int(rng.integers(1, 5))):
        colour = tuple(float(c) for c in second())
        p1 = (int(rng.integers(-width // 4, width)), int(rng.integers(-height // 2, height)))
        p2 = (p1[0] + int(rng.integers(4, width)), p1[1] + int(rng.integers(2, height)))
        if rng.random() < 0.5:
            cv2.rectangle(img, p1, p2, colour, -1 if rng.random() < 0.5 else int(rng.integers(1, 3)))
        else:
            cv2.line(img, p1, p2, colour, int(rng.integers(1, 4)), cv2.LINE_AA)
    return img


def _read_small(path: str) -> np.ndarray:
    """The image as uint8 RGB, at most MAX_SIDE on its longer side. JPEGs decode straight at a fraction of their
    size (a 5K wallpaper in milliseconds); a file Pillow cannot read is a ``BadImage`` naming the problem."""
    try:
        with Image.open(path) as pil:
            pil.draft("RGB", (MAX_SIDE, MAX_SIDE))
            pil = pil.convert("RGB")
            pil.thumbnail((MAX_SIDE, MAX_SIDE))
            return np.asarray(pil)
    except Exception:  # noqa: BLE001 - any decoder failure; the shared reader says which
        load_image(path)
        raise BadImage("unreadable image") from None


class Backgrounds:
    """Chooses and makes a background; holds the natural image list and, per worker, a cache of shrunk images."""

    def __init__(self, files: Sequence[str]):
        self.files = list(files)
        self.bad: dict[str, str] = {}
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def __getstate__(self) -> dict:
        return {"files": self.files}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["files"])

    def _image(self, path: str) -> np.ndarray | None:
        img = self._cache.get(path)
        if img is not None:
            self._cache.move_to_end(path)
            return img
        if path in self.bad:
            return None
        try:
            img = _read_small(path)
        except BadImage as exc:
            self.bad[path] = str(exc)
            return None
        self._cache[path] = img
        if len(self._cache) > CACHE_IMAGES:
            self._cache.popitem(last=False)
        return img

    def preload(self) -> None:
        """Read and shrink every image now when they all fit the cache, so forked workers share them instead of
        each decoding every one (a wallpaper takes up to a few hundred milliseconds)."""
        if len(self.files) <= CACHE_IMAGES:
            for path in self.files:
                self._image(path)

    def natural(self, rng: np.random.Generator, height: int, width: int) -> tuple[np.ndarray | None, Skip | None]:
        """A random crop of a random image, resized to the output; None and the skip when the file is unreadable."""
        path = self.files[int(rng.integers(len(self.files)))]
        img = self._image(path)
        if img is None:
            return None, Skip(path, f"unreadable background ({self.bad[path]})")
        ih, iw = img.shape[:2]
        ch = max(2, int(ih * rng.uniform(0.1, 0.6)))
        cw = max(2, min(iw, int(ch * width / height * rng.uniform(0.6, 1.5))))
        y, x = int(rng.integers(0, ih - ch + 1)), int(rng.integers(0, iw - cw + 1))
        crop = img[y:y + ch, x:x + cw]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        crop = cv2.resize(np.ascontiguousarray(crop), (width, height), interpolation=cv2.INTER_AREA)
        return crop.astype(np.float32) * np.float32(1 / 255), None

    def make(self, rng: np.random.Generator, height: int, width: int, p_natural: float,
             base: np.ndarray | None = None) -> tuple[np.ndarray, Skip | None]:
        """A natural crop (with probability ``p_natural``) or a procedural surface around ``base``."""
        skip = None
        if self.files and rng.random() < p_natural:
            img, skip = self.natural(rng, height, width)
            if img is not None:
                return img, None
        kind = PROCEDURAL[int(rng.choice(len(PROCEDURAL), p=PROCEDURAL_WEIGHTS))]
        return procedural(rng, height, width, kind, base), skip
