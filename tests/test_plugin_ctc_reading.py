"""The plug-in's ``ctc_fusion: reading`` for CTC hosts: the fusion reads the host's own greedy CTC reading, so with
the fusion starting at the host's output the plugged model reads exactly what its host reads."""

from __future__ import annotations

import pytest
import torch

from sgtr.data.charset import Charset
from sgtr.models.decoding import decode
from sgtr.models.factory import build_model
from sgtr.models.output import Targets

CHARSET = Charset.from_spec("36", max_length=8)
CRNN = {"widths": (8, 16, 16, 32), "depths": (1, 1, 1, 1), "hidden": 16, "layers": 1}


def test_reading_fusion_starts_at_the_hosts_ctc_reading():
    model = build_model("crnn", CHARSET, gtr=True, plugin={"ctc_fusion": "reading",
                                                          "schedule": {"fusion_from_lm": True}}, **CRNN).eval()
    images = torch.rand(4, 3, 32, 128) * 2 - 1
    with torch.no_grad():
        out = model(images)
        host = model.host(images)
    assert torch.equal(out.logits, out.branches["ctc"])
    assert [p.text for p in decode(out, CHARSET)] == [p.text for p in decode(host, CHARSET)]


def test_unknown_ctc_fusion_is_refused():
    with pytest.raises(ValueError, match="ctc_fusion"):
        build_model("crnn", CHARSET, gtr=True, plugin={"ctc_fusion": "vote"}, **CRNN)


def test_a_reading_shorter_than_its_label_gives_a_bounded_fused_loss():
    torch.manual_seed(0)
    model = build_model("crnn", CHARSET, gtr=True, plugin={"ctc_fusion": "reading",
                                                          "schedule": {"fusion_from_lm": True}}, **CRNN)
    images = torch.rand(4, 3, 32, 128) * 2 - 1
    out = model(images, Targets(CHARSET.encode_batch(["abcdefgh"] * 4)))  # an untrained host reads (almost) nothing
    assert out.losses["fused"].detach().item() < 25
