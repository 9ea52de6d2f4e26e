"""The test renderer (``tests.helpers.render``) itself: masks mark every character, in reading order, over its ink."""

from __future__ import annotations

import random

import numpy as np

from sgtr.data.charset import Charset
from tests.helpers.render import render_batch, render_word


def test_masks_mark_every_character_in_reading_order():
    charset = Charset.from_spec("36")
    images, targets = render_batch(["hello", "a1b2c3d4"], charset)
    assert images.shape == (2, 3, 32, 128) and images.min() >= -1 and images.max() <= 1
    for row, word in enumerate(["hello", "a1b2c3d4"]):
        mask = targets.masks[row]
        assert set(mask.unique().tolist()) == set(range(len(word) + 1))
        centres = [mask.eq(t + 1).nonzero()[:, 1].float().mean().item() for t in range(len(word))]
        assert centres == sorted(centres)


def test_mask_covers_the_ink():
    image, mask = render_word("xyz", rng=random.Random(3))
    ink = np.abs(image.astype(int) - image[0, 0].astype(int)).sum(-1) > 150
    assert (mask[ink] > 0).mean() > 0.9
