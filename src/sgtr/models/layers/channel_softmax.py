"""``channel_softmax``: softmax over the class axis of (B, K, H, W) maps, written so that exported graphs run it fast.

ONNX Runtime's CPU ``Softmax`` on an axis other than the last transposes its input around the kernel: on a batch of
32 segmentation maps at 16×64 with 37 classes it took 35 ms, against 1.7 ms for the same softmax spelled out as
max, exp and sum (one thread; in ONNX Runtime's profile of the int8 S-GTR ``small`` graph it was 10% of the time).
PyTorch's own kernel is the faster one in eager mode, so the spelled-out form is used only while exporting.
"""

from __future__ import annotations

import torch
from torch import Tensor


def channel_softmax(x: Tensor) -> Tensor:
    """``x.softmax(dim=1)``, exported as max/exp/sum rather than ONNX ``Softmax(axis=1)``."""
    if not torch.onnx.is_in_onnx_export():
        return x.softmax(dim=1)
    exp = (x - x.amax(dim=1, keepdim=True)).exp()
    return exp / exp.sum(dim=1, keepdim=True)
