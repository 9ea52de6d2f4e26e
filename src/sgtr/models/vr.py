"""The segmentation-based visual recognizer (VR): the S-GTR baseline whose maps GTR builds its graphs from.

Tensor flow (spec §2): ResNet backbone → (optional pyramid pooling) → FPN → feature map F (B, D, H', W') at output
stride s → character segmentation logits G (B, K, H', W'), class 0 = background → T reading-order maps A (B, T, H', W')
→ 1-D prediction P_V[t] = Σ_p softmax(G)[:, p] · A_t[p], a distribution over the K classes (class 0 = EOS).

Order maps are position attention (a documented choice between the spec's FCN-on-G figure and DAN-style code): keys
come from a small U-Net over concat[softmax(G), F], queries are a learned projection of a sinusoidal encoding of t,
and A_t = softmax_p(q_t · k_p / √d), so every map sums to 1 by construction, with no separate normalisation step and
no division by a possibly-zero sum of sigmoids.

Losses (given ``Targets``): ``seg``, soft pixel cross-entropy of G against the class map; ``order``, KL(GT order
distribution ‖ A_t); ``seq``, NLL of P_V against the ids. ``seg`` and ``order`` use only samples with masks; ``seq``
uses every sample, which is what trains the model on real data. Masks are downsampled by *area*: each H'×W' cell gets
the fraction of its input pixels that belong to each character, so thin glyphs keep soft evidence instead of
vanishing under nearest-neighbour sampling. The class target of a cell is the area-weighted mix of its characters'
classes; the order target of step t is character t's area map normalised over pixels. The EOS step's target is the
background area normalised, so that P_V at EOS is pulled towards class 0 even without the ``seq`` loss; steps after
EOS are excluded, matching the ``seq`` loss which ignores them. KL differs from the soft cross-entropy only by the
target's entropy, a constant, so gradients are the same and the logged value goes to 0 at the optimum.

Default loss weights are seg 1, order 1, seq 1. The spec's ``L_seg + 0.1·L_ord`` pairs 0.1 with a Smooth-L1 on raw
maps; the KL here is on the scale of a cross-entropy and needs no down-weighting. On the overfit task of
``tests/test_vr_overfit.py`` (32 words, narrowed ``small``, Adam 2e-3, seed 0) 100% accuracy took 120 steps with order
weight 1, 150 with 0.1, and was not reached in 250 (stuck at 75%, order KL ~29) with 0: without order supervision the
attention collapses onto single pixels that merely carry the right class, so ``seq`` alone does not bootstrap the
maps; masked synthetic data is what teaches them, and unmasked real data can then be mixed in.

Segmentation resolution (decided, measured): GTR's nodes are the pixels of these maps (spec §4.1 takes 16 per
character). With the test renderer's words at 32×128, an average character of a 6-letter word covers 9.5 cells of a
stride-4 map (13 touched) but 38 of a stride-2 map (43 touched); at 10 letters 9.1 vs 36.5; at 25 letters 3.8 vs 15.
``small`` therefore works at stride 2: a 16×64 map. To keep that cheap the stem halves the input at once, the residual
stages run at strides 4 and 8, and at stride 2 there is only the FPN's 1×1 lateral on the stem, its 3×3 smoothing conv
(64 channels), the 1×1 classifier and the attention softmax; the order-key U-Net runs at stride 4 (``key_stride``) and
its keys are upsampled bilinearly. Cost on the shared 2-core dev CPU, 1 thread, forward+backward at batch 64, best of
6 interleaved steps: stride 2 = 50 img/s, stride 4 = 70 img/s (1.4× per image); running the U-Net at stride 2 too
gave 42 img/s, hence ``key_stride``. ``base`` follows the paper: 64×256 input at stride 4, also a 16×64 map.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sgtr.data.charset import PAD_ID, Charset
from sgtr.models.layers import FPN, ConvBNAct, PositionAttention, PyramidPooling, ResNet, UNet, channel_softmax
from sgtr.models.overrides import replace_checked
from sgtr.models.output import RecognizerOutput, Targets


@dataclass(frozen=True)
class VRConfig:
    """Architecture and loss weights. ``input_size`` is the (H, W) the preset is meant for (data pipeline, export);
    the network itself accepts any size."""

    input_size: tuple[int, int] = (32, 128)
    stem: tuple[int, ...] = (32,)  # 3×3 conv widths; the first has stride 2
    widths: tuple[int, ...] = (64, 128, 256)  # residual stages
    depths: tuple[int, ...] = (2, 2, 2)
    strides: tuple[int, ...] = (2, 2, 1)  # per stage, after the stem's 2: levels at strides 2, 4, 8, 8
    ppm_bins: tuple[int, ...] = ()  # pyramid pooling on the deepest level; empty = none
    out_stride: int = 2  # of F, G and A; must be one of the backbone's level strides
    fpn_channels: int = 64  # D, the width of F
    head_channels: int = 0  # a 3×3 conv of this width before the classifier; 0 = classify F with a 1×1 conv
    key_stride: int = 4  # stride the order-key U-Net runs at (a multiple of out_stride)
    order_channels: int = 64  # key / query width
    order_depth: int = 4  # U-Net down/up levels
    seg_weight: float = 1.0
    order_weight: float = 1.0
    seq_weight: float = 1.0
    eps: float = 1e-6  # logits = log(P_V + eps)


PRESETS: dict[str, VRConfig] = {
    # CPU-friendly: 3.1M parameters, stride-2 maps of 16×64 at 32×128.
    "small": VRConfig(),
    # Paper-like (38.9M parameters): 64×256 input, stride-4 maps of 16×64, widths 128/256/512/512, PPM on the
    # deepest level, a 3×3 conv in the segmentation head.
    "base": VRConfig(input_size=(64, 256), stem=(64, 64), widths=(128, 256, 512, 512), depths=(2, 3, 4, 2),
                     strides=(2, 2, 1, 1), ppm_bins=(1, 2, 3, 6), out_stride=4, fpn_channels=256, head_channels=256,
                     order_channels=128),
}


def vr_config(preset: str = "small", **overrides) -> VRConfig:
    """A preset with some fields replaced; unknown preset or field names raise ``ValueError`` listing the valid ones."""
    if preset not in PRESETS:
        raise ValueError(f"unknown VR preset {preset!r}; choose one of: {', '.join(PRESETS)}")
    return replace_checked(PRESETS[preset], "VR config field", overrides)


class SegmentationRecognizer(nn.Module):
    """``forward(images (B, 3, H, W) in [-1, 1], targets=None) -> RecognizerOutput`` (see the module docstring)."""

    def __init__(self, charset: Charset, config: VRConfig | None = None):
        super().__init__()
        self.config = config = config or VRConfig()
        self.num_classes, self.steps = charset.num_classes, charset.max_steps
        self.backbone = ResNet(config.stem, config.widths, config.depths, config.strides)
        deepest = self.backbone.channels[-1]
        self.ppm = PyramidPooling(deepest, deepest, config.ppm_bins) if config.ppm_bins else None
        self.fpn = FPN(self.backbone.channels, self.backbone.strides, config.fpn_channels, config.out_stride)
        if config.key_stride % config.out_stride:
            raise ValueError(f"key_stride {config.key_stride} must be a multiple of out_stride {config.out_stride}")
        hidden = config.head_channels or config.fpn_channels
        self.seg_head = nn.Sequential(*([ConvBNAct(config.fpn_channels, hidden, 3)] if config.head_channels else []),
                                      nn.Conv2d(hidden, self.num_classes, 1))
        self.order_keys = UNet(self.num_classes + config.fpn_channels, config.order_channels, config.order_depth)
        self.order_attention = PositionAttention(config.order_channels, self.steps)

    @classmethod
    def from_preset(cls, charset: Charset, preset: str = "small", **overrides) -> "SegmentationRecognizer":
        return cls(charset, vr_config(preset, **overrides))

    def forward(self, images: Tensor, targets: Targets | None = None) -> RecognizerOutput:
        levels = self.backbone(images)
        if self.ppm is not None:
            levels[-1] = self.ppm(levels[-1])
        features = self.fpn(levels)
        seg_logits = self.seg_head(features)
        seg_probs = channel_softmax(seg_logits)
        log_order = self.order_attention(self.keys(torch.cat((seg_probs, features), dim=1)))
        order_maps = log_order.exp()
        p_v = torch.einsum("bkp,btp->btk", seg_probs.flatten(2), order_maps.flatten(2))
        logits = torch.log(p_v + self.config.eps)
        out = RecognizerOutput(logits=logits, branches={"vr": logits}, seg_logits=seg_logits, order_maps=order_maps,
                               features=features)
        if targets is not None:
            out.losses = self.losses(seg_logits, log_order, logits, targets)
            weights = {"seg": self.config.seg_weight, "order": self.config.order_weight, "seq": self.config.seq_weight}
            out.loss = sum(weights[name] * value for name, value in out.losses.items())
        return out

    def keys(self, x: Tensor) -> Tensor:
        """Order-map keys at the map's resolution; the U-Net runs at ``key_stride`` and is upsampled back, because
        order maps only need to tell characters apart, while G carries the fine boundaries."""
        ratio = self.config.key_stride // self.config.out_stride
        if ratio == 1:
            return self.order_keys(x)
        # ceil_mode only where the map does not divide: ONNX Runtime's ceil-mode AveragePool is ~6× slower.
        ceil = bool(x.shape[-2] % ratio or x.shape[-1] % ratio)
        keys = self.order_keys(F.avg_pool2d(x, ratio, ceil_mode=ceil))
        return F.interpolate(keys, size=x.shape[-2:], mode="bilinear", align_corners=False)

    def losses(self, seg_logits: Tensor, log_order: Tensor, logits: Tensor, targets: Targets) -> dict[str, Tensor]:
        """``seq`` always; ``seg`` and ``order`` when at least one sample of the batch has a mask."""
        losses = {"seq": F.nll_loss(logits.flatten(0, 1), targets.ids.flatten(), ignore_index=PAD_ID)}
        return {**losses, **mask_losses(seg_logits, log_order, targets)}


def mask_losses(seg_logits: Tensor, log_order: Tensor | None, targets: Targets) -> dict[str, Tensor]:
    """The mask-supervised losses of the module docstring, over the samples that carry a mask: ``seg`` for the
    segmentation logits (B, K, H', W') and, when ``log_order`` (B, T, H', W') is given, ``order``. Empty when the
    batch has no masks. Shared with the GTR plug-in (``sgtr.models.plugin``), whose segmentation head and order maps
    are supervised the same way."""
    if targets.masks is None:
        return {}
    ids, has_mask = targets.ids, targets.has_mask
    if has_mask is None:
        has_mask = torch.ones(len(ids), dtype=torch.bool, device=ids.device)
    if not bool(has_mask.any()):
        return {}
    ids, seg_logits = ids[has_mask], seg_logits[has_mask]
    counts = area_counts(targets.masks[has_mask], ids.shape[1] + 1, seg_logits.shape[-2:])
    seg_target = class_targets(counts, ids, seg_logits.shape[1])
    losses = {"seg": -(seg_target * seg_logits.flatten(2).log_softmax(dim=1)).sum(dim=1).mean()}
    if log_order is not None:
        order_target, valid = order_targets(counts, ids)
        kl = (torch.xlogy(order_target, order_target) - order_target * log_order[has_mask].flatten(2)).sum(dim=-1)
        losses["order"] = kl[valid].sum() / valid.sum().clamp_min(1)
    return losses


def area_counts(masks: Tensor, instances: int, size: tuple[int, int]) -> Tensor:
    """(B, H, W) instance map (values < ``instances``) → (B, instances, h·w): how many input pixels of each instance
    fall into each cell of an h×w grid. Row/column r maps to cell r·h // H, which is exact area pooling when H is a
    multiple of h. One flat 1-D ``scatter_add_``, which CUDA also runs under deterministic mode."""
    low, high = torch.stack(torch.aminmax(masks)).tolist() if masks.numel() else (0, 0)
    if low < 0 or high >= instances:
        raise ValueError(f"mask values must lie in [0, {instances - 1}], got [{low}, {high}]")
    b, height, width = masks.shape
    h, w = size
    rows = torch.arange(height, device=masks.device) * h // height
    cols = torch.arange(width, device=masks.device) * w // width
    cell = (rows[:, None] * w + cols[None, :]).flatten()
    sample = torch.arange(b, device=masks.device)[:, None] * (instances * h * w)
    index = (sample + masks.flatten(1).long() * (h * w) + cell).flatten()
    counts = torch.zeros(b * instances * h * w, device=masks.device)
    counts.scatter_add_(0, index, torch.ones_like(index, dtype=counts.dtype))
    return counts.view(b, instances, h * w)


def class_targets(counts: Tensor, ids: Tensor, num_classes: int) -> Tensor:
    """(B, K, P) soft class map: each cell's area fractions moved from instances (0 = background, t+1 = token t) to
    the token's class."""
    classes = F.pad(ids.clamp_min(0), (1, 0))[:, : counts.shape[1]]  # instance i → class; PAD and background → 0
    target = torch.einsum("bip,bik->bkp", counts, F.one_hot(classes, num_classes).to(counts.dtype))
    return target / counts.sum(dim=1, keepdim=True).clamp_min(1)


def order_targets(counts: Tensor, ids: Tensor) -> tuple[Tensor, Tensor]:
    """(B, T, P) GT order distributions and (B, T) validity: step t is character t's area map normalised; the EOS
    step is the background's. Steps after EOS, and characters with no pixels (e.g. spaces), are invalid."""
    steps = torch.arange(ids.shape[1], device=ids.device)
    instance = torch.where(ids > 0, steps + 1, 0)
    mass = counts.gather(1, instance[:, :, None].expand(-1, -1, counts.shape[-1]))
    total = mass.sum(dim=-1)
    return mass / total.clamp_min(1)[..., None], (ids != PAD_ID) & (total > 0)
