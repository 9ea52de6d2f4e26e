"""CRNN host: the CTC host contract, its CTC loss, and ``explain`` drawing it with GTR plugged in. What every host
shares (gradients, memorising, weights files, ONNX, configs) is tested in ``test_hosts``."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from sgtr.inference.explain import explain_figure
from sgtr.models.factory import build_model
from sgtr.models.hosts.crnn import CRNN
from sgtr.models.losses import ctc_loss
from tests.helpers.hosts import CHARSET, factory_options, words_batch

K = CHARSET.num_classes


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


def test_explain_draws_the_plugged_model():
    _, images, _ = words_batch(1)
    model = build_model("crnn", CHARSET, **factory_options("crnn", True)).eval()
    with torch.no_grad():
        out = model(images)
    image = ((images[0].permute(1, 2, 0) + 1) * 127.5).byte().numpy()
    figure = explain_figure(image, out, CHARSET)
    titles = " ".join(ax.get_title(loc="left") for ax in figure.axes)
    assert all(panel in titles for panel in ("segmentation", "graph", "branch readings", "fusion gate"))
