"""ABINet-LV (Fang et al., CVPR 2021, "Read like humans: autonomous, bidirectional and iterative language modeling for
scene text recognition"), a host S-GTR plugs GTR into: a vision model, a bidirectional language model that
re-reads the vision prediction, and an alignment gate, iterated.

Tensor flow: images (B, 3, H, W) → ResNet + transformer layers → features V (B, D, H', W'), 8×32 for ``small`` →
position attention: keys from a mini U-Net over V, queries from a sinusoidal encoding of the step
(``PositionAttention``) → maps A (B, T, H', W') → glimpses G_t = Σ_p A_t(p) V_p → ``vision`` logits = Linear(G) →
``iterations`` times: language model over the current prediction's probabilities → (``lm`` logits, L (B, T, d_L));
alignment gate of G and L → ``align`` logits, the next round's input. The final ``align`` is ``logits``.

Language model: BCN, ABINet's bidirectional cloze network. Its keys and values are the current prediction's
probabilities (detached by default, so the language losses do not reach the vision model, ABINet's practice) →
Linear K→d (no bias) + a sinusoidal step encoding; its queries are the step encodings alone; each of its layers is
cross-attention from the queries to those keys followed by a feed-forward block (post-LN, no self-attention among
the queries). Two masks make it a cloze model: the diagonal — step t never attends to its own input, so its output
does not depend on its own token and it cannot learn to copy the vision model — and the length — keys after the
first EOS of the input reading are padding (the EOS key itself is kept, and at least keys 0 and 1, so no query is
left without a key). A Linear d→K reads the corrected logits. ``iterations`` rounds of BCN and alignment, each on
the previous alignment's output: 3 in both presets (BCN on T = 26 steps is cheap beside the vision model). The count
is a config constant, so the Python loop is unrolled by tracing and the ONNX graph has no control flow.

Output: ``branches`` ``vision``, ``lm`` (the language branch) and ``align`` from the last iteration; ``order_maps`` A
(each sums to 1); ``extras["step_hidden"]`` the last alignment's fused features. Loss: L = L_vision + L_lm + L_align
(ABINet's unit weights), the two iterated branches each scoring the mean over iterations, as ABINet does.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch
from torch import Tensor, nn

from sgtr.data.charset import EOS_ID, Charset
from sgtr.models.backbones.ppocr import BackboneChoice
from sgtr.models.hosts.common import GatedUnit, VisualEncoder, preset_config
from sgtr.models.language import LMConfig
from sgtr.models.layers import PositionAttention, UNet, sinusoid
from sgtr.models.losses import branch_losses
from sgtr.models.output import RecognizerOutput, Targets
from sgtr.models.overrides import replace_checked


@dataclass(frozen=True)
class ABINetConfig(BackboneChoice):
    """Architecture, iterations and loss weights. D, the width of V and G, is ``widths[-1]``; ``language`` configures
    BCN (overridden by a mapping of ``LMConfig`` fields: width, layers, heads, ffn, dropout, detach)."""

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
    iterations: int = 3  # BCN + alignment rounds, as ABINet
    vision_weight: float = 1.0
    lm_weight: float = 1.0
    align_weight: float = 1.0


PRESETS: dict[str, ABINetConfig] = {
    # CPU-friendly: 8×32 features at 32×128, a 2-layer 128-wide BCN, 3 iterations.
    "small": ABINetConfig(),
    # ABINet's sizes: ResNet45 widths and depths to an 8×32×512 map, 3 transformer layers, a 4-layer 512-wide
    # language model and 3 iterations.
    "base": ABINetConfig(widths=(32, 64, 128, 256, 512), depths=(3, 4, 6, 6, 3), strides=(1, 1, 2, 1, 1),
                         transformer_layers=3, heads=8, ffn=2048, key_depth=4,
                         language=LMConfig(width=512, layers=4, heads=8, ffn=2048, detach=True), iterations=3),
}


class BCNLayer(nn.Module):
    """One BCN layer, post-LN: q ← LN(q + Attention(q, memory, memory; mask)), q ← LN(q + FFN(q))."""

    def __init__(self, width: int, heads: int, ffn: int, dropout: float):
        super().__init__()
        self.attention = nn.MultiheadAttention(width, heads, dropout=dropout, batch_first=True)
        self.ffn = nn.Sequential(nn.Linear(width, ffn), nn.ReLU(), nn.Dropout(dropout), nn.Linear(ffn, width))
        self.norms = nn.ModuleList([nn.LayerNorm(width), nn.LayerNorm(width)])
        self.dropout = nn.Dropout(dropout)

    def forward(self, query: Tensor, memory: Tensor, blocked: Tensor) -> Tensor:
        attended, _ = self.attention(query, memory, memory, attn_mask=blocked, need_weights=False)
        query = self.norms[0](query + self.dropout(attended))
        return self.norms[1](query + self.dropout(self.ffn(query)))


class BCN(nn.Module):
    """ABINet's bidirectional cloze network (see the module docstring): ``forward(logits (B, T, K)) -> (logits
    (B, T, K), hidden (B, T, width))``."""

    def __init__(self, num_classes: int, steps: int, config: LMConfig):
        super().__init__()
        self.config = config
        self.embed = nn.Linear(num_classes, config.width, bias=False)
        self.register_buffer("positions", sinusoid(torch.arange(steps), config.width), persistent=False)
        self.dropout = nn.Dropout(config.dropout)
        self.layers = nn.ModuleList(BCNLayer(config.width, config.heads, config.ffn, config.dropout)
                                    for _ in range(config.layers))
        self.classifier = nn.Linear(config.width, num_classes)

    def blocked(self, probs: Tensor) -> Tensor:
        """(B·heads, T, T) bool, True where query t may not attend to key j: j = t (the cloze mask) or j after the
        first EOS of the input reading (kept: the EOS key, and keys 0 and 1 whatever the reading)."""
        b, t = probs.shape[:2]
        ids = probs.argmax(dim=-1)
        first_eos = ((ids == EOS_ID).long().cumsum(dim=1) == 0).sum(dim=1)  # (B,): T when there is none
        last_key = first_eos.clamp(1, t - 1)
        index = torch.arange(t, device=probs.device)
        blocked = (index[:, None] == index) | (index > last_key[:, None, None])  # (B, T, T)
        return blocked.repeat_interleave(self.config.heads, dim=0)

    def forward(self, logits: Tensor) -> tuple[Tensor, Tensor]:
        probs = logits.softmax(dim=-1)
        if self.config.detach:
            probs = probs.detach()
        positions = self.positions[: probs.shape[1]]
        memory = self.dropout(self.embed(probs) + positions)
        query = self.dropout(positions.expand_as(memory))  # expand_as: the batch size stays dynamic in ONNX
        blocked = self.blocked(probs)
        for layer in self.layers:
            query = layer(query, memory, blocked)
        return self.classifier(query), query


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
                                      config.transformer_layers, config.heads, config.ffn, config.dropout, config)
        d = self.feature_channels = self.hidden_width = self.backbone.channels
        self.keys = UNet(d, config.key_channels, config.key_depth)
        self.attention = PositionAttention(config.key_channels, steps)
        self.vision_head = nn.Linear(d, k)
        self.language = BCN(k, steps, config.language)
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
