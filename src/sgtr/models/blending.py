"""Weight-space blending of a fine-tuned model with the weights it started from (WiSE-FT, Wortsman et al., CVPR 2022):
``(1 - weight) * start + weight * tuned`` for every floating-point tensor.

Fine-tuning a strong pretrained recognizer on a small set moves it towards that set and away from what it knew; the
straight line between the two points in weight space often keeps most of both (measured for PP-OCRv6-small in
docs/pretrained.md). Integer tensors (BatchNorm's step counters) are the fine-tuned model's.
"""

from __future__ import annotations

import torch


def blend_states(start: dict[str, torch.Tensor], tuned: dict[str, torch.Tensor],
                 weight: float) -> dict[str, torch.Tensor]:
    """The blended state: ``weight`` 1 is ``tuned``, 0 is ``start``. Both must hold the same tensor names and
    shapes (the same architecture); anything else is a one-line ``ValueError`` naming the first difference."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"blend weight must lie in [0, 1], got {weight}")
    missing = sorted(set(tuned) - set(start)) or sorted(set(start) - set(tuned))
    if missing:
        raise ValueError(f"the two models hold different tensors (e.g. {missing[0]}): not the same architecture")
    blended = {}
    for name, value in tuned.items():
        other = start[name]
        if other.shape != value.shape:
            raise ValueError(f"tensor {name} has shape {tuple(other.shape)} in one model and {tuple(value.shape)} in "
                             "the other")
        if value.is_floating_point():
            value = torch.lerp(other.to(value.dtype), value, weight)
        blended[name] = value
    return blended
