"""The ``small`` VR (narrowed for CI speed) memorises 32 synthetic words on the CPU."""

from __future__ import annotations

import pytest

from sgtr.data.charset import Charset
from sgtr.models.vr import SegmentationRecognizer
from tests.helpers.memorise import memorise

MAX_STEPS = 160  # seeded runs (model seeds 0, 1, 2) read all 32 by step 80–90 (about 10 s on one core)


@pytest.mark.slow
def test_small_vr_overfits_32_words():
    charset = Charset.from_spec("36")
    model = SegmentationRecognizer.from_preset(charset, "small", stem=(16,), widths=(24, 48, 96), fpn_channels=24,
                                               order_channels=24)
    accuracy, step, wrong = memorise(model, charset, MAX_STEPS, lr=8e-3)
    assert accuracy == 1.0, f"{accuracy:.0%} after {step} steps; wrong (read, true): {wrong}"
