"""The language model (LM) branch of S-GTR: a bidirectional transformer that re-reads the host's 1-D prediction.

Tensor flow: host logits (B, T, K) → softmax = P_V → Linear K→d → + sinusoidal step encoding → dropout →
N post-LN transformer encoder layers, full (bidirectional) self-attention, no cross-attention to the image → LayerNorm
→ hidden S_L (B, T, d) → Linear d→K → logits Z_L (B, T, K).

The LM sees probabilities, not argmax ids, so gradients from its loss flow back into the host (end-to-end S-GTR);
``detach`` cuts them (ABINet's practice of shielding the vision model from an untrained LM early in joint training).
Its loss is the sequence cross-entropy over the valid steps (characters and EOS; ``PAD_ID`` ignored), computed by the
model that owns it (``sgtr.models.sgtr``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from sgtr.models.layers import sinusoid


@dataclass(frozen=True)
class LMConfig:
    """Width, depth and regularisation; ``base`` follows the paper (512 wide, 4 layers, 8 heads, FFN 1024)."""

    width: int = 128
    layers: int = 2
    heads: int = 4
    ffn: int = 256
    dropout: float = 0.1
    detach: bool = False  # stop gradients from the LM into the host


LM_PRESETS: dict[str, LMConfig] = {
    "small": LMConfig(),
    "base": LMConfig(width=512, layers=4, heads=8, ffn=1024),
}


class LanguageModel(nn.Module):
    """``forward(logits (B, T, K)) -> (Z_L (B, T, K), S_L (B, T, width))``; T may be at most ``steps``."""

    def __init__(self, num_classes: int, steps: int, config: LMConfig | None = None):
        super().__init__()
        self.config = config = config or LMConfig()
        self.embed = nn.Linear(num_classes, config.width)
        self.register_buffer("positions", sinusoid(torch.arange(steps), config.width), persistent=False)
        self.dropout = nn.Dropout(config.dropout)
        layer = nn.TransformerEncoderLayer(config.width, config.heads, config.ffn, config.dropout, batch_first=True)
        # Nested tensors only apply with a padding mask; there is none (every step attends to every step).
        self.encoder = nn.TransformerEncoder(layer, config.layers, norm=nn.LayerNorm(config.width),
                                             enable_nested_tensor=False)
        self.classifier = nn.Linear(config.width, num_classes)

    def forward(self, logits: Tensor) -> tuple[Tensor, Tensor]:
        probs = logits.softmax(dim=-1)
        if self.config.detach:
            probs = probs.detach()
        x = self.dropout(self.embed(probs) + self.positions[: probs.shape[1]])
        hidden = self.encoder(x)
        return self.classifier(hidden), hidden
