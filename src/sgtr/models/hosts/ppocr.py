"""PP-OCRv6-small's text recognizer as an sgtr host: the pretrained CTC network every sgtr model can stand on.

Tensor flow: images (B, 3, 48, W) → ``PPOCRBackbone`` stages → ``features`` = the last stage's map (B, 384, 3, W/4),
the last 2-D map before the height collapse → average pooling 3×2 → (B, 384, 1, W/8) → the neck: a 1×1 conv
shortcut, and a 1×1 conv → 1×7 depthwise conv → two pre-norm transformer layers over the W/8 columns (8 heads, MLP
with SiLU), summed with the shortcut → linear head → CTC frame logits (B, W/8, K), class 0 = blank.

The head may give several rows to one class (``head_rows``: each row's class id). Importing the network for a
case-folded charset keeps both letter cases' rows and scores a class by the logsumexp of its rows, so its probability
is the sum of the pair's (``sgtr.models.backbones.ppocr_import``). Rows of characters the released network never
learnt start at a large negative bias, so they are not read until fine-tuning teaches them.

``freeze_stages`` (stem and the first N backbone stages get no gradient) and ``freeze_norm`` (BatchNorm layers of
the neck keep their running statistics in training) are the fine-tuning controls; ``backbone_lr`` is read by the
engine as a multiplier for the backbone's learning rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sgtr.data.charset import Charset
from sgtr.models.backbones.ppocr import PPOCRBackbone
from sgtr.models.hosts.common import ctc_output, preset_config
from sgtr.models.output import RecognizerOutput, Targets


@dataclass(frozen=True)
class PPOCRConfig:
    neck_width: int = 120
    layers: int = 2
    heads: int = 8
    mlp: int = 240
    head_rows: tuple[int, ...] | None = None  # class id of each head row; None = one row per class
    freeze_stages: int = -1  # −1 trains everything; 0 freezes the stem; N the stem and the first N stages
    freeze_norm: bool = False
    backbone_lr: float = 1.0


PRESETS: dict[str, PPOCRConfig] = {"small": PPOCRConfig()}


class ConvNormSiLU(nn.Sequential):
    def __init__(self, cin: int, cout: int, kernel: tuple[int, int] = (1, 1), groups: int = 1):
        pad = (kernel[0] // 2, kernel[1] // 2)
        super().__init__(nn.Conv2d(cin, cout, kernel, 1, pad, groups=groups, bias=False), nn.BatchNorm2d(cout),
                         nn.SiLU())


class MixerLayer(nn.Module):
    """Pre-norm transformer layer: x + attention(LN x), then x + MLP(LN x) with SiLU."""

    def __init__(self, width: int, heads: int, mlp: int):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(width, eps=1e-5)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.norm2 = nn.LayerNorm(width, eps=1e-5)
        self.mlp_in = nn.Linear(width, mlp)
        self.mlp_out = nn.Linear(mlp, width)

    def forward(self, x: Tensor) -> Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        attended = F.scaled_dot_product_attention(q, k, v)
        x = x + self.proj(attended.transpose(1, 2).reshape(b, n, d))
        return x + self.mlp_out(F.silu(self.mlp_in(self.norm2(x))))


class CaseGroupedHead(nn.Module):
    """Linear rows → class logits; a class with several rows gets the logsumexp of them."""

    def __init__(self, width: int, num_classes: int, head_rows: tuple[int, ...] | None):
        super().__init__()
        rows = tuple(range(num_classes)) if head_rows is None else tuple(head_rows)
        if sorted(set(rows)) != list(range(num_classes)):
            raise ValueError(f"head_rows must name every class 0..{num_classes - 1} at least once")
        self.linear = nn.Linear(width, len(rows))
        self.grouped = len(rows) != num_classes
        if self.grouped:
            per_class: list[list[int]] = [[] for _ in range(num_classes)]
            for row, cls in enumerate(rows):
                per_class[cls].append(row)
            depth = max(map(len, per_class))
            index = torch.tensor([g + [g[0]] * (depth - len(g)) for g in per_class])
            valid = torch.tensor([[i < len(g) for i in range(depth)] for g in per_class])
            self.register_buffer("index", index, persistent=False)
            self.register_buffer("valid", valid, persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        logits = self.linear(x)
        if not self.grouped:
            return logits
        gathered = logits[..., self.index]  # (..., K, depth)
        return gathered.masked_fill(~self.valid, float("-inf")).logsumexp(dim=-1)


class PPOCRRecognizer(nn.Module):
    """``forward(images (B, 3, H, W) in [-1, 1], targets=None) -> RecognizerOutput`` with CTC ``logits``."""

    hidden_width = 0
    language_branch = None
    has_order_maps = False

    def __init__(self, charset: Charset, config: PPOCRConfig | None = None):
        super().__init__()
        self.config = config = config or PPOCRConfig()
        self.backbone = PPOCRBackbone()
        deepest = self.backbone.channels[-1]
        self.feature_channels = deepest
        self.frame_channels = config.neck_width
        self.shortcut = ConvNormSiLU(deepest, config.neck_width)
        self.reduce = ConvNormSiLU(deepest, config.neck_width)
        self.local = ConvNormSiLU(config.neck_width, config.neck_width, (1, 7), groups=config.neck_width)
        self.mixer = nn.ModuleList(MixerLayer(config.neck_width, config.heads, config.mlp)
                                   for _ in range(config.layers))
        self.norm = nn.LayerNorm(config.neck_width, eps=1e-5)
        self.head = CaseGroupedHead(config.neck_width, charset.num_classes, config.head_rows)
        self.backbone.freeze(config.freeze_stages)

    @classmethod
    def from_preset(cls, charset: Charset, preset: str = "small", **overrides) -> "PPOCRRecognizer":
        return cls(charset, preset_config(PRESETS, preset, "PP-OCR", overrides))

    def train(self, mode: bool = True) -> "PPOCRRecognizer":
        super().train(mode)
        if mode and self.config.freeze_norm:
            for m in self.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()
        return self

    def forward(self, images: Tensor, targets: Targets | None = None) -> RecognizerOutput:
        features = self.backbone(images)[-1]
        pooled = F.avg_pool2d(features, (3, 2), (3, 2)) if features.shape[2] >= 3 else \
            F.avg_pool2d(features, (features.shape[2], 2), (features.shape[2], 2))
        shortcut = self.shortcut(pooled)
        z = self.reduce(pooled)
        z = z + self.local(z)
        b, d, h, w = z.shape
        tokens = z.flatten(2).transpose(1, 2)  # (B, h·w, D)
        for layer in self.mixer:
            tokens = layer(tokens)
        tokens = self.norm(tokens).transpose(1, 2).reshape(b, d, h, w) + shortcut
        frames = tokens.mean(dim=2).transpose(1, 2)  # h is 1 at height 48; mean keeps other heights running
        logits = self.head(frames)
        return ctc_output(logits, features, frames, targets)
