"""Reading in width buckets (``Recognizer(width_buckets=N)``): each batch is cut to the smallest multiple of N
columns that holds its widest crop, crops are grouped by width across a window of batches, and the readings come back
in the order the images were given."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from sgtr.data.charset import Charset
from sgtr.inference import predictor
from sgtr.inference.predictor import Recognizer
from sgtr.inference.spec import ModelSpec
from sgtr.models.output import RecognizerOutput

CHARSET = Charset.from_spec("36", max_length=8)


class GreyReader(nn.Module):
    """Reads each image's top-left grey level as one digit (0 for black … 9 for white), in CTC form, and records the
    width of every batch it is given."""

    def __init__(self):
        super().__init__()
        self.unused = nn.Parameter(torch.zeros(1))
        self.widths: list[int] = []

    def forward(self, images: torch.Tensor) -> RecognizerOutput:
        self.widths.append(images.shape[-1])
        digit = ((images[:, 0, 0, 0] + 1) * 4.5).round().long()
        logits = torch.full((images.shape[0], 4, CHARSET.num_classes), -10.0)
        logits[:, :, 0] = 10.0  # blank everywhere but the first frame
        logits[torch.arange(images.shape[0]), 0, 0] = -10.0
        logits[torch.arange(images.shape[0]), 0, CHARSET.encode("0")[0] + digit] = 10.0
        return RecognizerOutput(logits=logits, ctc=True)


def grey(digit: int, width: int) -> np.ndarray:
    """A 32-high flat image of the grey level ``GreyReader`` reads as ``digit``."""
    return np.full((32, width, 3), round(255 * digit / 9), dtype=np.uint8)


def reader(width_buckets: int, keep_ratio: bool = True, batch_size: int = 2) -> tuple[Recognizer, GreyReader]:
    model = GreyReader()
    spec = ModelSpec("grey", CHARSET, (32, 128), keep_ratio=keep_ratio)
    return Recognizer(model, spec=spec, device="cpu", batch_size=batch_size, width_buckets=width_buckets), model


def test_a_batch_is_cut_to_the_bucket_of_its_widest_crop():
    recognizer, model = reader(32)
    recognizer.predict([grey(1, 20), grey(2, 40)], rotate_vertical=False)
    assert model.widths == [64]


def test_a_bucket_is_never_wider_than_the_trained_width():
    recognizer, model = reader(48)
    recognizer.predict([grey(1, 400)], rotate_vertical=False)  # squeezed to 128 columns, as without buckets
    assert model.widths == [128]


def test_without_buckets_every_batch_has_the_trained_width():
    recognizer, model = reader(0)
    recognizer.predict([grey(1, 20), grey(2, 40), grey(3, 60)], rotate_vertical=False)
    assert model.widths == [128, 128]


def test_crops_are_grouped_by_width_and_read_back_in_the_order_given():
    digits, widths = [3, 7, 1, 9, 4, 0], [120, 10, 100, 20, 110, 30]
    recognizer, model = reader(32)
    readings = recognizer.predict([grey(d, w) for d, w in zip(digits, widths)], rotate_vertical=False)
    assert [r.text for r in readings] == [str(d) for d in digits]
    assert model.widths == [32, 128, 128]  # by width: (10, 20) fit 32 columns; (30, 100) and (110, 120) need 128


def test_buckets_need_a_model_that_keeps_the_aspect_ratio():
    with pytest.raises(ValueError, match="keeps the aspect ratio"):
        reader(32, keep_ratio=False)


def test_buckets_are_refused_for_an_onnx_graph(monkeypatch):
    class FixedWidthGraph:
        name = "onnx"

    spec = ModelSpec("grey", CHARSET, (32, 128), keep_ratio=True)
    monkeypatch.setattr(predictor, "open_runtime", lambda *args: (spec, FixedWidthGraph()))
    with pytest.raises(ValueError, match="ONNX"):
        Recognizer("model.onnx", width_buckets=32)
