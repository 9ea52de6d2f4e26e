"""benchmarks/detection_accuracy.py: rendered photos scored by the photo reader give rates in [0, 1], and clean
rendered words are mostly found; its box matching is one-to-one at IoU 0.5."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "detection_accuracy.py"
RATES = ("recall", "precision", "word_accuracy", "word_accuracy_nocase")


@pytest.fixture(scope="module")
def benchmark():
    spec = importlib.util.spec_from_file_location("detection_accuracy", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def result(benchmark):
    pytest.importorskip("wordfreq")
    from sgtr import Recognizer
    from sgtr.inference.detection import DetectorMissing, TextDetector
    from sgtr.inference.photo import PhotoReader

    try:
        reader = PhotoReader(Recognizer(threads=1), TextDetector(threads=1))
    except DetectorMissing as err:
        pytest.skip(str(err))
    from sgtr.synth.backgrounds import system_backgrounds

    if not system_backgrounds()[0]:
        pytest.skip("no wallpaper photographs installed (scripts/setup-system.sh installs them)")
    return benchmark.evaluate(benchmark.render_photos(2, seed=0), reader)


def test_rates_lie_in_unit_interval(result):
    assert result["words"] >= 6  # 3-8 words a photo
    assert all(0.0 <= result[k] <= 1.0 for k in RATES)
    assert result["word_accuracy"] <= result["word_accuracy_nocase"] <= result["recall"]


def test_clean_rendered_words_are_mostly_found(result):
    assert result["recall"] > 0.5


def test_match_pairs_each_box_once_above_threshold(benchmark):
    # truth 0 overlaps predictions 0 (IoU 0.9) and 1 (0.82): only the better is matched, 1 is left over
    truth = np.array([[0, 0, 10, 10], [20, 0, 30, 10]], dtype=float)
    predicted = np.array([[0, 0, 10, 9], [1, 0, 11, 10], [20, 0, 38, 10]], dtype=float)  # last: IoU 0.56
    pairs = benchmark.match(benchmark.iou_matrix(truth, predicted))
    assert sorted(pairs) == [(0, 0), (1, 2)]
