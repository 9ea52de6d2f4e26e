"""PREN (Yan et al., CVPR 2021, the 1-D "primitive representation" network): an attention-free step-wise host.

Tensor flow: images → ResNet backbone (``sgtr.models.layers.ResNet``, a plain stand-in for PREN's EfficientNet) →
three levels at strides 4, 8 and 16 (8×32, 4×16 and 2×8 at 32×128) → on every level two aggregators each turn the map
into n primitive representations (B, n, d_part):

* **pooling aggregator**: per primitive, two stride-2 3×3 ConvBNActs and a global average pool;
* **weighted aggregator**: n sigmoid weight maps and a d_part-channel value map, the primitive being the value map
  averaged under its weight map;

→ each aggregator's levels concatenated (B, n, d = 3·d_part) → primitives-to-slots decoder: a learned linear map over
the primitive axis (n → T, PREN's "GCN", whose adjacency is simply that learned matrix), Linear d → d, dropout, SiLU →
the two aggregators' slots averaged, the step hidden state (B, T, d) → Linear → logits (B, T, K), class 0 = EOS.

Batched rather than looped: the n pooling aggregators are one conv with n·d_mid outputs followed by a grouped conv
(``groups=n``), which is the same as n separate conv stacks. The weighted aggregator averages over pixels where PREN
sums, so its scale does not grow with the map size.

``features`` is the stride-4 level (8×32 at 32×128, as the spec's table takes PREN's f3); there are no order maps and
no language model, so the plug-in learns order maps for PREN and mutual learning pairs its head with GTR.
``step_hidden`` is the averaged slot state. Its loss is ``ce``, cross-entropy over the valid steps. ``small``: 3.0M
parameters.

``backbone: ppocr`` (from ``BackboneChoice``) puts the aggregators on PP-OCRv6-small's three pretrained stage maps
instead of the ResNet (stem, widths, depths and strides then unused): the maps the VR's FPN takes, at height strides
4, 8 and 16 and width stride 4 — 96×12×W/4, 192×6×W/4 and 384×3×W/4 at height 48, the first being ``features``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sgtr.data.charset import Charset
from sgtr.models.backbones.ppocr import BackboneChoice
from sgtr.models.hosts.common import preset_config
from sgtr.models.layers import ConvBNAct, ResNet
from sgtr.models.losses import sequence_loss
from sgtr.models.output import RecognizerOutput, Targets


@dataclass(frozen=True)
class PRENConfig(BackboneChoice):
    """Architecture; any input size runs."""

    stem: tuple[int, ...] = (32,)  # 3×3 conv widths; the first has stride 2
    widths: tuple[int, ...] = (64, 128, 160)  # residual stages; each is one aggregated level
    depths: tuple[int, ...] = (1, 2, 2)
    strides: tuple[int, ...] = (2, 2, 2)  # levels at strides 4, 8, 16; the first is ``features``
    primitives: int = 5  # n
    part: int = 64  # d_part, each level's share of a primitive's width
    pool_channels: int = 32  # middle width of each pooling-aggregator stack
    dropout: float = 0.1


PRESETS: dict[str, PRENConfig] = {
    "small": PRENConfig(),
    # PREN's 64×256 input, wider and deeper stages and primitives, for GPUs.
    "base": PRENConfig(stem=(32, 64), widths=(128, 256, 384), depths=(2, 3, 3), part=128,
                       pool_channels=64),
}


class PoolingAggregator(nn.Module):
    """(B, C, H, W) → (B, n, d): n stacks of two stride-2 3×3 convs, globally average-pooled, run as one grouped
    pair of convs."""

    def __init__(self, in_channels: int, primitives: int, middle: int, out: int):
        super().__init__()
        self.primitives = primitives
        self.convs = nn.Sequential(
            ConvBNAct(in_channels, primitives * middle, 3, stride=2),
            nn.Conv2d(primitives * middle, primitives * out, 3, 2, padding=1, groups=primitives, bias=False),
            nn.BatchNorm2d(primitives * out))

    def forward(self, x: Tensor) -> Tensor:
        # unflatten names no batch size, so ONNX keeps it dynamic
        return self.convs(x).mean(dim=(2, 3)).unflatten(1, (self.primitives, -1))


class WeightedAggregator(nn.Module):
    """(B, C, H, W) → (B, n, d): each primitive is the d-channel value map averaged under one sigmoid weight map."""

    def __init__(self, in_channels: int, primitives: int, out: int):
        super().__init__()
        self.weights = nn.Sequential(ConvBNAct(in_channels, in_channels, 3), nn.Conv2d(in_channels, primitives, 1),
                                     nn.BatchNorm2d(primitives), nn.Sigmoid())
        self.values = nn.Sequential(ConvBNAct(in_channels, out, 3), nn.Conv2d(out, out, 1, bias=False),
                                    nn.BatchNorm2d(out))

    def forward(self, x: Tensor) -> Tensor:
        weights, values = self.weights(x).flatten(2), self.values(x).flatten(2)
        return torch.einsum("bnp,bdp->bnd", weights, values) / weights.shape[-1]


class SlotDecoder(nn.Module):
    """(B, n, d) primitives → (B, T, d) slots: a learned n → T map over the primitives, then Linear, dropout, SiLU."""

    def __init__(self, primitives: int, steps: int, width: int, dropout: float):
        super().__init__()
        self.to_slots = nn.Linear(primitives, steps)
        self.linear = nn.Linear(width, width)
        self.dropout = nn.Dropout(dropout)

    def forward(self, primitives: Tensor) -> Tensor:
        slots = self.to_slots(primitives.transpose(1, 2)).transpose(1, 2)
        return F.silu(self.dropout(self.linear(slots)))


class PREN(nn.Module):
    """``forward(images (B, 3, H, W) in [-1, 1], targets=None) -> RecognizerOutput`` (see the module docstring)."""

    language_branch = None
    has_order_maps = False

    def __init__(self, charset: Charset, config: PRENConfig | None = None):
        super().__init__()
        self.config = config = config or PRENConfig()
        pretrained = config.pretrained_stages()
        self.backbone = pretrained if pretrained is not None else ResNet(config.stem, config.widths, config.depths,
                                                                          config.strides)
        # The aggregated levels are the backbone's last maps: the ResNet's residual stages (its stem map is not
        # aggregated), or every pretrained stage (they return no stem map).
        self.levels = len(config.widths) if pretrained is None else len(pretrained.channels)
        levels = self.backbone.channels[-self.levels:]
        n, part = config.primitives, config.part
        self.pooling = nn.ModuleList(PoolingAggregator(c, n, config.pool_channels, part) for c in levels)
        self.weighted = nn.ModuleList(WeightedAggregator(c, n, part) for c in levels)
        self.hidden_width = width = part * len(levels)
        self.pooled_slots = SlotDecoder(n, charset.max_steps, width, config.dropout)
        self.weighted_slots = SlotDecoder(n, charset.max_steps, width, config.dropout)
        self.classifier = nn.Linear(width, charset.num_classes)
        self.feature_channels = levels[0]

    @classmethod
    def from_preset(cls, charset: Charset, preset: str = "small", **overrides) -> "PREN":
        return cls(charset, preset_config(PRESETS, preset, "PREN", overrides))

    def forward(self, images: Tensor, targets: Targets | None = None) -> RecognizerOutput:
        levels = self.backbone(images)[-self.levels:]
        pooled = torch.cat([agg(x) for agg, x in zip(self.pooling, levels)], dim=-1)
        weighted = torch.cat([agg(x) for agg, x in zip(self.weighted, levels)], dim=-1)
        hidden = (self.pooled_slots(pooled) + self.weighted_slots(weighted)) / 2
        logits = self.classifier(hidden)
        out = RecognizerOutput(logits=logits, features=levels[0], extras={"step_hidden": hidden})
        if targets is not None:
            out.losses = {"ce": sequence_loss(logits, targets.ids)}
            out.loss = out.losses["ce"]
        return out
