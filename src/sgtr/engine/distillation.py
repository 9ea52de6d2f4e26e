"""Distillation from a frozen teacher on the same batch, so fine-tuning on a small set keeps what a pretrained
network knew (``distill`` in the config: ``teacher`` is a weights file, ``weight`` the term's weight).

The term is KL(teacher ‖ student) between the two models' per-frame class posteriors, averaged over frames and
samples, at temperature ``temperature`` (scaled by T² so its gradient keeps its size). It needs outputs on the same
grid: two CTC models with the same frame count (the imported PP-OCR network and a fine-tuned copy), or two
step-wise models with the same steps. The teacher runs without gradients, in eval mode, in the student's precision.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sgtr.models.output import RecognizerOutput


def distillation_logits(out: RecognizerOutput) -> Tensor:
    """The student's logits on the teacher's grid: a GTR plug-in around a CTC host keeps the host's frames."""
    return out.extras.get("host_frames", out.logits)


class Distillation:
    def __init__(self, teacher: nn.Module, weight: float, temperature: float = 1.0):
        self.teacher = teacher.eval().requires_grad_(False)
        self.weight, self.temperature = weight, temperature

    def to(self, device: torch.device) -> "Distillation":
        self.teacher.to(device)
        return self

    def __call__(self, student: RecognizerOutput, images: Tensor) -> Tensor:
        with torch.no_grad():
            target = self.teacher(images).logits.float()
        logits = distillation_logits(student).float()
        if logits.shape != target.shape:
            raise ValueError(f"distillation needs the teacher's output grid: student {tuple(logits.shape)}, teacher "
                             f"{tuple(target.shape)} (same model family, input size and charset)")
        t = self.temperature
        kl = F.kl_div(F.log_softmax(logits / t, -1), F.log_softmax(target / t, -1), log_target=True,
                      reduction="none").sum(-1)
        return kl.mean() * t * t
