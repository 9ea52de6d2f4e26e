"""``sgtr.Recognizer``: model files, input types, batching, branches, whitelist, lexicon and vertical crops, read with
the tiny scrambled VR (``tests.helpers.models``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import sgtr.inference.loading as loading
from sgtr.data.charset import Charset
from sgtr.data.images import BadImage
from sgtr.engine.config import load_config
from sgtr.inference.lexicon import Lexicon
from sgtr.inference.predictor import Reading, Recognizer
from sgtr.inference.preprocess import Preprocessor
from sgtr.serialization import CheckpointError
from tests.helpers.data import crops
from tests.helpers.models import TINY_MODEL, tiny_model


@pytest.fixture
def recognizer(tiny_weights) -> Recognizer:
    return Recognizer(tiny_weights, device="cpu", batch_size=4)


def test_every_input_type_reads_the_same(recognizer):
    path = crops(1)[0]
    pil = Image.open(path).convert("RGB")
    rgb = np.asarray(pil)
    gray = np.asarray(pil.convert("L"))
    readings = recognizer.predict([path, str(path), rgb, pil, pil.convert("RGBA")])
    assert len({(r.text, round(r.confidence, 5)) for r in readings}) == 1
    as_gray = recognizer.predict([gray, gray[..., None], pil.convert("L")])
    assert len({(r.text, round(r.confidence, 5)) for r in as_gray}) == 1
    one = recognizer.predict(path)  # a single input is a list of one
    assert isinstance(one, list) and len(one) == 1 and isinstance(one[0], Reading)
    assert len(one[0].char_probs) == len(one[0].text) and 0.0 <= one[0].confidence <= 1.0


def test_bad_inputs_raise_naming_the_problem(recognizer, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    with pytest.raises(BadImage, match="broken.png"):
        recognizer.predict(broken)
    with pytest.raises(ValueError, match="uint8"):
        recognizer.predict(np.zeros((8, 8, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="shape"):
        recognizer.predict(np.zeros((8, 8, 2), dtype=np.uint8))


def test_batching_does_not_change_readings(recognizer, tiny_weights):
    paths = crops(6)
    small_batches = recognizer.predict(iter(paths))  # a generator, in batches of 4
    one_batch = Recognizer(tiny_weights, device="cpu", batch_size=32).predict(paths)
    assert [r.text for r in small_batches] == [r.text for r in one_batch]
    assert np.allclose([r.confidence for r in small_batches], [r.confidence for r in one_batch], atol=1e-5)
    assert len({r.text for r in one_batch}) > 1  # the tiny model's readings depend on the image


def test_branches_are_decoded_when_asked(recognizer):
    reading = recognizer.predict(crops(1), branches=True)[0]
    assert set(reading.branches) == {"vr"} and reading.branches["vr"].text == reading.text
    assert recognizer.predict(crops(1))[0].branches == {}


def test_whitelist_restricts_the_text(recognizer):
    plain = recognizer.predict(crops(4))
    allowed = set("xyz")
    restricted = recognizer.predict(crops(4), whitelist="xyz")
    assert all(set(r.text) <= allowed for r in restricted)
    assert [r.text for r in plain] != [r.text for r in restricted]


def test_lexicon_takes_the_closest_word_scored_by_the_model(recognizer):
    image = next(p for p, r in zip(crops(), recognizer.predict(crops())) if 1 < len(r.text) < 25)
    raw = recognizer.predict(image)[0]
    own = recognizer.predict(image, lexicon=[raw.text, "zzz"])[0]
    # the model's own reading, rescored as a lexicon word, keeps its greedy probabilities
    assert own.text == raw.text and own.raw.text == raw.text
    assert own.confidence == pytest.approx(raw.confidence, rel=1e-4)
    assert own.char_probs == pytest.approx(raw.char_probs, rel=1e-4)
    near = raw.text[:-1] + ("a" if raw.text[-1] != "a" else "b")
    chosen = recognizer.predict(image, lexicon=[near.upper(), "qqqqqqqqqqqqqqqqqqqqqqqq"])[0]
    assert chosen.text == near and len(chosen.char_probs) == len(near)  # upper case folded by the 36 charset


def test_lexicon_ties_go_to_the_more_probable_word_and_unwritable_words_are_set_aside():
    charset = Charset.from_spec("36")
    lexicon = Lexicon(["cat", "cot", "café", "Cat"], charset)
    assert lexicon.words == ["cat", "cot"] and lexicon.skipped == ["café"]
    assert lexicon.closest("cut") == ["cat", "cot"]
    log_probs = torch.full((26, charset.num_classes), -10.0)
    log_probs[1, charset.encode("o")[0]] = 0.0  # the model prefers "o" at step 2
    assert lexicon.match("cut", log_probs).text == "cot"
    with pytest.raises(ValueError, match="no word"):
        Lexicon(["été"], charset)


def test_vertical_crops_keep_the_most_confident_turn(recognizer):
    image = Image.open(crops(1)[0]).convert("RGB")
    tall = image.rotate(90, expand=True)
    assert len(Preprocessor((32, 128), rotate_vertical=True)(tall).turns) == 3
    assert len(Preprocessor((32, 128), rotate_vertical=True)(image).turns) == 1
    reading = recognizer.predict(tall, rotate_vertical=True)[0]
    candidates = {turn: recognizer.predict(tall.rotate(turn, expand=True), rotate_vertical=False)[0]
                  for turn in (0, 90, -90)}
    best = max(candidates, key=lambda t: candidates[t].confidence)
    assert reading.turn == best and reading.text == candidates[best].text


def test_training_checkpoints_and_weights_files_read_alike(tiny_weights, tmp_path):
    spec, model = tiny_model()
    config = load_config(None, [f"model.options={TINY_MODEL}"])
    ckpt = tmp_path / "run.ckpt"
    torch.save({"state_dict": {f"model.{k}": v for k, v in model.state_dict().items()},
                "sgtr": {"config": config, "charset": spec.charset.to_config()}}, ckpt)
    from_ckpt = Recognizer(ckpt, device="cpu").predict(crops(3))
    from_weights = Recognizer(tiny_weights, device="cpu").predict(crops(3))
    assert [r.text for r in from_ckpt] == [r.text for r in from_weights]


def test_in_memory_model_needs_its_spec():
    spec, model = tiny_model()
    with pytest.raises(ValueError, match="spec"):
        Recognizer(model)
    assert Recognizer(model, spec=spec, device="cpu").input_size == (32, 128)


def test_default_model_is_the_bundled_file(tiny_weights, tmp_path, monkeypatch):
    monkeypatch.setattr(loading, "DEFAULT_MODEL", tmp_path / "absent.safetensors")
    monkeypatch.setattr(loading, "DEFAULT_MODEL_SHA256", tmp_path / "absent.sha256")
    with pytest.raises(CheckpointError, match="no default model is bundled yet"):
        Recognizer()
    monkeypatch.setattr(loading, "DEFAULT_MODEL", tiny_weights)
    assert Recognizer(device="cpu").charset.name == "36"


def test_bundled_model_reads_most_bundled_samples():
    samples = Path(__file__).resolve().parents[1] / "samples"
    lines = (samples / "labels.tsv").read_text(encoding="utf-8").splitlines()
    paths, labels = zip(*(line.split("\t") for line in lines))
    readings = Recognizer(device="cpu").predict([samples / p for p in paths])
    right = sum(r.text.lower() == label.lower() for r, label in zip(readings, labels))  # case-insensitive, as in papers
    assert right >= 9, [r.text for r in readings]


def test_import_sgtr_stays_light():
    code = "import sys, sgtr; assert 'torch' not in sys.modules; assert sgtr.Recognizer.__name__ == 'Recognizer'"
    subprocess.run([sys.executable, "-c", code], check=True)
