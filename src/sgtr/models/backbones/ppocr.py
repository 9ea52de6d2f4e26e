"""The convolutional stages of PP-OCRv6-small's text recognizer, written as plain PyTorch modules.

The network (Baidu PaddleOCR, Apache-2.0) ships as an ONNX file inside the ``rapidocr`` wheel with its BatchNorm
folded into the convolutions; this module rebuilds the same computation from what that file shows, so the imported
weights (``sgtr.models.backbones.ppocr_import``) drop straight in:

* a stem (stride 4): 3×3/2 conv → a 2×2-conv branch beside a 2×2 max-pool, concatenated → 3×3/2 conv → 1×1 conv,
  all with ReLU;
* three stages of re-parameterised mobile blocks (a 3×3 depthwise conv, an optional squeeze-excitation gate, then a
  residual 1×1 feed-forward pair with GELU), each later stage opened by a downsampling step that halves the height
  only (depthwise 3×3 with stride (2, 1), then 1×1 convs that double the width).

For a 48-high input of width W the stages give maps of 96×12×W/4, 192×6×W/4 and 384×3×W/4: the height shrinks, the
horizontal resolution stays at one column per four input pixels, which is what reading text wants.

``BackboneChoice`` is the config mixin through which any recognizer picks these stages over its own CNN.
``PPOCRBackbone.forward`` returns every stage's map (shallowest first), so a recognizer can take the deepest one
(CTC hosts) or all of them (the VR's FPN). ``freeze(stages)`` stops gradients through the stem and the first
``stages`` stages.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass(frozen=True)
class PPOCRBackboneConfig:
    widths: tuple[int, ...] = (96, 192, 384)
    # Which blocks of each stage carry a squeeze-excitation gate (as in the released network).
    gates: tuple[tuple[bool, ...], ...] = ((True, False, False), (True, False, True, False, True, False), (True, False))
    stem_width: int = 48


class Stem(nn.Module):
    """(B, 3, H, W) → (B, 2·stem_width, H/4, W/4). The 2×2 convs and the pool pad one pixel right and below, so the
    branch keeps the size of its input."""

    def __init__(self, width: int):
        super().__init__()
        self.conv_in = nn.Conv2d(3, width, 3, 2, 1)
        self.branch_a = nn.Conv2d(width, width // 2, 2)
        self.branch_b = nn.Conv2d(width // 2, width, 2)
        self.merge = nn.Conv2d(2 * width, width, 3, 2, 1)
        self.expand = nn.Conv2d(width, 2 * width, 1)

    def forward(self, x: Tensor) -> Tensor:
        x = F.relu(self.conv_in(x))
        branch = F.relu(self.branch_a(F.pad(x, (0, 1, 0, 1))))
        branch = F.relu(self.branch_b(F.pad(branch, (0, 1, 0, 1))))
        # x ≥ 0 after the ReLU, so zero padding pools exactly like -inf padding would.
        pooled = F.max_pool2d(F.pad(x, (0, 1, 0, 1)), 2, 1)
        x = F.relu(self.merge(torch.cat((pooled, branch), dim=1)))
        return F.relu(self.expand(x))


class SqueezeExcite(nn.Module):
    """x · hardsigmoid(W₂ ReLU(W₁ mean(x))), reduction 4."""

    def __init__(self, channels: int):
        super().__init__()
        self.reduce = nn.Conv2d(channels, channels // 4, 1)
        self.expand = nn.Conv2d(channels // 4, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        return x * F.hardsigmoid(self.expand(F.relu(self.reduce(x.mean(dim=(2, 3), keepdim=True)))))


class MobileBlock(nn.Module):
    """t = gate(depthwise3×3(x)); t + W₂ GELU(W₁ t). The depthwise conv is the training-time 3×3 + 1×1 + identity
    branches folded into one, which is why it has no residual of its own."""

    def __init__(self, channels: int, gate: bool):
        super().__init__()
        self.mixer = nn.Conv2d(channels, channels, 3, 1, 1, groups=channels)
        self.gate = SqueezeExcite(channels) if gate else nn.Identity()
        self.ffn_in = nn.Conv2d(channels, 2 * channels, 1)
        self.ffn_out = nn.Conv2d(2 * channels, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        t = self.gate(self.mixer(x))
        return t + self.ffn_out(F.gelu(self.ffn_in(t)))


class Downsample(nn.Module):
    """Halves the height, keeps the width, doubles the channels: depthwise 3×3 stride (2, 1), then 1×1 → GELU → 1×1."""

    def __init__(self, channels: int):
        super().__init__()
        self.mixer = nn.Conv2d(channels, channels, 3, (2, 1), 1, groups=channels)
        self.widen = nn.Conv2d(channels, 2 * channels, 1)
        self.project = nn.Conv2d(2 * channels, 2 * channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.project(F.gelu(self.widen(self.mixer(x))))


class PPOCRBackbone(nn.Module):
    """``forward(images (B, 3, H, W) in [-1, 1], RGB) -> [stage maps]``; ``channels`` lists each map's width."""

    def __init__(self, config: PPOCRBackboneConfig | None = None):
        super().__init__()
        self.config = config = config or PPOCRBackboneConfig()
        if len(config.widths) != len(config.gates):
            raise ValueError(f"widths {config.widths} and gates {config.gates} must have one entry per stage")
        for prev, width in zip(config.widths, config.widths[1:]):
            if width != 2 * prev:
                raise ValueError(f"each stage doubles the width of the one before, got {config.widths}")
        if config.widths[0] != 2 * config.stem_width:
            raise ValueError(f"the first stage is twice the stem's width: {config.widths[0]} vs {config.stem_width}")
        self.stem = Stem(config.stem_width)
        self.stages = nn.ModuleList()
        for i, (width, gates) in enumerate(zip(config.widths, config.gates)):
            layers: list[nn.Module] = [Downsample(width // 2)] if i else []
            layers += [MobileBlock(width, gate) for gate in gates]
            self.stages.append(nn.Sequential(*layers))
        self.channels = tuple(config.widths)
        self.strides = tuple(4 * 2 ** i for i in range(len(config.widths)))  # height strides; width stays at 4
        self.frozen_stages = -1

    def forward(self, images: Tensor) -> list[Tensor]:
        x = self.stem(images)
        maps = []
        for stage in self.stages:
            x = stage(x)
            maps.append(x)
        return maps

    def freeze(self, stages: int) -> None:
        """Stop gradients through the stem and the first ``stages`` stages (0: the stem only; −1: nothing)."""
        self.frozen_stages = stages
        for i, part in enumerate([self.stem, *self.stages]):
            for p in part.parameters():
                p.requires_grad_(i > stages if stages >= 0 else True)


@dataclass(frozen=True)
class BackboneChoice:
    """Which CNN a recognizer sees through: its own from-scratch ResNet/VGG (``resnet``), or these pretrained stages
    (``ppocr``; their weights come from ``sgtr import ppocr``). ``freeze_stages`` (stem and the first N stages get no
    gradient) and ``backbone_lr`` (the engine's learning-rate multiplier for the model's ``backbone``) apply to the
    pretrained stages. The VR's and the hosts' configs inherit these fields."""

    backbone: str = "resnet"
    freeze_stages: int = -1
    backbone_lr: float = 1.0

    def pretrained_stages(self) -> PPOCRBackbone | None:
        """The pretrained stages (frozen as asked) when ``backbone`` is ``ppocr``, None for the host's own CNN."""
        if self.backbone not in ("resnet", "ppocr"):
            raise ValueError(f"unknown backbone {self.backbone!r}; choose resnet (the model's own) or ppocr")
        if self.backbone == "resnet":
            return None
        stages = PPOCRBackbone()
        stages.freeze(self.freeze_stages)
        return stages
