"""CRNN host, alone and with GTR plugged in (``gtr: true``): the CTC host contract, its CTC loss, gradients into the
backbone, memorising 32 words, and reading through a weights file, ``sgtr evaluate``, ONNX Runtime and ``explain``."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from host_checks import CHARSET, train_until_read, words_batch
from host_helpers import check_onnx_parity, check_weights_and_evaluate, loss_reaches_backbone, with_gtr
from sgtr.engine.config import load_config
from sgtr.engine.trainer import charset_from_config, model_from_config
from sgtr.inference.explain import explain_figure
from sgtr.models.factory import build_model
from sgtr.models.hosts.crnn import CRNN, ctc_loss
from sgtr.models.plugin import GTRPlugin
from test_vr_synth import render_batch

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
K, T = CHARSET.num_classes, CHARSET.max_steps
NARROW = {"widths": (8, 16, 16, 32), "depths": (1, 1, 1, 1), "hidden": 16, "layers": 1}
# Memorising: wider than NARROW, and 16 frames (enough for the words of 3–8 characters): with 32 frames CTC sits on
# its all-blank plateau twice as long (all 32 words read at step ~330 instead of ~150).
OVERFIT = {"widths": (16, 32, 64, 128), "depths": (1, 1, 1, 1), "width_strides": (2, 2, 2, 1), "hidden": 128,
           "layers": 1}
MAX_STEPS = {False: 250, True: 250}


def test_small_preset_honours_the_ctc_host_contract():
    _, images, targets = words_batch(3)
    model = CRNN.from_preset(CHARSET)
    out = model(images, targets)
    assert out.ctc and out.logits.shape == (3, 32, K)  # one frame per 4 input columns
    assert out.features.shape == (3, model.feature_channels, 2, 32) == (3, 256, 2, 32)
    assert out.order_maps is None and out.branches == {} and "step_hidden" not in out.extras
    assert (model.hidden_width, model.language_branch, model.has_order_maps) == (0, None, False)
    assert set(out.losses) == {"ctc"} and torch.isfinite(out.loss)
    assert 1.5e6 < sum(p.numel() for p in model.parameters()) < 2.5e6


def test_ctc_loss_reads_the_label_without_eos_and_padding():
    _, _, targets = words_batch(3)
    logits = torch.randn(3, 32, K)
    labels = [row[row > 0] for row in targets.ids]
    expected = F.ctc_loss(logits.log_softmax(-1).transpose(0, 1), torch.cat(labels), torch.full((3,), 32),
                          torch.tensor([len(label) for label in labels]))
    torch.testing.assert_close(ctc_loss(logits, targets.ids), expected)


@pytest.mark.parametrize("gtr", [False, True], ids=["crnn", "crnn+gtr"])
def test_loss_reaches_the_backbone(gtr):
    assert loss_reaches_backbone("crnn", with_gtr(NARROW, gtr))


@pytest.mark.parametrize("gtr", [False, True], ids=["crnn", "crnn+gtr"])
def test_memorises_32_words(gtr):
    # Seeded: CRNN alone reads all 32 at step 150 (the CTC plateau lasts ~90); with GTR the fused output does at 100.
    model = build_model("crnn", CHARSET, **with_gtr(OVERFIT, gtr))
    accuracy, step, wrong = train_until_read(model, MAX_STEPS[gtr], lr=2e-3, recalibrate_bn=True)
    assert accuracy == 1.0, f"{accuracy:.0%} after {step} steps; wrong (read, true): {wrong}"


@pytest.mark.parametrize("gtr", [False, True], ids=["crnn", "crnn+gtr"])
def test_weights_file_reads_and_evaluates(gtr, tmp_path, capsys):
    check_weights_and_evaluate("crnn", with_gtr(NARROW, gtr), tmp_path, capsys)


@pytest.mark.parametrize("gtr", [False, True], ids=["crnn", "crnn+gtr"])
def test_onnx_export_matches_pytorch(gtr, tmp_path):
    check_onnx_parity("crnn", with_gtr(NARROW, gtr), tmp_path)


def test_explain_draws_the_plugged_model():
    _, images, _ = words_batch(1)
    model = build_model("crnn", CHARSET, **with_gtr(NARROW, True)).eval()
    with torch.no_grad():
        out = model(images)
    image = ((images[0].permute(1, 2, 0) + 1) * 127.5).byte().numpy()
    figure = explain_figure(image, out, CHARSET)
    titles = " ".join(ax.get_title(loc="left") for ax in figure.axes)
    assert all(panel in titles for panel in ("segmentation", "graph", "branch readings", "fusion gate"))


@pytest.mark.parametrize("name", ["crnn_small", "crnn_gtr_small"])
def test_configs_build_and_train_a_step(name):
    config = load_config(CONFIGS / f"{name}.yaml")
    charset = charset_from_config(config)
    model = model_from_config(config, charset)
    assert isinstance(model, GTRPlugin) == ("gtr" in name)
    images, targets = render_batch(["hello", "x1"], charset)
    out = model(images, targets)
    out.loss.backward()
    assert torch.isfinite(out.loss)
    assert config["data"] == load_config(CONFIGS / "sgtr_small.yaml")["data"]
