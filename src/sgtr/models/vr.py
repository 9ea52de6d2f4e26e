"""The segmentation-based visual recognizer (VR): the S-GTR baseline whose maps GTR builds its graphs from.

Tensor flow: ResNet backbone → (optional pyramid pooling) → FPN → feature map F (B, D, H', W') at output stride s →
character segmentation logits G (B, K, H', W'), class 0 = background → T reading-order maps A (B, T, H', W')
(``sgtr.models.ordering.OrderHead``) → 1-D prediction P_V[t] = Σ_p softmax(G)[:, p] · A_t[p], a distribution over the
K classes (class 0 = EOS).

Options that follow the reference code (all off by default, so older configs and weights files behave as before):
``block: bottleneck``, ResNet-50's blocks in the stages (a stage's output is then 4 × its width);
``position_attention``, the segmentation head's light gate x ← x + x ⊙ conv1×1(conv3×3(x)) on F before classifying
(``PixelGate``; F itself, which the order head and GTR read, is left as it is); ``text_mask``, a binary
text/background branch (3×3 conv → 1×1 conv → sigmoid) beside the classifier, trained only, so what the model outputs
is the same with it or without it.

Losses (given ``Targets``; ``sgtr.models.losses``): ``seg`` and ``order``, the mask losses, on the samples with
character masks (and ``text_mask`` with that branch on: binary cross-entropy against the union of the character
masks); ``seq``, NLL of P_V against the ids, on every sample, which is what trains the model on real data.

Default loss weights are seg 1, order 1, seq 1, text_mask 1. The order loss is a KL on the scale of a cross-entropy,
so it needs no down-weighting (the paper's 0.1 goes with a Smooth-L1 on raw maps). It cannot be dropped either:
without order supervision the attention collapses onto single pixels that merely carry the right class, and ``seq``
alone does not bootstrap the maps (``tests/test_vr_overfit.py`` trains the maps on a small task). Masked synthetic
data is what teaches them; unmasked real data can then be mixed in.

Segmentation resolution: GTR's nodes are the pixels of these maps, so a character must cover several cells. At
32×128 a stride-4 map gives an average character of a long word only a few cells, a stride-2 map about four times as
many; ``small`` therefore works at stride 2, a 16×64 map. To keep that cheap the stem halves the input at once, the
residual stages run at strides 4 and 8, and at stride 2 there is only the FPN's 1×1 lateral on the stem, its 3×3
smoothing conv, the 1×1 classifier and the attention softmax; the order keys' U-Net runs at stride 4 (``key_stride``)
and its keys are upsampled. ``base`` follows the paper: 64×256 input at stride 4, also a 16×64 map.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from sgtr.data.charset import Charset
from sgtr.models.backbones.ppocr import BackboneChoice
from sgtr.models.layers import FPN, ConvBNAct, PixelGate, PyramidPooling, ResNet, channel_softmax
from sgtr.models.losses import mask_losses, sequence_nll
from sgtr.models.ordering import OrderHead, read_along
from sgtr.models.output import RecognizerOutput, Targets
from sgtr.models.overrides import replace_checked
from sgtr.models.state_names import rename_on_load


@dataclass(frozen=True)
class VRConfig(BackboneChoice):
    """Architecture and loss weights; the network accepts any input size (the presets are meant for 32×128 and
    64×256)."""

    stem: tuple[int, ...] = (32,)  # 3×3 conv widths; the first has stride 2
    widths: tuple[int, ...] = (64, 128, 256)  # residual stages
    depths: tuple[int, ...] = (2, 2, 2)
    strides: tuple[int, ...] = (2, 2, 1)  # per stage, after the stem's 2: levels at strides 2, 4, 8, 8
    block: str = "basic"  # basic | bottleneck (ResNet-50's; its stages output 4 × their widths)
    ppm_bins: tuple[int, ...] = ()  # pyramid pooling on the deepest level; empty = none
    ppm_channels: int = 0  # its output width; 0 = the deepest level's own width
    out_stride: int = 2  # of F, G and A; must be one of the backbone's level strides
    fpn_channels: int = 64  # D, the width of F
    head_channels: int = 0  # a 3×3 conv of this width before the classifier; 0 = classify F with a 1×1 conv
    position_attention: bool = False  # the segmentation head's gate on F (see the module docstring)
    text_mask: bool = False  # the binary text-mask branch and its loss
    key_stride: int = 4  # stride the order-key U-Net runs at (a multiple of out_stride)
    order_channels: int = 64  # key / query width
    order_depth: int = 4  # U-Net down/up levels
    seg_weight: float = 1.0
    order_weight: float = 1.0
    seq_weight: float = 1.0
    text_mask_weight: float = 1.0
    eps: float = 1e-6  # logits = log(P_V + eps)
    # ``backbone: ppocr`` (from ``BackboneChoice``): PP-OCRv6-small's pretrained stages instead of the ResNet (stem,
    # widths, depths and strides then unused); their maps are at height strides 4, 8, 16 and width stride 4.


PRESETS: dict[str, VRConfig] = {
    # CPU-friendly: 3.1M parameters, stride-2 maps of 16×64 at 32×128.
    "small": VRConfig(),
    # Paper-like (38.9M parameters): 64×256 input, stride-4 maps of 16×64, widths 128/256/512/512, PPM on the
    # deepest level, a 3×3 conv in the segmentation head. The spec's own (75.4M at 62 classes) is this preset with
    # the options of configs/paper/vr_base.yaml: Bottleneck blocks 3/4/6/3, a 64/64/128 stem, PPM fused to 512
    # channels, the position attention and the text-mask branch.
    "base": VRConfig(stem=(64, 64), widths=(128, 256, 512, 512), depths=(2, 3, 4, 2),
                     strides=(2, 2, 1, 1), ppm_bins=(1, 2, 3, 6), out_stride=4, fpn_channels=256, head_channels=256,
                     order_channels=128),
    # On the pretrained PP-OCRv6-small stages, for 48-high input with the aspect ratio kept: 12×W/4 maps.
    "ppocr": VRConfig(backbone="ppocr", out_stride=4, key_stride=4, order_depth=2),
}


def vr_config(preset: str = "small", **overrides) -> VRConfig:
    """A preset with some fields replaced; unknown preset or field names raise ``ValueError`` listing the valid ones."""
    if preset not in PRESETS:
        raise ValueError(f"unknown VR preset {preset!r}; choose one of: {', '.join(PRESETS)}")
    return replace_checked(PRESETS[preset], "VR config field", overrides)


class SegmentationRecognizer(nn.Module):
    """``forward(images (B, 3, H, W) in [-1, 1], targets=None) -> RecognizerOutput`` (see the module docstring)."""

    # Names of the order head's tensors in files written before it became ``OrderHead``.
    RENAMED = {"order_keys.": "order.keys.", "order_attention.": "order.attention."}

    def __init__(self, charset: Charset, config: VRConfig | None = None):
        super().__init__()
        self.config = config = config or VRConfig()
        self.num_classes, self.steps = charset.num_classes, charset.max_steps
        pretrained = config.pretrained_stages()
        self.backbone = pretrained if pretrained is not None else ResNet(config.stem, config.widths, config.depths,
                                                                          config.strides, block=config.block)
        channels = list(self.backbone.channels)
        self.ppm = None
        if config.ppm_bins:
            channels[-1] = config.ppm_channels or channels[-1]
            self.ppm = PyramidPooling(self.backbone.channels[-1], channels[-1], config.ppm_bins)
        self.fpn = FPN(channels, self.backbone.strides, config.fpn_channels, config.out_stride)
        if config.key_stride % config.out_stride:
            raise ValueError(f"key_stride {config.key_stride} must be a multiple of out_stride {config.out_stride}")
        hidden = config.head_channels or config.fpn_channels
        # Absent (None) rather than inert when off, so the state of a model without them is what it always was.
        self.seg_gate = PixelGate(config.fpn_channels) if config.position_attention else None
        self.seg_head = nn.Sequential(*([ConvBNAct(config.fpn_channels, hidden, 3)] if config.head_channels else []),
                                      nn.Conv2d(hidden, self.num_classes, 1))
        self.text_head = nn.Sequential(ConvBNAct(config.fpn_channels, hidden, 3),
                                       nn.Conv2d(hidden, 1, 1)) if config.text_mask else None
        self.order = OrderHead(self.num_classes, config.fpn_channels, self.steps, config.order_channels,
                               config.order_depth, key_ratio=config.key_stride // config.out_stride)
        rename_on_load(self)

    @classmethod
    def from_preset(cls, charset: Charset, preset: str = "small", **overrides) -> "SegmentationRecognizer":
        return cls(charset, vr_config(preset, **overrides))

    def forward(self, images: Tensor, targets: Targets | None = None) -> RecognizerOutput:
        levels = self.backbone(images)
        if self.ppm is not None:
            levels[-1] = self.ppm(levels[-1])
        features = self.fpn(levels)
        seg_features = self.seg_gate(features) if self.seg_gate is not None else features
        seg_logits = self.seg_head(seg_features)
        seg_probs = channel_softmax(seg_logits)
        log_order = self.order(seg_probs, features)
        order_maps = log_order.exp()
        logits = read_along(seg_probs, order_maps, self.config.eps)
        out = RecognizerOutput(logits=logits, branches={"vr": logits}, seg_logits=seg_logits, order_maps=order_maps,
                               features=features)
        if targets is not None:
            # The text-mask branch only teaches the shared features, so it runs only when there is a loss to give.
            text_logits = self.text_head(seg_features) if self.text_head is not None else None
            out.losses = self.losses(seg_logits, log_order, logits, targets, text_logits)
            weights = {"seg": self.config.seg_weight, "order": self.config.order_weight, "seq": self.config.seq_weight,
                       "text_mask": self.config.text_mask_weight}
            out.loss = sum(weights[name] * value for name, value in out.losses.items())
            if text_logits is not None and "text_mask" not in out.losses:
                # No masked sample: the branch still joins the graph, at zero weight, because DDP fails a step in
                # which a trainable parameter gets no gradient.
                out.loss = out.loss + 0.0 * text_logits.sum()
        return out

    def losses(self, seg_logits: Tensor, log_order: Tensor, logits: Tensor, targets: Targets,
               text_logits: Tensor | None = None) -> dict[str, Tensor]:
        """``seq`` always; ``seg``, ``order`` (and ``text_mask`` given ``text_logits``) when at least one sample of the
        batch has a mask."""
        return {"seq": sequence_nll(logits, targets.ids), **mask_losses(seg_logits, log_order, targets, text_logits)}

