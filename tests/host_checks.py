"""Checks of a host recognizer on its own (TRBA, SRN, ABINet): the host contract, gradients into the backbone,
memorising 32 words, and ONNX parity of a directly exported module. ``test_host_{trba,srn,abinet}`` import them;
``host_helpers`` holds the checks that go through the factory and the reading tools.

``CHARSET`` caps labels at 8 characters (T = 9 steps): the memorising words have 3 to 8, and a third of the steps
makes the overfit runs (per-step attention, a T-step decoder loop) proportionally cheaper on the CPU."""

from __future__ import annotations

import random
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

from sgtr.data.charset import Charset
from sgtr.inference.onnx_export import OPSET, LogitsGraph
from sgtr.models.decoding import decode
from sgtr.models.output import RecognizerOutput, Targets
from test_vr_synth import random_words, render_batch

CHARSET = Charset.from_spec("36", max_length=8)
CHECK_EVERY = 10


def words_batch(n: int = 32) -> tuple[list[str], torch.Tensor, Targets]:
    """``n`` random words (seed 0) rendered at 32×128 with their targets."""
    words = random_words(n, CHARSET, random.Random(0))
    return (words, *render_batch(words, CHARSET))


def check_contract(model: nn.Module, out: RecognizerOutput, batch: int, branches: set[str], losses: set[str]) -> None:
    """Shapes of every output the GTR plug-in relies on, order maps on the features' grid summing to 1, the named
    branches and losses, and a finite total loss."""
    t, k = CHARSET.max_steps, CHARSET.num_classes
    assert out.logits.shape == (batch, t, k) and not out.ctc
    assert set(out.branches) == branches and all(v.shape == (batch, t, k) for v in out.branches.values())
    assert out.features.shape[:2] == (batch, model.feature_channels)
    assert model.has_order_maps and out.order_maps.shape == (batch, t, *out.features.shape[-2:])
    torch.testing.assert_close(out.order_maps.sum(dim=(2, 3)), torch.ones(batch, t))
    assert out.extras["step_hidden"].shape == (batch, t, model.hidden_width)
    assert set(out.losses) == losses and torch.isfinite(out.loss)


def backbone_gets_gradients(model: nn.Module) -> bool:
    _, images, targets = words_batch(3)
    model(images, targets).loss.backward()
    return any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.backbone.parameters())


def train_until_read(model: nn.Module, max_steps: int, lr: float, recalibrate_bn: bool = False
                     ) -> tuple[float, int, list[tuple[str, str]]]:
    """Adam on one fixed batch of 32 words until greedy decoding in eval mode reads every word (checked every
    ``CHECK_EVERY`` steps) or ``max_steps``; returns the accuracy, the steps taken and the (read, true) pairs still
    wrong. ``recalibrate_bn`` recomputes the BatchNorm statistics on the batch before each check: a CTC head leaves
    its all-blank plateau abruptly, the backbone's activations shift within a few steps and the running averages then
    lag the weights, so eval-mode readings would trail the model's by tens of steps."""
    words, images, targets = words_batch()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    accuracy, step, texts = 0.0, 0, []
    while accuracy < 1.0 and step < max_steps:
        model.train()
        for _ in range(CHECK_EVERY):
            loss = model(images, targets).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        step += CHECK_EVERY
        if recalibrate_bn:
            torch.optim.swa_utils.update_bn([images], model)
        model.eval()
        with torch.no_grad():
            texts = [p.text for p in decode(model(images), CHARSET)]
        accuracy = sum(t == w for t, w in zip(texts, words)) / len(words)
    return accuracy, step, [(t, w) for t, w in zip(texts, words) if t != w]


def assert_onnx_matches(model: nn.Module, path: Path) -> None:
    """Export ``model`` (logits, then its branches in sorted order) as ``sgtr.inference.onnx_export.export_onnx`` does
    — traced at batch 2 with a dynamic batch axis; ``export_onnx`` itself needs the model's name in the factory — and
    check that ONNX Runtime agrees with PyTorch within 1e-3 at batch 3 and that the graph has no control flow (loops
    were unrolled)."""
    model = model.eval()
    images = torch.rand(3, 3, 32, 128) * 2 - 1
    with torch.no_grad():
        expected = model(images)
    names = tuple(sorted(expected.branches))
    outputs = ["logits", *(f"branch_{n}" for n in names)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy-exporter notice and the tracer's constant-shape notes
        torch.onnx.export(LogitsGraph(model, names).eval(), (torch.zeros(2, 3, 32, 128),), str(path), dynamo=False,
                          opset_version=OPSET, input_names=["images"], output_names=outputs,
                          dynamic_axes={n: {0: "batch"} for n in ("images", *outputs)})
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    got = session.run(outputs, {"images": images.numpy()})
    for want, have in zip((expected.logits, *(expected.branches[n] for n in names)), got):
        np.testing.assert_allclose(have, want.numpy(), atol=1e-3, rtol=0)
    assert not {n.op_type for n in onnx.load(path).graph.node} & {"If", "Loop", "Scan"}
