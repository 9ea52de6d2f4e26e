"""Every host can stand on PP-OCRv6-small's pretrained stages (``backbone: ppocr``): it builds, reads a 48-high
batch, and trains through its frozen stages without changing them."""

from __future__ import annotations

import pytest
import torch

from sgtr.data.charset import PAD_ID, Charset
from sgtr.models.factory import build_model
from sgtr.models.output import Targets

CHARSET = Charset.from_spec("36", max_length=8)
HOSTS = ["crnn", "trba", "srn", "abinet"]


def targets(batch: int) -> Targets:
    ids = torch.full((batch, CHARSET.max_steps), PAD_ID)
    ids[:, :4] = torch.tensor([11, 12, 13, 0])
    return Targets(ids)


@pytest.mark.parametrize("host", HOSTS)
def test_host_on_pretrained_stages_reads_and_keeps_frozen_stages(host):
    model = build_model(host, CHARSET, backbone="ppocr", freeze_stages=1)
    pretrained = [m for m in model.modules() if type(m).__name__ == "PPOCRBackbone"]
    assert len(pretrained) == 1
    frozen = {k: v.clone() for k, v in pretrained[0].state_dict().items() if k.startswith(("stem", "stages.0"))}
    model.train()
    out = model(torch.rand(2, 3, 48, 160) * 2 - 1, targets(2))
    assert out.features.shape[1] == 384 and torch.isfinite(out.loss)
    out.loss.backward()
    torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1).step()
    after = pretrained[0].state_dict()
    assert all(torch.equal(after[k], v) for k, v in frozen.items())
    assert any(p.grad is not None for p in pretrained[0].stages[2].parameters())


def test_an_unknown_backbone_is_refused():
    with pytest.raises(ValueError, match="unknown backbone 'vgg'"):
        build_model("srn", CHARSET, backbone="vgg")


def test_plugged_host_on_pretrained_stages_runs():
    model = build_model("srn", CHARSET, backbone="ppocr", gtr=True).eval()
    with torch.no_grad():
        out = model(torch.rand(2, 3, 48, 160) * 2 - 1)
    assert out.logits.shape == (2, CHARSET.max_steps, CHARSET.num_classes)
