"""The tiny VR the reading, weights and engine tests share: its options, and an untrained instance whose BatchNorm
statistics are scrambled so that its (meaningless) readings differ from image to image — no training needed."""

from __future__ import annotations

import torch

from sgtr.data.charset import Charset
from sgtr.inference.spec import ModelSpec
from sgtr.models.factory import build_model

TINY_MODEL = {"stem": [8], "widths": [16, 16, 32], "depths": [1, 1, 1], "fpn_channels": 16}


def tiny_model(seed: int = 2) -> tuple[ModelSpec, torch.nn.Module]:
    charset = Charset.from_spec("36")
    torch.manual_seed(seed)
    model = build_model("vr", charset, **TINY_MODEL)
    with torch.no_grad():  # fresh BatchNorm statistics make every image read the same; scrambled ones do not
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_var.uniform_(0.02, 0.2)
                module.running_mean.normal_(0, 0.2)
        model.seg_head[-1].weight.mul_(3)
        model.seg_head[-1].bias[0] += 60  # background (= EOS) wins often enough for readings of many lengths
    return ModelSpec("vr", charset, (32, 128), "small", TINY_MODEL), model.eval()
