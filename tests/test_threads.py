"""``threads`` means the compute threads of one forward pass in every runtime, and its default leaves CPUs free."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from sgtr.inference.predictor import Recognizer
from sgtr.inference.runtimes import default_threads

IMAGE = np.full((24, 80, 3), 200, dtype=np.uint8)


@pytest.fixture
def restore_torch_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_torch_runtime_computes_with_the_threads_asked_for(tiny_weights, restore_torch_threads):
    torch.set_num_threads(1)
    Recognizer(tiny_weights, device="cpu", threads=3).predict(IMAGE)
    assert torch.get_num_threads() == 3


def test_each_torch_recognizer_keeps_its_own_thread_count(tiny_weights, restore_torch_threads):
    one = Recognizer(tiny_weights, device="cpu", threads=1)
    Recognizer(tiny_weights, device="cpu", threads=2).predict(IMAGE)
    one.predict(IMAGE)
    assert torch.get_num_threads() == 1


def test_onnx_runtime_session_gets_the_threads_asked_for(tiny_weights, tmp_path):
    from sgtr.inference.loading import load_model
    from sgtr.inference.onnx_export import export_onnx

    spec, model = load_model(tiny_weights)
    path = export_onnx(model, spec, tmp_path / "tiny.onnx")
    recognizer = Recognizer(path, device="cpu", threads=3)
    assert recognizer.runtime.session.get_session_options().intra_op_num_threads == 3


def test_default_threads_is_half_the_usable_cpus(tiny_weights, restore_torch_threads):
    cpus = len(os.sched_getaffinity(0))
    assert default_threads() == max(1, cpus // 2)
    Recognizer(tiny_weights, device="cpu").predict(IMAGE)
    assert torch.get_num_threads() == default_threads()
