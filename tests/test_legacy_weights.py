"""Weights files written by an earlier sgtr (tests/data/legacy) still load, and read what they read then."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from sgtr.inference.loading import load_model
from sgtr.inference.predictor import Recognizer
from sgtr.inference.preprocess import to_batch
from sgtr.inference.weights import read_weights
from sgtr.models.factory import build_model
from sgtr.models.warm_start import load_matching

LEGACY = Path(__file__).parent / "data" / "legacy"
EXPECTED = json.loads((LEGACY / "expected.json").read_text())


def legacy_images() -> np.ndarray:
    """The two (32, 128, 3) uint8 images the expected readings were made from: pseudo-random noise, vertical stripes."""
    noise = (np.arange(32 * 128 * 3, dtype=np.int64).reshape(32, 128, 3) * 7919 % 251).astype(np.uint8)
    stripes = np.broadcast_to((np.arange(128) // 8 % 2 * 255).astype(np.uint8)[None, :, None], (32, 128, 3))
    return np.stack([noise, stripes])


@pytest.mark.parametrize("name", sorted(EXPECTED["models"]))
def test_legacy_weights_file_is_unchanged(name):
    entry = EXPECTED["models"][name]
    assert hashlib.sha256((LEGACY / entry["file"]).read_bytes()).hexdigest() == entry["sha256"]


@pytest.mark.parametrize("name", sorted(EXPECTED["models"]))
def test_legacy_weights_give_the_recorded_logits(name):
    entry = EXPECTED["models"][name]
    _, model = load_model(LEGACY / entry["file"])
    with torch.no_grad():
        logits = model(to_batch(legacy_images())).logits.float()
    expected = torch.tensor(entry["logits"]).view(entry["logits_shape"])
    torch.testing.assert_close(logits, expected, atol=1e-4, rtol=0)


@pytest.mark.parametrize("name", sorted(EXPECTED["models"]))
def test_legacy_weights_read_the_recorded_texts(name):
    entry = EXPECTED["models"][name]
    readings = Recognizer(LEGACY / entry["file"], device="cpu").predict(list(legacy_images()))
    assert [r.text for r in readings] == entry["texts"]
    assert [r.confidence for r in readings] == pytest.approx(entry["confidences"], abs=1e-4)


def test_an_old_vr_weights_file_warm_starts_the_vr_inside_sgtr():
    spec, state = read_weights(LEGACY / EXPECTED["models"]["vr"]["file"])
    sgtr = build_model("sgtr", spec.charset, vr=spec.options)
    report = load_matching(sgtr, state, spec.charset, spec.charset)
    vr = spec.load_state(state, "vr.safetensors")
    assert not report.unused and len(report.copied) == len(vr.state_dict())
    for key, value in vr.state_dict().items():
        torch.testing.assert_close(sgtr.state_dict()[f"vr.{key}"], value)
