"""Dynamic fusion of the LM and GTR branches into S-GTR's final prediction, and its ablation variants.

Every fusion is called as ``fusion(lm_logits, lm_hidden, gtr_logits, gtr_hidden)`` with logits (B, T, K) and hidden
states (B, T, d_L) / (B, T, d_G), and returns the fused logits Z_F (B, T, K) and, for the gated and mixture forms,
the gate (B, T) (how much each step trusts the LM; 1 − it, GTR; the gated form's mean over channels), else None.

* ``gated`` (default): g = σ(W_f [S_L ; H'_G] + b_f), H'_G = Linear(H_G) to the LM's width,
  S_F = g ⊙ S_L + (1 − g) ⊙ H'_G, Z_F = W_cls S_F — the SRN/ABINet gated unit on hidden states. With
  ``from_lm`` it is residual on the LM instead: Z_F = Z_L + W_cls (S_F − S_L) + b_cls with W_cls, b_cls zero at
  init, so Z_F starts exactly at Z_L whatever the LM's weights (also after loading trained ones) and whatever the LM
  is (a CTC host's pooled log-probabilities are no linear function of a hidden state, so no initialisation of the
  plain form could match them). The gate keeps its meaning — g = 1 gives the LM's output — and the capacity is the
  plain form's plus a term in S_L. The classifier learns from the first step; the gate and the projection, which get
  no gradient while W_cls is zero, from the second (the zero-initialised residual branch of ReZero/ControlNet);
* ``mixture``: per step a mixture of the two branches' distributions, p_F = (1 − w) softmax Z_L + w softmax Z_G,
  w = α σ(W_w [S_L ; H'_G] + b_w), α ∈ [0, 1] one learned scalar starting at 0: Z_F = log p_F starts at the LM's
  reading exactly and can only move towards what GTR reads. The gated unit's classifier maps hidden states to new
  logits and can output a class neither branch supports; with a strong host and a weaker GTR it did (a frozen
  PP-OCRv6-small host: on validation its fused output fixed 0 of the host's readings and broke 9, e.g. TELL → TEIL
  where host and GTR both read TELL). The returned gate is 1 − w, the LM's share, as for ``gated``;
* ``average``: Z_F = log((softmax Z_L + softmax Z_G) / 2), no parameters (the "simple fusion" ablation row);
* ``glu``: Z_F = GLU(Linear_{2K→2K}([Z_L ; Z_G])) on logits, as in the official code.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class GatedFusion(nn.Module):
    def __init__(self, lm_width: int, gtr_width: int, num_classes: int, from_lm: bool = False):
        super().__init__()
        self.project = nn.Linear(gtr_width, lm_width)
        self.gate = nn.Linear(2 * lm_width, lm_width)
        self.classifier = nn.Linear(lm_width, num_classes)
        self.from_lm = from_lm
        if from_lm:
            nn.init.zeros_(self.classifier.weight)
            nn.init.zeros_(self.classifier.bias)

    def forward(self, lm_logits: Tensor, lm_hidden: Tensor, gtr_logits: Tensor, gtr_hidden: Tensor
                ) -> tuple[Tensor, Tensor | None]:
        gtr_hidden = self.project(gtr_hidden)
        g = torch.sigmoid(self.gate(torch.cat((lm_hidden, gtr_hidden), dim=-1)))
        fused = g * lm_hidden + (1 - g) * gtr_hidden
        if self.from_lm:
            return lm_logits + self.classifier(fused - lm_hidden), g.mean(dim=-1)
        return self.classifier(fused), g.mean(dim=-1)


class MixtureFusion(nn.Module):
    def __init__(self, lm_width: int, gtr_width: int):
        super().__init__()
        self.project = nn.Linear(gtr_width, lm_width)
        self.weight = nn.Linear(2 * lm_width, 1)
        self.scale = nn.Parameter(torch.zeros(()))  # α: 0 at the start, so p_F = the LM's distribution

    def forward(self, lm_logits: Tensor, lm_hidden: Tensor, gtr_logits: Tensor, gtr_hidden: Tensor
                ) -> tuple[Tensor, Tensor | None]:
        share = torch.sigmoid(self.weight(torch.cat((lm_hidden, self.project(gtr_hidden)), dim=-1)))
        w = self.scale.clamp(0, 1) * share  # (B, T, 1); clamp passes the gradient at α = 0
        mixed = (1 - w) * lm_logits.float().softmax(dim=-1) + w * gtr_logits.float().softmax(dim=-1)
        # The floor only guards log(0) where a step's probability underflows in both branches.
        return torch.log(mixed.clamp_min(torch.finfo(mixed.dtype).tiny)), 1 - w.squeeze(-1)


class AverageFusion(nn.Module):
    def forward(self, lm_logits: Tensor, lm_hidden: Tensor, gtr_logits: Tensor, gtr_hidden: Tensor
                ) -> tuple[Tensor, Tensor | None]:
        stacked = torch.stack((lm_logits.log_softmax(dim=-1), gtr_logits.log_softmax(dim=-1)))
        return torch.logsumexp(stacked, dim=0) - math.log(2), None


class GLUFusion(nn.Module):
    def __init__(self, num_classes: int):
        super().__init__()
        self.linear = nn.Linear(2 * num_classes, 2 * num_classes)

    def forward(self, lm_logits: Tensor, lm_hidden: Tensor, gtr_logits: Tensor, gtr_hidden: Tensor
                ) -> tuple[Tensor, Tensor | None]:
        return F.glu(self.linear(torch.cat((lm_logits, gtr_logits), dim=-1)), dim=-1), None


FUSIONS = ("gated", "mixture", "average", "glu")


def build_fusion(kind: str, lm_width: int, gtr_width: int, num_classes: int, from_lm: bool = False) -> nn.Module:
    """A fusion by name; unknown names raise ``ValueError`` listing the valid ones. ``from_lm`` (gated only): the
    residual form that starts at the LM's output."""
    if from_lm and kind != "gated":
        raise ValueError(f"schedule.fusion_from_lm needs the gated fusion, not {kind!r}")
    if kind == "gated":
        return GatedFusion(lm_width, gtr_width, num_classes, from_lm)
    if kind == "mixture":
        return MixtureFusion(lm_width, gtr_width)
    if kind == "average":
        return AverageFusion()
    if kind == "glu":
        return GLUFusion(num_classes)
    raise ValueError(f"unknown fusion {kind!r}; choose one of: {', '.join(FUSIONS)}")
