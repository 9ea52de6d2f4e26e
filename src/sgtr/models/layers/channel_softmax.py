"""``channel_softmax``: softmax over the class axis of (B, K, H, W) maps, written so that exported graphs run it fast.

ONNX Runtime's CPU ``Softmax`` on an axis other than the last transposes its input around the kernel, which makes it
many times slower on segmentation maps than the same softmax spelled out as max, exp and sum (and a visible share of
an exported S-GTR graph's time).
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
