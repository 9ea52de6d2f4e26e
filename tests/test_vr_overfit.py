"""Acceptance check of issue 4: the ``small`` VR (narrowed for CI speed) memorises 32 synthetic words on the CPU."""

from __future__ import annotations

import random

import torch

from sgtr.data.charset import Charset
from sgtr.models.decoding import decode
from sgtr.models.vr import SegmentationRecognizer
from test_vr_synth import random_words, render_batch

MAX_STEPS = 250  # seeded runs reach 100% at step ~120 (~25 s on one core)
CHECK_EVERY = 10


def test_small_vr_overfits_32_words():
    charset = Charset.from_spec("36")
    words = random_words(32, charset, random.Random(0))
    images, targets = render_batch(words, charset)
    model = SegmentationRecognizer.from_preset(charset, "small", stem=(16,), widths=(32, 64, 128), fpn_channels=32,
                                               order_channels=32)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    accuracy, step = 0.0, 0
    while accuracy < 1.0 and step < MAX_STEPS:
        model.train()
        for _ in range(CHECK_EVERY):
            loss = model(images, targets).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        step += CHECK_EVERY
        model.eval()
        with torch.no_grad():
            texts = [p.text for p in decode(model(images), charset)]
        accuracy = sum(t == w for t, w in zip(texts, words)) / len(words)
    wrong = [(t, w) for t, w in zip(texts, words) if t != w]
    assert accuracy == 1.0, f"{accuracy:.0%} after {step} steps; wrong (read, true): {wrong}"
