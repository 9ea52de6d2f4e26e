"""The synthetic word renderer: one seeded sample in, an image, its label, character instance mask and boxes out.

Each character is drawn once, into its own place on a small canvas near the output resolution (pen positions from
``font.getlength`` of the prefix), which gives the ink layers and the instance map in the same pass. One
``cv2.remap`` then carries all the geometry (see ``geometry``) to the crop: bilinear and supersampled for the ink,
nearest-neighbour for the mask. Colours, background and damage are added after the geometry and never move a pixel,
so ``render(i, clean=True)`` gives the same sample's bare ink, which is how tests check that the mask sits on it.

Every random choice for sample ``i`` comes from a generator seeded with ``(seed, i)``, so a sample is the same
whichever process renders it and in whichever order.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, replace

import cv2
import numpy as np
from PIL import Image, ImageDraw

from sgtr.data.skips import Skip
from sgtr.synth.backgrounds import (
    Backgrounds,
    contrasting_luma,
    find_images,
    luminance,
    random_colour,
    system_backgrounds,
    with_luma,
)
from sgtr.synth.config import Effects, SynthConfig
from sgtr.synth.degrade import degrade, occlude
from sgtr.synth.fonts import SYSTEM_FONT_DIRS, FontLibrary, GlyphCache
from sgtr.synth.geometry import Arc, Fit, Shape, View, Wave, fit_warp, kept_ratio_width, make_shape
from sgtr.synth.palette import Palette
from sgtr.synth.text import TextSource

# A canvas pixel joins a character's instance where that glyph covers at least half of it.
MASK_THRESHOLD = 128
# Glyphs are drawn at the smallest of these sizes that is at least the word's em in output pixels (the warp's
# supersampling absorbs the rest), so a worker's glyph cache sees the same few sizes again and again.
FONT_SIZES = (12, 17, 24, 34, 48, 68)
REF_FONT_PX = 24
# Retries draw a new text and geometry; from PLAIN_AFTER on the geometry is plain, which always keeps every
# character visible, so MAX_ATTEMPTS is never reached with working fonts.
PLAIN_AFTER, MAX_ATTEMPTS = 3, 12
# The cap-height band every frame includes, so "-" or "." alone is not blown up to the crop's full height.
CAP_BAND = (-0.68, 0.0)


class SynthError(RuntimeError):
    """The renderer cannot start or cannot render; the message says why in one line."""


@dataclass
class Rendered:
    """One sample: ``image`` (H, W, 3) uint8 RGB; ``mask`` (H, W) uint8, 0 = background and t = t-th non-space
    character; ``boxes`` (L, 4) int16 x0, y0, x1, y1 (exclusive) of each character's mask pixels."""

    label: str
    image: np.ndarray
    mask: np.ndarray
    boxes: np.ndarray
    face: str
    # With render(trace=True): what the painting drew besides the text: "background" before the text, the text's
    # "fill" colour per pixel and its "opacity", and the alpha of each "distractor", "neighbours", "border",
    # "extrusion" and "shadow" it drew.
    layers: dict[str, np.ndarray] | None = None


@dataclass
class _Ink:
    fill: np.ndarray  # (H, W) float32 coverage of the characters' own ink
    outline: np.ndarray  # (H, W) float32 coverage of the outline ring (zero without outline)
    mask: np.ndarray
    boxes: np.ndarray
    neighbours: tuple[bool, bool]  # parts of neighbouring words to draw left, right


@dataclass
class _Style:
    bold: float  # em of stroke in the ink colour
    outline: float  # em of stroke in the outline colour
    shape: Shape
    fit: Fit
    stretch: float  # width over the kept aspect ratio's, in keep-ratio mode
    neighbours: tuple[bool, bool]


def mask_boxes(mask: np.ndarray, count: int) -> np.ndarray:
    """Tight (count, 4) int16 boxes x0, y0, x1, y1 (exclusive) of instances 1..count; empty ones are all zero."""
    hit = mask[None] == np.arange(1, count + 1, dtype=mask.dtype)[:, None, None]
    cols, rows = hit.any(axis=1), hit.any(axis=2)
    h, w = mask.shape
    boxes = np.stack([cols.argmax(axis=1), rows.argmax(axis=1),
                      w - cols[:, ::-1].argmax(axis=1), h - rows[:, ::-1].argmax(axis=1)], axis=1)
    boxes[~cols.any(axis=1)] = 0
    return boxes.astype("<i2")


def _sample_style(rng: np.random.Generator, fx: Effects, frame: tuple[float, float, float, float], height: int,
                  width: int, plain: bool, keep_ratio: bool) -> _Style:
    """Stroke weights, curve, shear, rotation, perspective and fit of one word; ``plain`` keeps it straight. With
    ``keep_ratio`` the side margins scale with the height (the crop's width follows the word)."""
    bold = float(rng.uniform(0.02, 0.05)) if rng.random() < fx.p_bold else 0.0
    outline = float(rng.uniform(0.04, 0.1)) if rng.random() < fx.p_outline else 0.0
    u0, v0, u1, v1 = frame
    h_em, w_em = v1 - v0, u1 - u0
    curve, rotation, shear, jitter, view = None, 0.0, 0.0, None, None
    draws = rng.random(8)
    if not plain:
        if draws[0] < fx.p_arc:
            bend = math.radians(rng.uniform(30.0, fx.max_arc_deg)) * (1.0 if rng.random() < 0.5 else -1.0)
            radius = w_em / bend
            if abs(radius) > 1.5 * h_em:  # a tighter circle would fold the text over its own centre
                curve = Arc((u0 + u1) / 2, (v0 + v1) / 2, radius)
        elif draws[1] < fx.p_wave:
            curve = Wave(float(rng.uniform(0.08, fx.max_wave_amplitude)), float(rng.uniform(0.8, 2.0) * w_em),
                         float(rng.uniform(0, 2 * math.pi)))
        if draws[2] < fx.p_steep_rotate:
            rotation = float(rng.uniform(-fx.max_steep_rotate_deg, fx.max_steep_rotate_deg))
        elif draws[3] < fx.p_rotate:
            rotation = float(rng.normal(0.0, fx.max_rotate_deg / 2.5))
            rotation = max(-fx.max_rotate_deg, min(fx.max_rotate_deg, rotation))
        if draws[4] < fx.p_shear:
            shear = float(rng.uniform(-fx.max_shear, fx.max_shear))
        if draws[5] < fx.p_perspective:
            jitter = rng.uniform(-fx.max_corner_jitter, fx.max_corner_jitter, size=(4, 2)) * h_em
        if draws[6] < fx.p_street_view:
            # Mostly turned sideways, as a shop sign seen from the pavement; a little from below.
            view = View(float(rng.uniform(-fx.max_yaw_deg, fx.max_yaw_deg)),
                        float(rng.uniform(-fx.max_pitch_deg, fx.max_pitch_deg / 2)), float(rng.uniform(1.2, 4.0)))
    shape = make_shape(frame, curve=curve, shear=shear, rotation_deg=rotation, corner_jitter=jitter, view=view)
    keep = not plain and not keep_ratio and rng.random() < fx.p_keep_aspect
    side = 0.2 * height if keep_ratio else 0.06 * width
    neighbours = (False, False)
    if draws[7] < fx.p_side_distractor:
        neighbours = [(True, False), (False, True), (True, True)][int(rng.integers(3))]
    # Room for a neighbouring word's end: up to about one letter.
    room = [float(rng.uniform(0.3, 0.9) * height) if n else float(rng.uniform(0, side)) for n in neighbours]
    fit = Fit(left=room[0], right=room[1],
              top=float(rng.uniform(0, 0.15) * height), bottom=float(rng.uniform(0, 0.15) * height),
              keep_aspect=keep, align=float(rng.choice([0.0, 0.5, 0.5, 1.0])))
    # Fonts and detector boxes vary the aspect ratio of the same word by about this much.
    stretch = 1.0 if plain or not keep_ratio else float(np.exp(rng.uniform(-0.2, 0.2)))
    return _Style(bold, outline, shape, fit, stretch, neighbours)


class SynthGenerator:
    """Renders sample ``i`` of a configuration; counts what it had to redraw or skip in ``stats`` and ``skips``."""

    def __init__(self, config: SynthConfig, fonts: FontLibrary, texts: TextSource, backgrounds: Backgrounds,
                 palette: Palette | None = None):
        """``palette``: the text/background colour clusters (default: the ones bundled, measured on real crops)."""
        if config.charset.max_length > 255:
            raise SynthError(f"masks are 8-bit, so labels can have at most 255 characters; the charset allows "
                             f"{config.charset.max_length}")
        if len(fonts) == 0:
            where = ", ".join(config.font_dirs or SYSTEM_FONT_DIRS)
            raise SynthError(f"no usable font in {where}; run scripts/setup-system.sh or pass --fonts DIR")
        self.config = config
        self.fonts = fonts
        self.texts = texts
        self.backgrounds = backgrounds
        self.palette = palette if palette is not None else Palette.load()
        self.stats: Counter = Counter()
        self.skips: list[Skip] = []  # render-time only; the font scan keeps its own in fonts.skips
        self._glyphs: GlyphCache | None = None

    @classmethod
    def build(cls, config: SynthConfig) -> "SynthGenerator":
        """Scan fonts, read the word list and list the background images (TextError / SynthError on failure)."""
        texts = TextSource.build(config.charset, config.text_mix, config.words_file, config.effects.p_uniform_length)
        fonts = FontLibrary.scan(config.font_dirs or SYSTEM_FONT_DIRS, TextSource.render_alphabet(config.charset))
        files = find_images(config.background_dirs)
        if config.background_dirs and not files:
            raise SynthError(f"no image files in {', '.join(config.background_dirs)}")
        if config.system_backgrounds:
            files += [f for f in system_backgrounds()[0] if f not in set(files)]
        return cls(config, fonts, texts, Backgrounds(files))

    def __getstate__(self) -> dict:
        # Glyph caches and counters are per process; workers start empty.
        state = dict(self.__dict__)
        state.update(_glyphs=None, stats=Counter(), skips=[])
        return state

    @property
    def glyphs(self) -> GlyphCache:
        if self._glyphs is None:
            cv2.setNumThreads(1)  # parallelism comes from worker processes; OpenCV's threads would oversubscribe
            self._glyphs = GlyphCache(self.fonts)
        return self._glyphs

    # ---- one sample ---------------------------------------------------------------------------------------------
    def render(self, index: int, clean: bool = False, trace: bool = False) -> Rendered:
        """Sample ``index``; with ``clean`` its bare ink (white on black, same text, font and geometry); with
        ``trace`` the same sample with the layers it was painted from (``Rendered.layers``)."""
        cfg = self.config
        rng = np.random.default_rng([cfg.seed, index])
        for attempt in range(MAX_ATTEMPTS):
            text = self.texts.sample(rng)
            face = self.fonts.choose(text, rng)
            if face is None:
                self.stats["texts redrawn: no font covers them"] += 1
                continue
            try:
                ink = self._ink(text, face, rng, plain=attempt >= PLAIN_AFTER)
            except OSError as exc:
                self.stats["texts redrawn: font failed to render"] += 1
                self.skips.append(Skip(self.fonts.paths[face], f"font failed to render ({exc})"))
                continue
            if ink is None:
                self.stats["texts redrawn: a character vanished in the warp"] += 1
                continue
            layers: dict[str, np.ndarray] | None = {} if trace else None
            image = self._ink_only(ink) if clean else self._paint(ink, rng, layers)
            return Rendered(text, image, ink.mask, ink.boxes, self.fonts.paths[face], layers)
        raise SynthError(f"sample {index}: no rendering in {MAX_ATTEMPTS} attempts; the fonts look broken")

    def _pens(self, face: int, size: int, text: str, tracking_px: float) -> list[tuple[str, float]]:
        """Pen positions (layout pixels) of the non-space characters: the advance of the text before each (Pillow's
        basic layout has no kerning, so this equals ``font.getlength(prefix)``) plus the tracking."""
        pens, x = [], 0.0
        for ch in text:
            if not ch.isspace():
                pens.append((ch, x))
            x += self.glyphs.advance(face, size, ch) + tracking_px
        return pens

    @staticmethod
    def _frame(boxes: list[tuple[float, float, float, float]], size: int) -> tuple[float, float, float, float]:
        """The ink boxes' union in em, stretched to at least the cap-height band."""
        b = np.array(boxes, dtype=np.float64) / size
        return (float(b[:, 0].min()), min(float(b[:, 1].min()), CAP_BAND[0]), float(b[:, 2].max()),
                max(float(b[:, 3].max()), CAP_BAND[1]))

    def _width(self, style: _Style, frame: tuple[float, float, float, float]) -> tuple[int, Fit]:
        """The crop width and the fit for it: the configured width, or in keep-ratio mode the word's own (a word
        narrower than the minimum keeps its shape with room beside it)."""
        cfg = self.config
        if not cfg.keep_ratio:
            return cfg.width, style.fit
        w = kept_ratio_width(style.shape, frame, style.fit, cfg.height, cfg.width, style.stretch)
        low = min(cfg.width, cfg.height // 2)
        return (low, replace(style.fit, keep_aspect=True)) if w < low else (w, style.fit)

    def _ink(self, text: str, face: int, rng: np.random.Generator, plain: bool) -> _Ink | None:
        cfg = self.config
        h = cfg.height
        # The geometry is drawn for the word's frame at a reference size; the em it then gets in the crop picks the
        # size the glyphs are drawn at.
        tracking = float(rng.uniform(-0.02, cfg.effects.max_tracking)) if rng.random() < 0.3 else 0.0
        ref_boxes = []
        for ch, pen in self._pens(face, REF_FONT_PX, text, tracking * REF_FONT_PX):
            x0, y0, x1, y1 = self.glyphs.box(face, REF_FONT_PX, ch)
            ref_boxes.append((pen + x0, y0, pen + x1, y1))
        ref_frame = self._frame(ref_boxes, REF_FONT_PX)
        style = _sample_style(rng, cfg.effects, ref_frame, h, cfg.width, plain, cfg.keep_ratio)
        w, fit = self._width(style, ref_frame)
        em = fit_warp(style.shape, ref_frame, fit, h, w).em_size(ref_frame)
        size = next((s for s in FONT_SIZES if s >= em), FONT_SIZES[-1])
        bold = int(round(style.bold * size))
        ring = max(1, int(round(style.outline * size))) if style.outline else 0

        # Glyphs placed at whole pixels; each entry: instance id, bitmap, its top-left in layout pixels.
        fills, rings = [], []
        for t, (ch, pen) in enumerate(self._pens(face, size, text, tracking * size + bold), start=1):
            glyph, gx, gy = self.glyphs.glyph(face, size, ch, bold)
            fills.append((t, glyph, int(round(pen)) + gx, gy))
            if ring:
                ring_glyph, rx, ry = self.glyphs.glyph(face, size, ch, bold + ring)
                rings.append((t, ring_glyph, int(round(pen)) + rx, ry))
        boxes = [(x, y, x + g.shape[1], y + g.shape[0]) for _, g, x, y in fills + rings]
        frame = self._frame(boxes, size)
        w, fit = self._width(style, frame)
        warp = fit_warp(style.shape, frame, fit, h, w)

        # Canvas in layout pixels: the union of all glyph boxes plus one pixel for the bilinear lookup.
        x0 = min(b[0] for b in boxes) - 1
        y0 = min(b[1] for b in boxes) - 1
        layers = np.zeros((max(b[3] for b in boxes) - y0 + 1, max(b[2] for b in boxes) - x0 + 1, 2), np.float32)
        best = np.zeros(layers.shape[:2], dtype=np.uint8)
        ids = np.zeros(layers.shape[:2], dtype=np.uint8)
        for t, glyph, gx, gy in fills:
            sl = (slice(gy - y0, gy - y0 + glyph.shape[0]), slice(gx - x0, gx - x0 + glyph.shape[1]))
            # Where glyphs overlap, a pixel belongs to the one that covers it most.
            take = (glyph >= MASK_THRESHOLD) & (glyph > best[sl])
            ids[sl][take] = t
            np.maximum(best[sl], glyph, out=best[sl])
        for _, glyph, gx, gy in rings:
            rl = layers[gy - y0:gy - y0 + glyph.shape[0], gx - x0:gx - x0 + glyph.shape[1], 1]
            np.maximum(rl, glyph * np.float32(1 / 255), out=rl)
        layers[..., 0] = best * np.float32(1 / 255)

        map_x, map_y, mask_x, mask_y = warp.maps(h, w, size, (x0, y0))
        warped = cv2.remap(layers, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        warped = cv2.resize(warped, (w, h), interpolation=cv2.INTER_AREA)
        mask = cv2.remap(ids, mask_x, mask_y, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT)
        if np.count_nonzero(np.bincount(mask.ravel(), minlength=len(fills) + 1)[1:]) < len(fills):
            return None
        return _Ink(warped[..., 0], warped[..., 1], mask, mask_boxes(mask, len(fills)), style.neighbours)

    # ---- appearance ---------------------------------------------------------------------------------------------
    def _text_line(self, size_hw: tuple[int, int], text: str, face: int, font_px: int, xy: tuple[float, float],
                   anchor: str) -> np.ndarray | None:
        """Alpha (float32) of a straight line of text drawn at output resolution; None when the face cannot draw
        it (``_ink`` counts such a face when it meets it)."""
        h, w = size_hw
        canvas = Image.new("L", (w, h))
        try:
            ImageDraw.Draw(canvas).text(xy, text, font=self.glyphs.font(face, font_px), fill=255, anchor=anchor)
        except OSError:
            return None
        return np.asarray(canvas, dtype=np.float32) * np.float32(1 / 255)

    def _distract(self, size_hw: tuple[int, int], rng: np.random.Generator) -> np.ndarray | None:
        """Part of a neighbouring line of text cut by the crop's top or bottom edge, as in real detector crops."""
        h, w = size_hw
        text = self.texts.sample(rng)
        face = self.fonts.choose(text, rng)
        if face is None:
            return None
        size = FONT_SIZES[int(rng.integers(1, 4))]
        scale = float(rng.uniform(0.6, 1.1)) * h / size  # output pixels per font pixel: an em of 0.6-1.1 crop heights
        small = (int(h / scale) + 1, int(w / scale) + 1)
        shown = float(rng.uniform(0.05, 0.3)) * size  # how far the line reaches into the crop
        # Cap height is about 0.7 em: above the crop only the line's bottom shows, below only its top.
        baseline = shown if rng.random() < 0.5 else small[0] - shown + 0.7 * size
        alpha = self._text_line(small, text, face, size, (-rng.uniform(0, 2) * size, baseline), "ls")
        return None if alpha is None else cv2.resize(alpha, (w, h), interpolation=cv2.INTER_AREA)

    def _neighbours(self, ink: _Ink, rng: np.random.Generator) -> np.ndarray:
        """The ends of the neighbouring words on the text's line, left and/or right of it, cut by the crop's edge
        (the style left room for them)."""
        h, w = ink.mask.shape
        ys, xs = np.nonzero(ink.mask)
        x0, x1, y1 = float(xs.min()), float(xs.max() + 1), float(ys.max() + 1)
        alpha = np.zeros((h, w), np.float32)
        for side, wanted in zip(("left", "right"), ink.neighbours):
            if not wanted:
                continue
            text = self.texts.sample(rng)
            face = self.fonts.choose(text, rng)
            if face is None:
                continue
            # Letters about as tall as the text's (its mask spans about 0.75 em), a word space away.
            size = int(np.clip(round((ys.max() - ys.min() + 1) / 0.75 * rng.uniform(0.8, 1.1)), 6, 96))
            gap = float(rng.uniform(0.15, 0.35)) * size
            line = self._text_line((h, w), text, face, size, (x0 - gap, y1) if side == "left" else (x1 + gap, y1),
                                   "rs" if side == "left" else "ls")
            if line is not None:
                np.maximum(alpha, line, out=alpha)
        return alpha

    @staticmethod
    def _border(ink: _Ink, rng: np.random.Generator) -> np.ndarray:
        """A sign's frame around the text, or a rule under it, anti-aliased."""
        h, w = ink.mask.shape
        ys, xs = np.nonzero(ink.mask)
        pad = float(rng.uniform(0.1, 0.35)) * (ys.max() - ys.min() + 1)
        x0, y0 = int(round(xs.min() - pad)), int(round(ys.min() - pad))
        x1, y1 = int(round(xs.max() + pad)), int(round(ys.max() + pad))
        thick = int(rng.integers(1, max(2, h // 12) + 1))
        alpha = np.zeros((h, w), np.float32)
        if rng.random() < 0.3:
            cv2.line(alpha, (x0, y1), (x1, y1), 1.0, thick, cv2.LINE_AA)
        else:
            cv2.rectangle(alpha, (x0, y0), (x1, y1), 1.0, thick, cv2.LINE_AA)
        return alpha

    @staticmethod
    def _ink_only(ink: _Ink) -> np.ndarray:
        grey = np.clip(np.maximum(ink.fill, ink.outline) * 255 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)

    def _colours(self, bg: np.ndarray, covered: np.ndarray, cluster: int | None, rng: np.random.Generator
                 ) -> tuple[np.ndarray, float]:
        """The text colour and its luminance for the background under the text: from the real-colour cluster
        nearest that background, or a random colour at a contrasting luminance."""
        fx = self.config.effects
        bg_rgb = (bg[covered] if covered.any() else bg.reshape(-1, 3)).mean(axis=0)
        bg_luma = float(luminance(bg_rgb))
        if cluster is not None:
            fill = self.palette.text(rng, self.palette.choose_for(rng, bg_rgb))
            fill_luma = float(luminance(fill))
            if abs(fill_luma - bg_luma) < fx.min_real_contrast:
                fill_luma = contrasting_luma(rng, bg_luma, min(fx.min_real_contrast, max(bg_luma, 1 - bg_luma)))
                fill = with_luma(fill, fill_luma)
            return fill, fill_luma
        contrast = fx.min_contrast + float(rng.uniform(0, 0.5)) * (1 - fx.min_contrast)
        fill_luma = contrasting_luma(rng, bg_luma, min(contrast, max(bg_luma, 1 - bg_luma)))
        return random_colour(rng, fill_luma), fill_luma

    def _paint(self, ink: _Ink, rng: np.random.Generator, layers: dict | None) -> np.ndarray:
        fx = self.config.effects
        h, w = ink.mask.shape
        cluster = self.palette.choose(rng) if rng.random() < fx.p_real_colours else None
        base = None if cluster is None else self.palette.background(rng, cluster)
        bg, skip = self.backgrounds.make(rng, h, w, fx.p_natural_background, base)
        if skip is not None:
            self.stats["backgrounds replaced: unreadable image"] += 1
            self.skips.append(skip)
        if layers is not None:
            layers["background"] = bg.copy()
        covered = np.maximum(ink.fill, ink.outline) > 0.3
        fill, fill_luma = self._colours(bg, covered, cluster, rng)
        # Everything drawn around the text keeps off its characters, so no unlabelled ink joins a labelled one.
        free = (cv2.dilate((ink.mask > 0).astype(np.uint8), np.ones((5, 5), np.uint8)) == 0).astype(np.float32)
        around = {}
        if rng.random() < fx.p_distractor:
            around["distractor"] = self._distract((h, w), rng)
        if any(ink.neighbours):
            around["neighbours"] = self._neighbours(ink, rng)
        if rng.random() < fx.p_border:
            around["border"] = self._border(ink, rng)
        img = bg
        for name, alpha in around.items():
            if alpha is not None:
                alpha *= free
                img = img * (1 - alpha[..., None]) + fill * alpha[..., None]
                if layers is not None:
                    layers[name] = alpha
        text_fill = fill
        if rng.random() < fx.p_gradient_text:
            t = np.linspace(0, 1, w, dtype=np.float32)[None, :, None]
            text_fill = fill * (1 - t) + random_colour(rng, fill_luma) * t
        src = np.maximum(ink.fill, ink.outline)
        if rng.random() < fx.p_shadow:
            dx, dy = (int(v) for v in rng.integers(-2, 3, size=2))
            shadow = cv2.GaussianBlur(_shift(src, dx, dy), (0, 0), float(rng.uniform(0.5, 1.5)))
            shadow *= np.float32(rng.uniform(0.4, 0.9))
            img = img * (1 - shadow[..., None]) + random_colour(rng, float(rng.uniform(0.0, 0.2))) * shadow[..., None]
            if layers is not None:
                layers["shadow"] = shadow
        if rng.random() < fx.p_extrude:
            # Copies of the letters stepped one pixel at a time in one direction: the side of a 3-D letter.
            angle = float(rng.uniform(0, 2 * math.pi))
            depth = int(rng.integers(2, max(3, h // 10) + 1))
            extrusion = np.zeros_like(src)
            for k in range(1, depth + 1):
                np.maximum(extrusion, _shift(src, round(k * math.cos(angle)), round(k * math.sin(angle))),
                           out=extrusion)
            side = with_luma(fill, contrasting_luma(rng, fill_luma, min(0.2, max(fill_luma, 1 - fill_luma))))
            img = img * (1 - extrusion[..., None]) + side * extrusion[..., None]
            if layers is not None:
                layers["extrusion"] = extrusion
        if ink.outline.any():
            ring_luma = contrasting_luma(rng, fill_luma, 0.3)
            a = ink.outline[..., None]
            img = img * (1 - a) + random_colour(rng, ring_luma) * a
        opacity = float(rng.uniform(0.75, 1.0)) if rng.random() < 0.3 else 1.0
        a = ink.fill[..., None] * opacity
        img = img * (1 - a) + text_fill * a
        if layers is not None:
            layers["fill"] = np.broadcast_to(text_fill, (h, w, 3)).astype(np.float32)
            layers["opacity"] = np.float32(opacity)
        out = np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)
        if rng.random() < fx.p_occlusion:
            self.stats["occluded"] += occlude(out, ink.mask, len(ink.boxes), rng, fx.max_occluded_share)
        return degrade(out, rng, fx)


def _shift(a: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """``a`` moved by (dx, dy) pixels, zero where it moved in from outside."""
    h, w = a.shape
    out = np.zeros_like(a)
    if abs(dx) < w and abs(dy) < h:
        out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
            a[max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out
