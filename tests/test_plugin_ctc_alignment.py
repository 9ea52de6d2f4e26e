"""The plug-in's order maps from a CTC host's own alignment (``order_source: ctc``) and the detached CTC reading:
GTR's subgraphs sit where the host's characters are from the first step, and no plug-in loss teaches the host's
frames through an argmax alignment."""

from __future__ import annotations

import pytest
import torch

from sgtr.data.charset import Charset
from sgtr.inference.onnx_export import export_onnx
from sgtr.inference.predictor import Recognizer
from sgtr.inference.spec import ModelSpec
from sgtr.models.factory import build_model
from sgtr.models.output import Targets
from sgtr.models.plugin import ctc_alignment_maps

CHARSET = Charset.from_spec("36", max_length=8)
K, T = CHARSET.num_classes, CHARSET.max_steps
CRNN = {"widths": (8, 16, 16, 32), "depths": (1, 1, 1, 1), "hidden": 16, "layers": 1}


def frames_reading(emits: dict[int, int], frames: int = 16) -> torch.Tensor:
    """(1, F, K) frame logits: blank everywhere except class ``emits[f]`` at frame f."""
    logits = torch.full((1, frames, K), -5.0)
    logits[0, :, 0] = 5
    for f, cls in emits.items():
        logits[0, f, cls] = 10
    return logits


def test_alignment_maps_sum_to_one_per_step():
    maps = ctc_alignment_maps(frames_reading({2: 5, 7: 6, 11: 7}), T, (4, 32))
    assert maps.shape == (1, T, 4, 32)
    torch.testing.assert_close(maps.sum(dim=(2, 3)), torch.ones(1, T))


def test_each_character_map_covers_its_emitting_frame():
    maps = ctc_alignment_maps(frames_reading({2: 5, 7: 6, 11: 7}), T, (4, 16))  # one column per frame
    columns = maps[0].sum(dim=1)  # (T, W')
    for step, frame in enumerate((2, 7, 11)):
        assert columns[step].nonzero().flatten().tolist() == [frame]


def test_a_reach_widens_each_character_map_by_that_many_frames():
    maps = ctc_alignment_maps(frames_reading({2: 5, 7: 6, 11: 7}), T, (4, 16), reach=1)
    columns = maps[0].sum(dim=1)
    for step, frame in enumerate((2, 7, 11)):
        assert columns[step].nonzero().flatten().tolist() == [frame - 1, frame, frame + 1]


def test_steps_after_the_reading_look_at_the_frames_after_the_word():
    maps = ctc_alignment_maps(frames_reading({2: 5, 7: 6}), T, (4, 16), reach=1)
    columns = maps[0].sum(dim=1)
    for step in range(2, T):  # not the gap between the characters (frames 4, 5): only after the last one's reach
        assert columns[step].nonzero().flatten().tolist() == list(range(9, 16))


def test_an_empty_reading_sends_every_step_everywhere():
    maps = ctc_alignment_maps(frames_reading({}), T, (2, 16))
    torch.testing.assert_close(maps, torch.full((1, T, 2, 16), 1 / 32))


def test_adjacent_characters_split_the_frames_between_them():
    maps = ctc_alignment_maps(frames_reading({4: 5, 6: 6}), T, (2, 16), reach=1)
    columns = maps[0].sum(dim=1)
    assert columns[0].nonzero().flatten().tolist() == [3, 4, 5]  # frame 5 is equally near both: shared
    assert columns[1].nonzero().flatten().tolist() == [5, 6, 7]


def test_a_word_that_reaches_the_last_frame_sends_the_later_steps_everywhere():
    maps = ctc_alignment_maps(frames_reading({0: 5, 3: 6}, frames=4), T, (2, 4))
    torch.testing.assert_close(maps[0, 2], torch.full((2, 4), 1 / 8))


def test_plugged_ctc_host_with_alignment_maps_builds_no_order_head_and_no_slot_loss():
    torch.manual_seed(0)
    model = build_model("crnn", CHARSET, gtr=True, plugin={"order_source": "ctc"}, **CRNN)
    assert model.order is None
    out = model(torch.rand(2, 3, 32, 128) * 2 - 1, Targets(CHARSET.encode_batch(["ab", "cde"])))
    assert "slots" not in out.losses and "order" not in out.losses
    expected = ctc_alignment_maps(out.extras["host_frames"], T, out.features.shape[-2:])
    torch.testing.assert_close(out.order_maps, expected)


def test_alignment_maps_need_a_ctc_host():
    model = build_model("trba", CHARSET, gtr=True, plugin={"order_source": "ctc"})
    assert model.order is None  # TRBA has attention maps of its own, which the plug-in keeps
    with pytest.raises(ValueError, match="order_source"):
        build_model("crnn", CHARSET, gtr=True, plugin={"order_source": "attention"}, **CRNN)


@pytest.mark.parametrize("order_source", ["learned", "ctc"])
def test_the_fused_loss_does_not_reach_the_host_through_its_ctc_reading(order_source):
    torch.manual_seed(0)
    model = build_model("crnn", CHARSET, gtr=True, plugin={"order_source": order_source, "ctc_fusion": "reading",
                                                          "schedule": {"fusion_from_lm": True}}, **CRNN)
    out = model(torch.rand(2, 3, 32, 128) * 2 - 1, Targets(CHARSET.encode_batch(["ab", "cde"])))
    weight = model.host.classifier.weight  # the CTC head: reached by the reading alone (GTR reaches the CNN)
    out.losses["fused"].backward(retain_graph=True)
    assert weight.grad is None or not weight.grad.any()
    out.losses["ctc"].backward()
    assert weight.grad is not None and weight.grad.any()


def test_alignment_maps_export_to_onnx_and_agree(tmp_path):
    """The alignment is argmax, cumsum and a nearest-frame choice, all ONNX operators: the plug-in as
    ``configs/ppocr_gtr_frozen.yaml`` configures it (alignment maps, frame features, mixture) reads in ONNX Runtime
    what it reads in PyTorch."""
    torch.manual_seed(0)
    options = {"gtr": True, "plugin": {"order_source": "ctc", "ctc_fusion": "reading", "fusion": "mixture",
                                       "frame_features": True}, **CRNN}
    spec = ModelSpec("crnn", CHARSET, (32, 128), "small", options)
    model = spec.build().eval()
    path = export_onnx(model, spec, tmp_path / "crnn_aligned.onnx", branches=True)
    images = torch.rand(3, 3, 32, 128) * 2 - 1
    with torch.no_grad():
        expected = model(images)
    got = Recognizer(path, threads=1).runtime(images)
    torch.testing.assert_close(got.branches["ctc"], expected.branches["ctc"], atol=1e-4, rtol=1e-4)
    # GTR picks pixels with top-k; on an untrained model's flat maps, ulp-close scores may rank differently.
    assert (got.logits.argmax(-1) == expected.logits.argmax(-1)).float().mean() > 0.9


def test_frame_features_widen_the_plugin_features_by_the_hosts_frame_channels():
    torch.manual_seed(0)
    model = build_model("crnn", CHARSET, gtr=True, plugin={"frame_features": True}, **CRNN).eval()
    images = torch.rand(2, 3, 32, 128) * 2 - 1
    with torch.no_grad():
        out = model(images)
        host = model.host(images)
    d = model.host.feature_channels
    assert out.features.shape[1] == d + model.host.frame_channels
    frames = host.extras["frame_features"]  # (B, F, D_f); every grid column holds the frame it lies in
    f, w = frames.shape[1], out.features.shape[-1]
    column = torch.arange(w) * f // w
    for row in range(out.features.shape[2]):
        torch.testing.assert_close(out.features[:, d:, row].transpose(1, 2), frames[:, column])


def test_frame_features_need_a_host_that_has_them():
    with pytest.raises(ValueError, match="frame_features"):
        build_model("trba", CHARSET, gtr=True, plugin={"frame_features": True})


def test_the_plugin_passes_its_alignment_reach_to_the_maps():
    torch.manual_seed(0)
    model = build_model("crnn", CHARSET, gtr=True, plugin={"order_source": "ctc", "alignment_reach": 2}, **CRNN)
    out = model.eval()(torch.rand(2, 3, 32, 128) * 2 - 1)
    expected = ctc_alignment_maps(out.extras["host_frames"], T, out.features.shape[-2:], reach=2)
    torch.testing.assert_close(out.order_maps, expected)
    with pytest.raises(ValueError, match="alignment_reach"):
        build_model("crnn", CHARSET, gtr=True, plugin={"order_source": "ctc", "alignment_reach": -1}, **CRNN)
