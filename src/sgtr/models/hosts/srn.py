"""SRN (Yu et al., CVPR 2020, "Towards accurate scene text recognition with semantic reasoning networks"), a host S-GTR
plugs GTR into: a visual model reads all T characters in parallel, a semantic model re-reads that reading,
and a gate fuses the two.

Tensor flow: images (B, 3, H, W) → ResNet + transformer units → features V (B, D, H', W'), 8×32 for ``small`` →
PVAM: T learned reading-order queries attend over V's pixels (additive attention), giving glimpses G (B, T, D) and the
attention maps (B, T, H', W') → ``vision`` logits = Linear(G) → GSRM: the vision argmax ids → embedding → a forward and
a backward transformer (step t sees only the ids before, resp. after it) → semantic features S (B, T, D) → ``lm``
logits → VSFD: gated fusion of G and S → ``vsfd`` logits, the final ones.

Output: ``logits`` = ``vsfd``; ``branches`` ``vision``, ``lm`` (GSRM, the language branch) and ``vsfd`` (not ``fused``,
which the GTR plug-in adds beside the host's branches); ``features`` V; ``order_maps`` the PVAM attention maps (each
sums to 1); ``extras["step_hidden"]`` the fused features. Loss: L = 1·L_vision + 0.15·L_lm + 2·L_vsfd, SRN's weights
(α_e, α_r, α_f), each a cross-entropy over the valid steps.

As in SRN, GSRM takes the argmax of the visual prediction, so no gradient flows from it into the visual model; the
semantic branch learns from the visual model's mistakes instead. The original uses a ResNet50-FPN; ``small`` uses a
narrow residual stack at stride 4.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from sgtr.data.charset import Charset
from sgtr.models.backbones.ppocr import BackboneChoice
from sgtr.models.hosts.common import GatedUnit, VisualEncoder, preset_config
from sgtr.models.layers import sinusoid
from sgtr.models.losses import branch_losses
from sgtr.models.output import RecognizerOutput, Targets


@dataclass(frozen=True)
class SRNConfig(BackboneChoice):
    """Architecture and loss weights. D, the width of V, G, S and the fused features, is ``widths[-1]``."""

    stem: tuple[int, ...] = (32,)  # ResNet: stride 2 in the stem ...
    widths: tuple[int, ...] = (64, 128, 128)
    depths: tuple[int, ...] = (1, 2, 2)
    strides: tuple[int, ...] = (1, 2, 1)  # ... and 2 more: an 8×32 map at 32×128
    transformer_layers: int = 1  # on the visual map
    heads: int = 4  # every transformer here
    ffn: int = 256
    dropout: float = 0.1
    attention: int = 64  # PVAM's additive-attention width
    gsrm_layers: int = 1  # per direction
    # SRN's loss L = α_e·L_e + α_r·L_r + α_f·L_f with α_e, α_r, α_f = 1.0, 0.15, 2.0 (Yu et al. 2020, the loss
    # function at the end of the method section; recalled, not re-read: the paper's text could not be retrieved here).
    # PaddleOCR's SRN implementation by the same group weights them 3.0, 0.15, 1.0 (its SRNLoss, sums over
    # characters); set vision_weight: 3, vsfd_weight: 1 to train that way. The paper's values are the default.
    vision_weight: float = 1.0  # α_e, PVAM's visual prediction
    lm_weight: float = 0.15  # α_r, GSRM
    vsfd_weight: float = 2.0  # α_f, the fused prediction


PRESETS: dict[str, SRNConfig] = {
    # CPU-friendly: 1.6M parameters, 8×32 features at 32×128.
    "small": SRNConfig(),
    # Paper-like: 64×256 input to an 8×32×512 map, 2 transformer units, 4-layer GSRM streams (SRN's ResNet50-FPN
    # replaced by a basic-block ResNet of the same depth pattern).
    "base": SRNConfig(stem=(64,), widths=(64, 128, 256, 512), depths=(3, 4, 6, 3),
                      strides=(1, 2, 2, 1), transformer_layers=2, heads=8, ffn=2048, attention=512, gsrm_layers=4),
}


class PVAM(nn.Module):
    """Parallel visual attention (SRN): e_t(p) = w · tanh(W_o O_t + W_v v_p), α_t = softmax_p(e_t),
    g_t = Σ_p α_t(p) v_p.

    The reading-order embeddings O_t are learned, one per step (W_o O_t folded into one table), so the T glimpses do
    not depend on each other and are computed at once rather than recurrently."""

    def __init__(self, channels: int, steps: int, width: int):
        super().__init__()
        # N(0, 1) entries (nn.Embedding's init), not 1/√width: smaller ones barely move the tanh, so all steps' maps
        # stay alike for long (measured on the 32-word overfit task: vision loss 1.4 vs 1.9 after 80 steps).
        self.order = nn.Embedding(steps, width)
        self.key = nn.Linear(channels, width)
        self.score = nn.Linear(width, 1, bias=False)

    def forward(self, features: Tensor) -> tuple[Tensor, Tensor]:
        """(B, D, H, W) → glimpses (B, T, D) and attention maps (B, T, H, W)."""
        b, _, h, w = features.shape
        pixels = features.flatten(2).transpose(1, 2)  # (B, P, D)
        scores = self.score(torch.tanh(self.order.weight[:, None] + self.key(pixels)[:, None])).squeeze(-1)  # (B, T, P)
        attention = scores.softmax(dim=-1)
        return attention @ pixels, attention.view(b, -1, h, w)


class GSRM(nn.Module):
    """Global semantic reasoning (SRN): ``forward(visual logits (B, T, K)) -> (logits (B, T, K), S (B, T, width))``.

    The visual argmax ids are embedded twice: shifted one step right for a forward transformer under a causal mask
    (step t then sees ids < t) and one step left for a backward one under the transposed mask (ids > t); the two
    streams are summed. Step t is thus predicted from its context only, never from its own visual guess, so the module
    cannot learn to copy its input. A boundary token (id K) fills the shifted-in ends."""

    def __init__(self, num_classes: int, steps: int, width: int, layers: int, heads: int, ffn: int, dropout: float):
        super().__init__()
        self.boundary = num_classes
        self.embed = nn.Embedding(num_classes + 1, width)
        self.register_buffer("positions", sinusoid(torch.arange(steps), width), persistent=False)
        past = torch.full((steps, steps), -torch.inf).triu(1)  # row t may attend to columns ≤ t
        self.register_buffer("past", past, persistent=False)
        self.register_buffer("future", past.t().contiguous(), persistent=False)
        self.streams = nn.ModuleList(
            nn.TransformerEncoder(nn.TransformerEncoderLayer(width, heads, ffn, dropout, batch_first=True), layers,
                                  norm=nn.LayerNorm(width), enable_nested_tensor=False) for _ in range(2))
        self.classifier = nn.Linear(width, num_classes)

    def forward(self, visual_logits: Tensor) -> tuple[Tensor, Tensor]:
        ids = visual_logits.argmax(dim=-1)
        boundary = torch.full_like(ids[:, :1], self.boundary)
        before = self.embed(torch.cat((boundary, ids[:, :-1]), dim=1)) + self.positions  # step t holds id t − 1
        after = self.embed(torch.cat((ids[:, 1:], boundary), dim=1)) + self.positions  # step t holds id t + 1
        semantic = self.streams[0](before, mask=self.past) + self.streams[1](after, mask=self.future)
        return self.classifier(semantic), semantic


class SRN(nn.Module):
    """``forward(images (B, 3, H, W) in [-1, 1], targets=None) -> RecognizerOutput`` (see the module docstring)."""

    language_branch = "lm"
    has_order_maps = True

    def __init__(self, charset: Charset, config: SRNConfig | None = None):
        super().__init__()
        self.config = config = config or SRNConfig()
        k, steps = charset.num_classes, charset.max_steps
        self.backbone = VisualEncoder(config.stem, config.widths, config.depths, config.strides,
                                      config.transformer_layers, config.heads, config.ffn, config.dropout, config)
        d = self.feature_channels = self.hidden_width = self.backbone.channels
        self.pvam = PVAM(d, steps, config.attention)
        self.vision_head = nn.Linear(d, k)
        self.gsrm = GSRM(k, steps, d, config.gsrm_layers, config.heads, config.ffn, config.dropout)
        self.vsfd = GatedUnit(d, d, k)

    @classmethod
    def from_preset(cls, charset: Charset, preset: str = "small", **overrides) -> "SRN":
        return cls(charset, preset_config(PRESETS, preset, "SRN", overrides))

    def forward(self, images: Tensor, targets: Targets | None = None) -> RecognizerOutput:
        features = self.backbone(images)
        glimpses, order_maps = self.pvam(features)
        vision = self.vision_head(glimpses)
        lm, semantic = self.gsrm(vision)
        fused, hidden = self.vsfd(glimpses, semantic)
        out = RecognizerOutput(logits=fused, branches={"vision": vision, "lm": lm, "vsfd": fused},
                               order_maps=order_maps, features=features, extras={"step_hidden": hidden})
        if targets is not None:
            c = self.config
            weights = {"vision": c.vision_weight, "lm": c.lm_weight, "vsfd": c.vsfd_weight}
            out.losses, out.loss = branch_losses(out.branches, targets.ids, weights)
        return out
