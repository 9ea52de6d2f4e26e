"""What the host recognizers (TRBA, SRN, ABINet) share, so each host file holds only its own architecture.

``preset_config``: a named preset with checked overrides. ``VisualEncoder``: the ResNet's deepest level, optionally
refined by transformer layers over its pixels — SRN's and ABINet's backbone (ResNet + transformer units), and TRBA's
with no layers. ``GatedUnit``: the per-step gated fusion of two feature streams that SRN calls VSFD and ABINet its
alignment model. Their losses live in ``sgtr.models.losses``.
"""

from __future__ import annotations

from typing import Mapping, Sequence, TypeVar

import torch
from torch import Tensor, nn

from sgtr.models.backbones.ppocr import BackboneChoice
from sgtr.models.layers import ResNet, sinusoid_grid
from sgtr.models.losses import ctc_loss
from sgtr.models.output import RecognizerOutput, Targets
from sgtr.models.overrides import replace_checked

C = TypeVar("C")


def ctc_output(logits: Tensor, features: Tensor, frames: Tensor, targets: Targets | None) -> RecognizerOutput:
    """A CTC host's output: frame ``logits`` (B, F, K), its last 2-D ``features``, the ``frames`` (B, F, D_f) its
    classifier reads (``extras["frame_features"]``), and with ``targets`` its CTC loss."""
    out = RecognizerOutput(logits=logits, ctc=True, features=features, extras={"frame_features": frames})
    if targets is not None:
        out.losses = {"ctc": ctc_loss(logits, targets.ids)}
        out.loss = out.losses["ctc"]
    return out


def preset_config(presets: Mapping[str, C], preset: str, what: str, overrides: dict) -> C:
    """``presets[preset]`` with ``overrides`` applied; unknown preset or field names raise ``ValueError`` listing the
    valid ones."""
    if preset not in presets:
        raise ValueError(f"unknown {what} preset {preset!r}; choose one of: {', '.join(presets)}")
    return replace_checked(presets[preset], f"{what} option", overrides)


class VisualEncoder(nn.Module):
    """(B, 3, H, W) → (B, D, H/s, W/s): the deepest ``ResNet`` level, then ``layers`` post-LN transformer encoder layers
    over its pixels with 2-D sinusoidal positions added (SRN's "transformer units", ABINet's vision model); with no
    layers it is the plain ResNet map. ``channels`` is D, the last stage's width."""

    def __init__(self, stem: Sequence[int], widths: Sequence[int], depths: Sequence[int], strides: Sequence[int],
                 layers: int = 0, heads: int = 4, ffn: int = 256, dropout: float = 0.1,
                 choice: BackboneChoice | None = None):
        super().__init__()
        pretrained = (choice or BackboneChoice()).pretrained_stages()
        # One CNN under one of two names, so files written with the ResNet keep their tensor names.
        if pretrained is None:
            self.resnet = ResNet(stem, widths, depths, strides)
        else:
            self.pretrained = pretrained
        self.channels = self.cnn.channels[-1]
        self.transformer = None
        if layers:
            layer = nn.TransformerEncoderLayer(self.channels, heads, ffn, dropout, batch_first=True)
            # No padding mask, so nested tensors would never apply.
            self.transformer = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)

    @property
    def cnn(self) -> nn.Module:
        return self.resnet if hasattr(self, "resnet") else self.pretrained

    def forward(self, images: Tensor) -> Tensor:
        features = self.cnn(images)[-1]
        if self.transformer is None:
            return features
        b, d, h, w = features.shape
        positions = sinusoid_grid(h, w, d, device=features.device).flatten(1).t()  # (h·w, D)
        pixels = self.transformer(features.flatten(2).transpose(1, 2) + positions)
        return pixels.transpose(1, 2).reshape(b, d, h, w)


class GatedUnit(nn.Module):
    """``forward(a (B, T, d_a), b (B, T, d_b)) -> (logits (B, T, K), fused (B, T, d_a))``: b' = b projected to d_a (the
    identity when the widths match), z = σ(W_z [a; b']), fused = z ⊙ a + (1 − z) ⊙ b', logits = W fused.

    SRN's visual-semantic fusion decoder (a = visual glimpses, b = GSRM features) and ABINet's alignment (a = vision,
    b = language). ``sgtr.models.fusion.GatedFusion`` is the same unit for S-GTR's LM/GTR pair; hosts need the fused
    state itself too (it is their ``step_hidden``), hence this variant."""

    def __init__(self, a_width: int, b_width: int, num_classes: int):
        super().__init__()
        self.project = nn.Identity() if a_width == b_width else nn.Linear(b_width, a_width)
        self.gate = nn.Linear(2 * a_width, a_width)
        self.classifier = nn.Linear(a_width, num_classes)

    def forward(self, a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
        b = self.project(b)
        z = torch.sigmoid(self.gate(torch.cat((a, b), dim=-1)))
        fused = z * a + (1 - z) * b
        return self.classifier(fused), fused


