"""Checks of a host recognizer that go through the factory and the reading tools — weights file, ``Recognizer``,
``sgtr evaluate`` and ONNX Runtime — alone and wrapped in the GTR plug-in (``gtr: true``). ``test_host_crnn`` and
``test_host_pren`` import them; ``host_checks`` holds the checks of a host module on its own (and its charset)."""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image

from host_checks import CHARSET, words_batch
from sgtr.cli.main import main
from sgtr.inference.onnx_export import export_onnx
from sgtr.inference.predictor import Recognizer
from sgtr.inference.spec import ModelSpec
from sgtr.inference.weights import write_weights
from sgtr.models.factory import build_model
from test_vr_synth import render_batch, render_word

# Plug-in options for tests: narrow segmentation and ordering heads; GTR keeps its ``small`` graph.
TINY_PLUGIN = {"plugin": {"seg_channels": 16, "order_channels": 16}}
WORDS = ("abc", "hello", "x1")


def with_gtr(options: dict, gtr: bool) -> dict:
    """Factory options of the host alone, or wrapped in a narrow plug-in."""
    return {**options, "gtr": True, **TINY_PLUGIN} if gtr else options


def loss_reaches_backbone(name: str, options: dict) -> bool:
    """The host's loss — or, wrapped in the plug-in, GTR's own loss alone — gives its backbone gradients."""
    _, images, targets = words_batch(3)
    model = build_model(name, CHARSET, **options)
    out = model(images, targets)
    (out.losses["gtr"] if options.get("gtr") else out.loss).backward()
    backbone = (model.host if options.get("gtr") else model).backbone
    return any(p.grad is not None and p.grad.abs().sum() > 0 for p in backbone.parameters())


def word_folder(root: Path) -> Path:
    """A labels.tsv folder of ``WORDS`` rendered."""
    root.mkdir(parents=True, exist_ok=True)
    for i, word in enumerate(WORDS):
        Image.fromarray(render_word(word)[0]).save(root / f"{i}.png")
    (root / "labels.tsv").write_text("".join(f"{i}.png\t{w}\n" for i, w in enumerate(WORDS)), encoding="utf-8")
    return root


def check_weights_and_evaluate(name: str, options: dict, tmp_path: Path, capsys) -> None:
    """Saved as a weights file, the model reads like the one in memory, and ``sgtr evaluate --branches`` scores it and
    each of its branches."""
    spec = ModelSpec(name, CHARSET, (32, 128), "small", options)
    model = spec.build().eval()
    weights = write_weights(model, spec, tmp_path / f"{name}.safetensors")
    images, _ = render_batch(list(WORDS), CHARSET)
    with torch.no_grad():
        expected = model(images)
    loaded = Recognizer(weights, device="cpu").runtime(images)
    torch.testing.assert_close(loaded.logits, expected.logits)
    assert main(["evaluate", str(weights), str(word_folder(tmp_path / "words")), "--branches"]) == 0
    sources = [line.split(". Protocol")[0] for line in capsys.readouterr().out.splitlines()
               if line.startswith("Source:")]
    assert sources == [f"Source: {weights.name}{b}" for b in ("", *(f" [{n}]" for n in expected.branches))]


def check_onnx_parity(name: str, options: dict, tmp_path: Path) -> None:
    """``export_onnx`` (traced at batch 2) read back by ONNX Runtime at batch 3 gives PyTorch's logits and branches.
    GTR picks pixels with top-k, and on an untrained model's nearly flat maps two pixels' scores can differ by an ulp
    that the runtimes round differently, so the outputs GTR feeds must agree on most steps, not all (as for S-GTR in
    ``test_sgtr``)."""
    spec = ModelSpec(name, CHARSET, (32, 128), "small", options)
    model = spec.build().eval()
    path = export_onnx(model, spec, tmp_path / f"{name}.onnx", branches=True)
    images = torch.rand(3, 3, 32, 128) * 2 - 1
    with torch.no_grad():
        expected = model(images)
    got = Recognizer(path, threads=1).runtime(images)
    assert got.ctc == expected.ctc and set(got.branches) == set(expected.branches)
    for label, want, have in [("logits", expected.logits, got.logits),
                              *((n, expected.branches[n], got.branches[n]) for n in expected.branches)]:
        assert have.shape == want.shape, label
        close = ((have - want).abs() < 1e-4).all(dim=-1)
        fed_by_gtr = "gtr" in expected.branches and label in ("logits", "gtr", "fused")
        assert close.float().mean() > 0.8 if fed_by_gtr else close.all(), (label, close)
