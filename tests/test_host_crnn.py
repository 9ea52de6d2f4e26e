"""CRNN host: the CTC host contract, its CTC loss, and ``explain`` drawing it with GTR plugged in. What every host
shares (gradients, memorising, weights files, ONNX, configs) is tested in ``test_hosts``."""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F

from sgtr.data.batching import Targets
from sgtr.inference.explain import explain_figure
from sgtr.models.decoding import decode
from sgtr.models.factory import build_model
from sgtr.models.hosts.crnn import CRNN
from sgtr.models.losses import ctc_loss
from tests.helpers.hosts import CHARSET, factory_options, words_batch
from tests.helpers.render import random_words, render_batch

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


def test_frames_start_at_the_blank_prior():
    model = CRNN.from_preset(CHARSET, blank_prior=0.8)
    bias = model.classifier.bias.softmax(-1)
    assert abs(bias[0].item() - 0.8) < 1e-6
    torch.testing.assert_close(bias[1:], torch.full((K - 1,), 0.2 / (K - 1)))


@pytest.mark.slow
def test_small_crnn_leaves_the_ctc_plateau_within_300_steps():
    # From the default uniform start this model was still on the plateau (loss ~3.8, nothing read) at step 400;
    # from the blank prior it reads half of its words by step ~200 (~30 s on one thread).
    words = random_words(512, CHARSET, random.Random(0))
    images, targets = render_batch(words, CHARSET)
    model = CRNN.from_preset(CHARSET, widths=(16, 32, 64, 64), hidden=64)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    g = torch.Generator().manual_seed(0)
    read = 0.0
    for step in range(1, 301):
        batch = torch.randint(0, len(words), (32,), generator=g)
        model.train()
        loss = model(images[batch], Targets(targets.ids[batch])).loss
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
        if step % 25 == 0:
            model.eval()
            with torch.no_grad():
                predictions = decode(model(images[:128]), CHARSET)
            read = sum(p.text == w for p, w in zip(predictions, words)) / 128
            if read >= 0.5:
                break
    assert read >= 0.5, (step, read)
