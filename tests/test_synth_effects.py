"""Each renderer effect on its own: the character mask still covers the glyphs' ink, and what an effect paints
around the text (distractors, borders, extrusion) keeps off the labelled characters; and the faces it draws with
are readable."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import ImageFont

from sgtr.data.charset import Charset
from sgtr.synth.config import Effects, SynthConfig
from sgtr.synth.fonts import FontLibrary, unreadable
from sgtr.synth.palette import Palette
from sgtr.synth.render import SynthGenerator
from sgtr.synth.text import TextSource
from tests.helpers.render import font

SAMPLES = 60
# A pixel is ink when the clean rendering covers at least half of it.
INK = 128


def generator(keep_ratio: bool = True, palette: Palette | None = None, **effects) -> SynthGenerator:
    config = SynthConfig(Charset.from_spec("94"), seed=11, font_dirs=(font(),), height=48 if keep_ratio else 32,
                         width=320 if keep_ratio else 128, keep_ratio=keep_ratio)
    gen = SynthGenerator.build(config.with_effects(replace(Effects.plain(), **effects)))
    if palette is not None:
        gen.palette = palette
    return gen


def ink_iou(gen: SynthGenerator, index: int) -> float:
    """IoU of the sample's mask (all characters) with its clean rendering's ink."""
    mask = gen.render(index).mask > 0
    ink = gen.render(index, clean=True).image[..., 0] >= INK
    return float((mask & ink).sum() / max((mask | ink).sum(), 1))


# ---- keep-ratio output ----------------------------------------------------------------------------------------------
def test_keep_ratio_crops_are_48_high_with_widths_that_follow_the_word():
    gen = generator()
    shapes = [gen.render(i).image.shape for i in range(SAMPLES)]
    assert {h for h, _, _ in shapes} == {48}
    widths = [w for _, w, _ in shapes]
    assert min(widths) >= 24 and max(widths) <= 320 and len(set(widths)) > SAMPLES // 3


def test_keep_ratio_mask_has_the_image_geometry():
    gen = generator()
    for i in range(SAMPLES):
        r = gen.render(i)
        assert r.mask.shape == r.image.shape[:2]
        assert ink_iou(gen, i) > 0.75, r.label


def test_keep_ratio_keeps_the_word_aspect_ratio():
    gen = generator()
    face = ImageFont.truetype(font(), 100)
    for i in range(SAMPLES):
        r = gen.render(i)
        ys, xs = np.nonzero(r.mask)
        # At the minimum width or the cap the word has room or is squeezed; in short words a pixel of rounding
        # weighs too much.
        if r.image.shape[1] in (24, 320) or len(r.label) < 4:
            continue
        x0, y0, x1, y1 = face.getbbox(r.label, anchor="ls")
        natural = (x1 - x0) / (y1 - y0)
        kept = (xs.max() + 1 - xs.min()) / (ys.max() + 1 - ys.min())
        # The renderer varies the ratio by up to exp(+-0.2), as fonts and detector boxes do; rounding adds a little.
        assert abs(math.log(kept / natural)) < 0.25, (r.label, kept, natural)


def test_fixed_size_output_is_unchanged_in_shape():
    gen = generator(keep_ratio=False)
    assert {gen.render(i).image.shape for i in range(20)} == {(32, 128, 3)}


def test_word_too_long_for_the_cap_is_squeezed_into_it():
    gen = generator()
    gen.texts = TextSource(gen.config.charset, ["abcdefghijklmnopqrstuvwxy"], {"word": 1.0})
    r = gen.render(0)
    assert r.image.shape[1] == 320 and r.label.lower() == "abcdefghijklmnopqrstuvwxy"


# ---- geometry ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("effect", ["p_arc", "p_wave", "p_street_view", "p_perspective", "p_rotate", "p_shear"])
def test_mask_covers_the_ink_under_geometry(effect):
    gen = generator(**{effect: 1.0})
    ious = [ink_iou(gen, i) for i in range(SAMPLES)]
    assert np.median(ious) > 0.75 and min(ious) > 0.5, effect


def end_heights(gen: SynthGenerator) -> np.ndarray:
    """log(height of the first letter / height of the last) over capitals-only words, whose letters are equally
    tall when seen straight on."""
    gen.texts = TextSource(gen.config.charset, ["HOTEL", "MARKET", "STATION", "BAKERY"], {"word": 1.0})
    out = []
    for i in range(SAMPLES):
        b = gen.render(i).boxes
        out.append(math.log((b[0][3] - b[0][1]) / (b[-1][3] - b[-1][1])))
    return np.array(out)


def test_street_view_makes_one_end_of_the_word_taller():
    assert np.abs(end_heights(generator(p_street_view=1.0))).mean() > 0.1
    assert np.abs(end_heights(generator())).mean() < 0.05


# ---- what is painted around the text ------------------------------------------------------------------------------
@pytest.mark.parametrize("effect, layer", [("p_distractor", "distractor"), ("p_side_distractor", "neighbours"),
                                           ("p_border", "border")])
def test_things_drawn_around_the_text_keep_off_its_characters(effect, layer):
    gen = generator(**{effect: 1.0})
    drawn = 0
    for i in range(SAMPLES):
        r = gen.render(i, trace=True)
        alpha = r.layers.get(layer)
        if alpha is not None and alpha.max() > 0.5:
            drawn += 1
            assert alpha[r.mask > 0].max() == 0, r.label
    assert drawn > SAMPLES // 3


@pytest.mark.parametrize("effect, layer", [("p_extrude", "extrusion"), ("p_shadow", "shadow")])
def test_text_is_painted_over_its_extrusion_and_shadow(effect, layer):
    gen = generator(**{effect: 1.0})
    checked = 0
    for i in range(SAMPLES):
        r = gen.render(i, trace=True)
        if r.layers["opacity"] < 1:
            continue
        solid = gen.render(i, clean=True).image[..., 0] == 255
        assert r.layers[layer].max() > 0.3
        expected = np.clip(r.layers["fill"][solid] * 255 + 0.5, 0, 255).astype(int)
        assert np.abs(r.image[solid].astype(int) - expected).max() <= 1, r.label
        checked += 1
    assert checked > SAMPLES // 2


# ---- damage -------------------------------------------------------------------------------------------------------
def ink_estimate(r) -> np.ndarray:
    """How far each pixel moved from the background towards the text colour (1 = text)."""
    bg, fill = r.layers["background"], r.layers["fill"]
    diff = fill - bg
    return ((r.image / 255.0 - bg) * diff).sum(-1) / np.maximum((diff * diff).sum(-1), 1e-3)


@pytest.mark.parametrize("effect", ["p_low_resolution", "p_jpeg", "p_blur"])
def test_damaged_text_still_lies_on_its_mask(effect):
    gen = generator(**{effect: 1.0})
    ious = []
    for i in range(SAMPLES):
        r = gen.render(i, trace=True)
        assert np.array_equal(r.mask, gen.render(i, clean=True).mask)
        seen, mask = ink_estimate(r) > 0.5, r.mask > 0
        ious.append((seen & mask).sum() / max((seen | mask).sum(), 1))
    assert np.median(ious) > 0.5, effect


# ---- colours and lengths ------------------------------------------------------------------------------------------
def test_real_colour_pairs_come_from_the_palette():
    yellow_on_blue = Palette(weight=np.array([1.0]), text_mean=np.array([[0.95, 0.85, 0.2]]),
                             text_std=np.full((1, 3), 0.01), bg_mean=np.array([[0.1, 0.1, 0.8]]),
                             bg_std=np.full((1, 3), 0.01))
    gen = generator(palette=yellow_on_blue, p_real_colours=1.0)
    for i in range(20):
        r = gen.render(i, trace=True)
        assert np.allclose(r.layers["fill"][0, 0], [0.95, 0.85, 0.2], atol=0.06)
        assert r.layers["background"].mean(axis=(0, 1))[2] > 0.5


def test_bundled_palette_holds_colour_statistics_only():
    palette = Palette.load()
    assert 8 <= len(palette) <= 128 and abs(palette.weight.sum() - 1) < 1e-6
    assert palette.text_mean.shape == palette.bg_mean.shape == (len(palette), 3)
    assert ((palette.text_mean >= 0) & (palette.text_mean <= 1)).all()


def test_uniform_lengths_span_one_to_the_charset_maximum():
    charset = Charset.from_spec("94")
    texts = TextSource(charset, ["cat", "house", "street", "a"], {"word": 0.6, "random": 0.2, "number": 0.2},
                       uniform_length=1.0)
    rng = np.random.default_rng(0)
    lengths = [len(texts.sample(rng)) for _ in range(2000)]
    assert min(lengths) == 1 and max(lengths) == charset.max_length
    assert len(set(lengths)) == charset.max_length


# ---- faces --------------------------------------------------------------------------------------------------------
def installed(path: str) -> str:
    if not Path(path).is_file():
        pytest.skip(f"{path} is not installed (scripts/setup-system.sh installs it)")
    return path


def test_ordinary_face_is_readable():
    assert unreadable(font()) is None


@pytest.mark.parametrize("path, why", [("/usr/share/fonts/opentype/ocr-b/OCRBX.otf", "solid boxes"),
                                       ("/usr/share/fonts/truetype/aenigma/graze.ttf", "look like another")])
def test_faces_that_cannot_be_read_are_left_out(path, why):
    assert why in unreadable(installed(path))
    library = FontLibrary.scan((installed(path), font()), TextSource.render_alphabet(Charset.from_spec("94")))
    assert library.paths == [font()] and any("unreadable glyphs" in s.reason for s in library.skips)
