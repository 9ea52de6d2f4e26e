"""Colour pairs measured on crops and their clusters, on made-up images whose colours are known."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from sgtr.synth.palette import Palette, cluster_pairs, colour_pair
from tests.helpers.render import font


def word_image(text_rgb, bg_rgb, text: str = "Hotel", size: tuple[int, int] = (160, 48)) -> np.ndarray:
    img = Image.new("RGB", size, tuple(int(c * 255) for c in bg_rgb))
    ink = tuple(int(c * 255) for c in text_rgb)
    ImageDraw.Draw(img).text((8, 6), text, font=ImageFont.truetype(font(), 34), fill=ink)
    return np.asarray(img)


@pytest.mark.parametrize("text_rgb, bg_rgb", [((0.1, 0.1, 0.5), (0.95, 0.9, 0.3)),   # dark on light
                                              ((1.0, 1.0, 1.0), (0.1, 0.4, 0.2))])  # light on dark
def test_colour_pair_finds_the_text_and_background_colours(text_rgb, bg_rgb):
    fg, bg = colour_pair(word_image(text_rgb, bg_rgb))
    assert np.allclose(fg, text_rgb, atol=0.03) and np.allclose(bg, bg_rgb, atol=0.03)


def test_colour_pair_refuses_a_crop_of_one_tone():
    assert colour_pair(np.full((32, 100, 3), 120, np.uint8)) is None


def test_clustering_recovers_two_populations_and_their_shares():
    rng = np.random.default_rng(0)
    red_on_white = (np.array([0.8, 0.1, 0.1]), np.array([0.95, 0.95, 0.95]))
    white_on_green = (np.array([0.95, 0.95, 0.95]), np.array([0.1, 0.5, 0.2]))
    pairs = [red_on_white] * 140 + [white_on_green] * 60
    text = np.array([t for t, _ in pairs]) + rng.normal(0, 0.02, (200, 3))
    bg = np.array([b for _, b in pairs]) + rng.normal(0, 0.02, (200, 3))
    palette = cluster_pairs(np.clip(text, 0, 1), np.clip(bg, 0, 1), k=2, seed=0)
    assert np.allclose(palette.weight, [0.7, 0.3])
    assert np.allclose(palette.text_mean[0], red_on_white[0], atol=0.02)
    assert np.allclose(palette.bg_mean[1], white_on_green[1], atol=0.02)
    assert (palette.text_std < 0.04).all()


def test_palette_round_trips_through_json():
    rng = np.random.default_rng(1)
    palette = cluster_pairs(rng.random((50, 3)), rng.random((50, 3)), k=4, seed=0)
    again = Palette.from_json(palette.to_json("test"))
    assert np.allclose(again.weight, palette.weight, atol=1e-4)
    assert np.allclose(again.bg_mean, palette.bg_mean, atol=1e-4)


def test_text_colour_for_a_background_comes_from_the_nearest_cluster():
    palette = Palette(weight=np.array([0.5, 0.5]), text_mean=np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]),
                      text_std=np.zeros((2, 3)), bg_mean=np.array([[0.9, 0.9, 0.9], [0.1, 0.1, 0.1]]),
                      bg_std=np.zeros((2, 3)))
    rng = np.random.default_rng(0)
    assert all(palette.choose_for(rng, np.array([0.85, 0.85, 0.85])) == 0 for _ in range(50))
    assert all(palette.choose_for(rng, np.array([0.15, 0.1, 0.1])) == 1 for _ in range(50))
