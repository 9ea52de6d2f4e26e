"""The resize filter as part of a model's input geometry (``ModelSpec.resample``): OpenCV-style plain bilinear
("linear", the preprocessing PaddleOCR trains with) beside Pillow's antialiased filter, carried by weights files and
used by every reading path."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from sgtr.data.transforms import linear_resize, resize_image
from sgtr.inference.predictor import Recognizer
from sgtr.inference.weights import read_weights, write_weights
from sgtr.models.spec import ModelSpec
from tests.helpers.models import TINY_MODEL, tiny_model


def noise(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize("source, target", [((15, 98), (48, 314)), ((212, 958), (48, 217)), ((36, 29), (48, 39)),
                                            ((30, 400), (48, 320))])
def test_linear_resize_matches_opencv_within_one_grey_level(source, target):
    cv2 = pytest.importorskip("cv2")
    image = noise(*source)
    ours = linear_resize(image, *target).astype(int)
    theirs = cv2.resize(image, (target[1], target[0]), interpolation=cv2.INTER_LINEAR).astype(int)
    assert np.abs(ours - theirs).max() <= 1


def test_linear_and_antialias_differ_when_shrinking():
    image = Image.fromarray(noise(200, 800))
    assert not np.array_equal(resize_image(image, 48, 192, True, "linear"), resize_image(image, 48, 192, True))


def test_an_unknown_filter_is_refused_by_name():
    with pytest.raises(ValueError, match="resample must be one of antialias, linear"):
        resize_image(Image.fromarray(noise(10, 10)), 32, 128, resample="cubic")


def test_weights_files_carry_the_filter_and_older_files_read_as_antialias(tmp_path):
    spec, model = tiny_model()
    linear = ModelSpec(spec.name, spec.charset, spec.input_size, spec.preset, spec.options, resample="linear")
    assert read_weights(write_weights(model, linear, tmp_path / "l.safetensors"))[0].resample == "linear"
    assert read_weights(write_weights(model, spec, tmp_path / "a.safetensors"))[0].resample == "antialias"


def test_the_recognizer_preprocesses_with_its_models_filter(tmp_path):
    spec, model = tiny_model()
    linear = ModelSpec("vr", spec.charset, spec.input_size, "small", TINY_MODEL, resample="linear")
    recognizer = Recognizer(write_weights(model, linear, tmp_path / "l.safetensors"))
    image = Image.fromarray(noise(120, 400))
    prepared = recognizer.preprocessor()(image).arrays[0]
    assert np.array_equal(prepared, resize_image(image, 32, 128, resample="linear"))
