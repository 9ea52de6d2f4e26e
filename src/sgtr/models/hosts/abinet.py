"""ABINet-LV (Fang et al., CVPR 2021, "Read like humans: autonomous, bidirectional and iterative language modeling for
scene text recognition"), a host S-GTR plugs GTR into: a vision model, a bidirectional language model that
re-reads the vision prediction, and an alignment gate, iterated.

Tensor flow: images (B, 3, H, W) → ResNet + transformer layers → features V (B, D, H', W'), 8×32 for ``small`` →
position attention: keys from a mini U-Net over V, queries from a sinusoidal encoding of the step
(``PositionAttention``) → maps A (B, T, H', W') → glimpses G_t = Σ_p A_t(p) V_p → ``vision`` logits = Linear(G) →
``iterations`` times: language model over the current prediction's probabilities → (``lm`` logits, L (B, T, d_L));
alignment gate of G and L → ``align`` logits, the next round's input. The final ``align`` is ``logits``.

Language model: S-GTR's own ``sgtr.models.language.LanguageModel`` (a bidirectional transformer over probabilities)
stands in for ABINet's BCN. It keeps BCN's probability input and its gradient blocking (``detach`` on by default:
the language losses do not reach the vision model, ABINet's practice), but not BCN's diagonal attention mask or its
length masking: the LM sees every step including its own, and learns correction as a denoiser of the vision model's
errors; one LM implementation serves S-GTR and every host. The iteration count is a config constant, so the Python
loop is unrolled by tracing and the ONNX graph has no control flow.

Output: ``branches`` ``vision``, ``lm`` (the language branch) and ``align`` from the last iteration; ``order_maps`` A
(each sums to 1); ``extras["step_hidden"]`` the last alignment's fused features. Loss: L = L_vision + L_lm + L_align
(ABINet's unit weights), the two iterated branches each scoring the mean over iterations, as ABINet does.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch
from torch import Tensor, nn

from sgtr.data.charset import Charset
from sgtr.models.hosts.common import GatedUnit, VisualEncoder, preset_config
from sgtr.models.language import LanguageModel, LMConfig
from sgtr.models.layers import PositionAttention, UNet
from sgtr.models.losses import branch_losses
from sgtr.models.output import RecognizerOutput, Targets
from sgtr.models.overrides import replace_checked


@dataclass(frozen=True)
class ABINetConfig:
    """Architecture, iterations and loss weights. D, the width of V and G, is ``widths[-1]``; ``language`` configures
    the BCN stand-in (overridden by a mapping of ``LMConfig`` fields)."""

    stem: tuple[int, ...] = (32,)  # ResNet: stride 2 in the stem ...
    widths: tuple[int, ...] = (64, 128, 128)
    depths: tuple[int, ...] = (1, 2, 2)
    strides: tuple[int, ...] = (1, 2, 1)  # ... and 2 more: an 8×32 map at 32×128
    transformer_layers: int = 1
    heads: int = 4
    ffn: int = 256
    dropout: float = 0.1
    key_channels: int = 64  # position-attention keys (mini U-Net width)
    key_depth: int = 3  # U-Net down/up levels
    language: LMConfig = field(default_factory=lambda: LMConfig(detach=True))
    iterations: int = 1  # language + alignment rounds (ABINet uses 3)
    vision_weight: float = 1.0
    lm_weight: float = 1.0
    align_weight: float = 1.0


PRESETS: dict[str, ABINetConfig] = {
    # CPU-friendly: 1.9M parameters, 8×32 features at 32×128, one iteration.
    "small": ABINetConfig(),
    # ABINet's sizes: ResNet45 widths and depths to an 8×32×512 map, 3 transformer layers, a 4-layer 512-wide
    # language model and 3 iterations.
    "base": ABINetConfig(widths=(32, 64, 128, 256, 512), depths=(3, 4, 6, 6, 3), strides=(1, 1, 2, 1, 1),
                         transformer_layers=3, heads=8, ffn=2048, key_depth=4,
                         language=LMConfig(width=512, layers=4, heads=8, ffn=2048, detach=True), iterations=3),
}


class ABINet(nn.Module):
    """``forward(images (B, 3, H, W) in [-1, 1], targets=None) -> RecognizerOutput`` (see the module docstring)."""

    language_branch = "lm"
    has_order_maps = True

    def __init__(self, charset: Charset, config: ABINetConfig | None = None):
        super().__init__()
        self.config = config = config or ABINetConfig()
        if config.iterations < 1:
            raise ValueError(f"ABINet needs at least one iteration, got {config.iterations}")
        k, steps = charset.num_classes, charset.max_steps
        self.backbone = VisualEncoder(config.stem, config.widths, config.depths, config.strides,
                                      config.transformer_layers, config.heads, config.ffn, config.dropout)
        d = self.feature_channels = self.hidden_width = self.backbone.channels
        self.keys = UNet(d, config.key_channels, config.key_depth)
        self.attention = PositionAttention(config.key_channels, steps)
        self.vision_head = nn.Linear(d, k)
        self.language = LanguageModel(k, steps, config.language)
        self.align = GatedUnit(d, config.language.width, k)

    @classmethod
    def from_preset(cls, charset: Charset, preset: str = "small", language: dict | None = None, **overrides
                    ) -> "ABINet":
        config = preset_config(PRESETS, preset, "ABINet", overrides)
        config = replace(config, language=replace_checked(config.language, "ABINet language option", language or {}))
        return cls(charset, config)

    def forward(self, images: Tensor, targets: Targets | None = None) -> RecognizerOutput:
        features = self.backbone(images)
        order_maps = self.attention(self.keys(features)).exp()
        glimpses = torch.einsum("btp,bdp->btd", order_maps.flatten(2), features.flatten(2))
        vision = self.vision_head(glimpses)
        current, lms, aligns = vision, [], []
        for _ in range(self.config.iterations):
            lm, lm_hidden = self.language(current)
            current, hidden = self.align(glimpses, lm_hidden)
            lms.append(lm)
            aligns.append(current)
        out = RecognizerOutput(logits=current, branches={"vision": vision, "lm": lm, "align": current},
                               order_maps=order_maps, features=features, extras={"step_hidden": hidden})
        if targets is not None:
            c = self.config
            weights = {"vision": c.vision_weight, "lm": c.lm_weight, "align": c.align_weight}
            out.losses, out.loss = branch_losses({"vision": vision, "lm": lms, "align": aligns}, targets.ids, weights)
        return out
