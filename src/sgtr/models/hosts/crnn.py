"""CRNN (Shi et al. 2017, in the VGG-BiLSTM-CTC form of Baek et al.'s benchmark): the CTC host of the plug-in.

Tensor flow: images → VGG-style stages (3×3 ConvBNAct ×depth, then max-pooling that halves the height and divides
the width by the stage's ``width_strides``) → ``features`` (B, D, H/2^stages, W/∏width_strides), the last 2-D map
→ mean over its height → BiLSTM over the F columns → Linear → CTC frame logits (B, F, K), class 0 = blank.

At 32×128 the ``small`` preset gives a (B, 256, 2, 32) feature map and F = 32 frames (one per 4 input columns), 1.9M
parameters. It has no per-step attention and no step-aligned hidden state, so the plug-in learns order maps for it
and pools the frames into steps (see ``sgtr.models.plugin``). Its loss is ``ctc`` (``sgtr.models.losses.ctc_loss``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from sgtr.data.charset import Charset
from sgtr.models.backbones.ppocr import BackboneChoice
from sgtr.models.hosts.common import ctc_output, preset_config
from sgtr.models.layers import ConvBNAct
from sgtr.models.output import RecognizerOutput, Targets


@dataclass(frozen=True)
class CRNNConfig(BackboneChoice):
    """Architecture; any input size runs."""

    widths: tuple[int, ...] = (32, 64, 128, 256)  # per stage; each stage halves the height
    depths: tuple[int, ...] = (1, 1, 2, 2)  # 3×3 convs per stage
    width_strides: tuple[int, ...] = (2, 2, 1, 1)  # horizontal pooling per stage: 128 columns → 32 frames
    hidden: int = 128  # BiLSTM units per direction
    layers: int = 2  # BiLSTM layers
    blank_prior: float = 0.8  # initial P(blank) at every frame, the rest spread evenly over the characters


PRESETS: dict[str, CRNNConfig] = {
    "small": CRNNConfig(),
    # Shi et al.'s widths (64 → 512) and 256-unit BiLSTMs, for GPUs.
    "base": CRNNConfig(widths=(64, 128, 256, 512), hidden=256),
}


class LastMap(nn.Module):
    """A multi-scale backbone reduced to its deepest map, as the VGG stages give one."""

    def __init__(self, stages: nn.Module):
        super().__init__()
        self.stages = stages

    def forward(self, images: Tensor) -> Tensor:
        return self.stages(images)[-1]


class CRNN(nn.Module):
    """``forward(images (B, 3, H, W) in [-1, 1], targets=None) -> RecognizerOutput`` with CTC ``logits``."""

    hidden_width = 0  # no per-step hidden state: CTC frames are not steps
    language_branch = None
    has_order_maps = False

    def __init__(self, charset: Charset, config: CRNNConfig | None = None):
        super().__init__()
        self.config = config = config or CRNNConfig()
        if not (len(config.widths) == len(config.depths) == len(config.width_strides)):
            raise ValueError(f"widths {config.widths}, depths {config.depths} and width_strides "
                             f"{config.width_strides} must have one entry per stage")
        layers: list[nn.Module] = []
        prev = 3
        for width, depth, stride in zip(config.widths, config.depths, config.width_strides):
            layers += [ConvBNAct(prev if i == 0 else width, width, 3) for i in range(depth)]
            layers.append(nn.MaxPool2d((2, stride), (2, stride)))
            prev = width
        pretrained = config.pretrained_stages()
        if pretrained is None:
            self.backbone = nn.Sequential(*layers)
        else:  # the deepest pretrained map; the VGG stages listed above are not kept
            self.backbone, prev = LastMap(pretrained), pretrained.channels[-1]
        self.feature_channels = prev
        self.frame_channels = 2 * config.hidden
        self.rnn = nn.LSTM(prev, config.hidden, config.layers, batch_first=True, bidirectional=True)
        self.classifier = nn.Linear(2 * config.hidden, charset.num_classes)
        # The CTC plateau: from a uniform start the first thing CTC learns is "blank everywhere", and a from-scratch
        # CRNN then sat there for thousands of steps. Starting at the alignment's own statistics — a word of ~6
        # characters emits on about 1 frame in 5 of 32, so P(blank) ≈ 0.8 — skips that phase: the bias holds the
        # log-prior, so the initial frame distribution is the prior. On 512 rendered words a small CRNN left the
        # plateau after ~100 steps (Adam, lr 1e-3; ~60 % read at step 225), where the default start was still on
        # it at step 400 (``tests/test_host_crnn.py``).
        if not 0 < config.blank_prior < 1:
            raise ValueError(f"blank_prior must be in (0, 1), got {config.blank_prior}")
        with torch.no_grad():
            k = charset.num_classes
            self.classifier.bias.fill_(math.log((1 - config.blank_prior) / (k - 1)))
            self.classifier.bias[0] = math.log(config.blank_prior)

    @classmethod
    def from_preset(cls, charset: Charset, preset: str = "small", **overrides) -> "CRNN":
        return cls(charset, preset_config(PRESETS, preset, "CRNN", overrides))

    def forward(self, images: Tensor, targets: Targets | None = None) -> RecognizerOutput:
        features = self.backbone(images)
        frames, _ = self.rnn(features.mean(dim=2).transpose(1, 2))  # (B, F, 2·hidden)
        logits = self.classifier(frames)
        return ctc_output(logits, features, frames, targets)
