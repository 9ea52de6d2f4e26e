"""``GTRPlugin``: GTR attached to any host recognizer that honours the host contract (``sgtr.models.hosts``).

Tensor flow::

    images → host ─► host logits (step-wise, or CTC frames), features V (B, D, H', W'), [order maps], [step hidden]
    V (bilinearly upsampled to ≥ min_map_size) ─► segmentation head ─► G (B, K, H, W)
    order maps A (B, T, H, W): the host's own (resampled to the grid, renormalised), or learned here
    G, A, V ─► GTR ─► Z_G, H_G
    host step-aligned logits Z_H (CTC frames pooled into T slots, see ``ctc_slots``) ─┐
    Z_G, H_G ─────────────────────────────────────────────────────────────────────────┴► fusion ─► Z_F = final logits

* **Segmentation head**: 3×3 ConvBNAct + 1×1 conv to K classes, class 0 = background.
* **Order maps**: a host with per-step attention (TRBA, SRN, ABINet) supplies them; for the others the VR's ordering
  module learns them (``sgtr.models.ordering.OrderHead``): keys from a U-Net over [softmax G ; V], one
  position-attention query per step. A CTC host may instead give them from its own greedy alignment
  (``order_source: ctc``, ``ctc_alignment_maps``): learned maps start random, so GTR's nodes sit on the wrong
  pixels until they are learned — on the PP-OCR host after 750 steps they still drifted off the characters from
  the third one on, and GTR read 0.1 % — while the alignment is right wherever the host reads right, from step 0.
* **CTC hosts** (CRNN, PP-OCR): the frames are pooled into the T steps with the order maps' column marginals,
  see ``ctc_slots``. The host's own greedy CTC reading is kept too, laid out step-wise (``ctc_steps``), as branch
  ``ctc``; no loss reaches the host's frames through it (it is an argmax alignment).
* **Fusion**: ``sgtr.models.fusion`` with the host in the language model's place. The gated fusion reads the
  host's ``step_hidden`` when it has one, else a Linear projection of the host's step-aligned probabilities (to GTR's
  width).

Output: ``logits`` = Z_F (``ctc`` false, whatever the host); ``branches`` = the host's own, ``host`` (Z_H), ``ctc``
(CTC hosts), ``gtr`` and ``fused``, all (B, T, K) step-wise, so every reader decodes them alike; ``seg_logits``,
``order_maps`` and ``features`` on the plug-in's grid; ``extras`` = GTR's graph and, gated, ``fusion_gate``.

Losses (given ``Targets``; all from ``sgtr.models.losses``), each with a weight in ``PluginConfig.weights``
(total = Σ weight · loss, the host's own losses entering through their weighted total, weight ``host``):

* the host's own (e.g. ``ctc``, ``ce``), unchanged;
* ``gtr``, ``fused``: cross-entropy over the valid steps;
* ``seg_seq``: L_V,seq, cross-entropy of Σ_p softmax(G)[:, p] · A_t[p] — what trains the segmentation head without
  character boxes;
* ``seg`` and, for learned order maps, ``order``: the VR's mask losses (``mask_losses``) on samples
  with character masks (synthetic data). The host's own attention keeps its own supervision;
* ``slots`` (CTC hosts with learned order maps): cross-entropy of the pooled Z_H, which aligns the order maps with
  the CTC frames;
* ``mutual``: symmetric-KL mutual learning (``mutual_kl``) between GTR and the host's language
  branch when it has one (SRN, ABINet), else its step-aligned output (with alignment maps: its reading, through
  which only GTR learns).

Weights default to 1 for the host, ``gtr``, ``fused``, ``slots`` and ``mutual`` and 0.5 for the segmentation terms
(the paper's 0.5 on the visual terms; ``order`` is KL on a cross-entropy scale, so not ×0.1, as in the VR).

``schedule`` (``sgtr.models.schedule``): a warm-up with the host frozen and mutual learning off, mutual learning's
weight ramped up after it, and a fusion that starts at the host's step-aligned output Z_H; the training loop reports
the step through ``set_step``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sgtr.data.charset import EOS_ID, Charset
from sgtr.models.decoding import ctc_emitting
from sgtr.models.fusion import FUSIONS, build_fusion
from sgtr.models.gtr import GTR, GTR_PRESETS, GTRConfig
from sgtr.models.layers import ConvBNAct, channel_softmax
from sgtr.models.losses import mask_losses, mutual_kl, sequence_loss
from sgtr.models.ordering import OrderHead, read_along
from sgtr.models.output import RecognizerOutput, Targets
from sgtr.models.overrides import replace_checked
from sgtr.models.schedule import Freeze, Schedule, mutual_scale, schedule_config

DEFAULT_WEIGHTS = {"host": 1.0, "gtr": 1.0, "fused": 1.0, "slots": 1.0, "mutual": 1.0, "seg_seq": 0.5, "seg": 0.5,
                   "order": 0.5}

HOST_ATTRIBUTES = ("feature_channels", "hidden_width", "language_branch", "has_order_maps")

# Log-probability of the non-EOS classes at the steps after a CTC reading ends: e^-20 ≈ 2e-9, too small to change a
# reading, and finite, so multiplying it by 0 stays 0 (−inf would give NaN). Not lower: where a reading is shorter than
# its label the fused loss sums −ABSENT_LOG_PROB per missing character; at −1e4 an untrained host's batch logged a
# fused loss near 9,000 that buried every other term on the training curves (the gradients are the same either way).
ABSENT_LOG_PROB = -20.0


@dataclass(frozen=True)
class PluginConfig:
    """GTR's config, the plug-in's heads, fusion, mutual learning and loss weights (see the module docstring)."""

    graph: GTRConfig = field(default_factory=GTRConfig)
    min_map_size: tuple[int, int] = (8, 32)  # coarser host features are upsampled to at least this
    seg_channels: int = 64  # the segmentation head's 3×3 conv
    order_channels: int = 32  # key/query width of learned order maps (hosts without their own)
    order_depth: int = 3  # U-Net levels of their keys
    fusion: str = "gated"  # gated | mixture | average | glu (``sgtr.models.fusion``)
    # CTC hosts: what the fusion reads as the host's step-wise output. ``slots``: the frames pooled by the learned
    # order maps (Z_H); ``reading``: the host's own greedy CTC reading laid out step-wise (``ctc_steps``), so a
    # fusion that starts at the host's output starts at exactly what the host reads, whatever the order maps know yet.
    ctc_fusion: str = "slots"
    # CTC hosts: where the order maps come from. ``learned``: the ordering module (trained by the mask, slot and
    # segmentation losses); ``ctc``: the host's own greedy alignment (``ctc_alignment_maps``), right wherever the host
    # reads right from the first step, and needing no character masks.
    order_source: str = "learned"
    # ``ctc`` order maps: frames either side of a character's emitting frame that its map covers. 0: the emitting
    # frame alone (8 pixels wide on the PP-OCR host at height 48, inside the character). At 1 (24 pixels) a step's
    # nodes often sat on its neighbour's strokes and GTR read the neighbour: PAY → PYY, BERTH → BETTH.
    alignment_reach: int = 0
    # CTC hosts: also give the seg head, the order maps and GTR the frames the host's classifier reads
    # (``extras["frame_features"]``, each column of the grid taking its frame's, every row alike) beside the 2-D
    # map. The map is what the backbone saw before the host's sequence model; the frames carry the word's context,
    # and on them a node is as easy to classify as the host's own frame.
    frame_features: bool = False
    mutual: bool = True
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    eps: float = 1e-6  # log(p + eps) of pooled probabilities (CTC slots, L_V,seq)
    schedule: Schedule = field(default_factory=Schedule)  # warm-up with the host frozen, mutual ramp, fusion start


PRESETS: dict[str, PluginConfig] = {
    "small": PluginConfig(),
    "base": PluginConfig(graph=GTR_PRESETS["base"], seg_channels=256, order_channels=128, order_depth=4),
}


def plugin_config(preset: str = "small", *, graph: dict | None = None, weights: dict | None = None,
                  schedule: dict | None = None, **fields) -> PluginConfig:
    """A preset (``small``/``base``, also choosing GTR's) with overrides: ``graph`` maps ``GTRConfig`` fields,
    ``weights`` replaces some loss weights, ``schedule`` maps ``Schedule`` fields, the rest are ``PluginConfig``
    fields. Unknown names raise ``ValueError``
    listing the valid ones."""
    if preset not in PRESETS:
        raise ValueError(f"unknown plug-in preset {preset!r}; choose one of: {', '.join(PRESETS)}")
    base = PRESETS[preset]
    graph_config = replace_checked(base.graph, "graph option", graph or {})
    config = replace_checked(base, "plug-in option", {**fields, "graph": graph_config})
    unknown = sorted(set(weights or {}) - set(DEFAULT_WEIGHTS))
    if unknown:
        raise ValueError(f"unknown loss weight(s) {', '.join(unknown)}; valid: {', '.join(DEFAULT_WEIGHTS)}")
    if config.ctc_fusion not in ("slots", "reading"):
        raise ValueError(f"ctc_fusion must be 'slots' or 'reading', got {config.ctc_fusion!r}")
    if config.order_source not in ("learned", "ctc"):
        raise ValueError(f"order_source must be 'learned' or 'ctc', got {config.order_source!r}")
    if not isinstance(config.alignment_reach, int) or config.alignment_reach < 0:
        raise ValueError(f"alignment_reach must be a whole number ≥ 0, got {config.alignment_reach!r}")
    if config.fusion not in FUSIONS:
        raise ValueError(f"unknown fusion {config.fusion!r}; choose one of: {', '.join(FUSIONS)}")
    config = replace(config, weights={**DEFAULT_WEIGHTS, **(weights or {})}, schedule=schedule_config(schedule))
    if config.schedule.fusion_from_lm and config.fusion != "gated":
        raise ValueError("schedule.fusion_from_lm needs the gated fusion (the mixture starts at the host's output "
                         "by construction)")
    if config.schedule.gtr_from_vr:
        raise ValueError("schedule.gtr_from_vr is S-GTR's (GTR on the VR's step logits); a plug-in's fusion starts "
                         "at the host's reading with fusion_from_lm or the mixture fusion")
    return config


def interval_overlaps(cells: int, frames: int, device: torch.device | None = None) -> Tensor:
    """(cells, frames): the share of each of ``cells`` equal intervals of [0, 1] that falls into each of ``frames``
    equal intervals. Rows sum to 1, so a distribution over cells maps to one over frames with its mass kept exactly,
    for any ratio (linear interpolation would drop mass when shrinking and need renormalising)."""
    cell_edges = torch.linspace(0, 1, cells + 1, device=device)
    frame_edges = torch.linspace(0, 1, frames + 1, device=device)
    low = torch.maximum(cell_edges[:-1, None], frame_edges[None, :-1])
    high = torch.minimum(cell_edges[1:, None], frame_edges[None, 1:])
    return (high - low).clamp_min(0) * cells


def ctc_slots(frame_logits: Tensor, order_maps: Tensor, eps: float = 1e-6) -> Tensor:
    """CTC frame logits (B, F, K) → step log-probabilities (B, T, K).

    Step t's weights over the frames are its order map's column marginal Σ_h A_t(h, w), carried from the map's W'
    columns to the F frames by ``interval_overlaps`` (both span the image width); the step's distribution is the
    weighted mean of the frames' posteriors. Blank and EOS are both class 0, so a step that looks at blank frames
    (the background after the word) reads EOS. A CTC character is often a one-frame spike between blanks, so a step
    whose map spreads over its whole character would read mostly blank: the ``slots`` loss pulls the maps onto the
    frames that carry their character, and those frames towards it (CTC allows that: repeats collapse)."""
    columns = order_maps.sum(dim=2)  # (B, T, W'), each row sums to 1
    weights = columns @ interval_overlaps(columns.shape[-1], frame_logits.shape[1], columns.device)
    probs = torch.einsum("btf,bfk->btk", weights, frame_logits.float().softmax(dim=-1))
    return torch.log(probs + eps)


def ctc_assignment(ids: Tensor, steps: int) -> Tensor:
    """(B, F) greedy CTC paths → (B, F, T) bool: frame f emits the t-th character of its reading (characters beyond
    T have no step)."""
    emitted = ctc_emitting(ids)
    slot = emitted.long().cumsum(dim=1) - 1  # (B, F): which character an emitting frame reads
    return emitted[..., None] & (slot[..., None] == torch.arange(steps, device=ids.device))


def ctc_alignment_maps(frame_logits: Tensor, steps: int, size: tuple[int, int], reach: int = 0) -> Tensor:
    """Order maps (B, T, H', W') from a CTC host's greedy alignment: step t looks at the frames nearer to its
    character's emitting frame than to any other's, at most ``reach`` frames away, carried to the W' columns by
    ``interval_overlaps`` and spread evenly over the H' rows (the segmentation's foreground then picks the character's
    pixels, ``build_graph``). The steps after the reading's last character look at the frames after its reach — the
    background after the word, as the VR's EOS map does — or at the whole map when the word reaches the last frame.
    (Not at every unclaimed frame: the gaps between widely spaced characters are unclaimed too, and an EOS step whose
    nodes sat in them read a character there.) Each map sums to 1. A function of the frames' argmax: no gradient."""
    with torch.no_grad():
        ids = frame_logits.argmax(dim=-1)
        b, frames = ids.shape
        frame = torch.arange(frames, device=ids.device)
        owns = ctc_assignment(ids, steps)  # (B, F, T)
        where = (owns.float() * frame[None, :, None]).sum(dim=1)  # (B, T) emitting frame of t
        present = owns.any(dim=1)  # (B, T)
        distance = (frame[None, :, None] - where[:, None, :]).abs().masked_fill(~present[:, None, :], torch.inf)
        nearest = distance.min(dim=-1, keepdim=True)
        claimed = (distance == nearest.values) & (nearest.values <= reach)  # (B, F, T); ties: both characters
        last = where.masked_fill(~present, -reach - 1).amax(dim=1, keepdim=True)  # (B, 1); nothing read: all free
        free = frame > last + reach  # (B, F): the frames after the word
        free = free | ~free.any(dim=1, keepdim=True)  # none: the whole width
        # Float operands: ONNX Runtime has no Where on booleans.
        weights = torch.where(present[:, None, :], claimed.float(), free[..., None].float())  # (B, F, T)
        columns = weights.transpose(1, 2) @ interval_overlaps(frames, size[1], ids.device)  # (B, T, W')
        columns = columns / columns.sum(dim=-1, keepdim=True)
        return (columns[:, :, None, :] / size[0]).expand(b, steps, *size).to(frame_logits.dtype)


def frames_on_grid(frames: Tensor, size: tuple[int, int]) -> Tensor:
    """Frame features (B, F, D) → (B, D, H', W'): each of the W' columns the mean of the frames it overlaps
    (``interval_overlaps``; both span the image width), the same in every row."""
    columns = interval_overlaps(size[1], frames.shape[1], frames.device).to(frames.dtype) @ frames  # (B, W', D)
    return columns.transpose(1, 2)[:, :, None, :].expand(-1, -1, size[0], -1)


def ctc_steps(frame_logits: Tensor, steps: int) -> Tensor:
    """The greedy CTC reading of frame logits (B, F, K) as step-wise log-probabilities (B, T, K), so that the
    step-wise decoder reads exactly the text the CTC decoder would: step t holds the log-posterior of the frame that
    emits the t-th character (a non-blank frame unlike its predecessor), the steps after the last character are EOS
    with certainty, and characters beyond T are dropped. Confidence then multiplies the emitting frames only."""
    log_probs = frame_logits.float().log_softmax(dim=-1)
    ids = log_probs.argmax(dim=-1)
    assign = ctc_assignment(ids, steps).to(log_probs.dtype)  # (B, F, T)
    read = torch.einsum("bft,bfk->btk", assign, log_probs)
    classes = torch.arange(log_probs.shape[-1], device=ids.device)
    eos = torch.where(classes == EOS_ID, 0.0, ABSENT_LOG_PROB)
    return read + (1 - assign.sum(dim=1))[..., None] * eos


class GTRPlugin(nn.Module):
    """``forward(images (B, 3, H, W) in [-1, 1], targets=None) -> RecognizerOutput`` (see the module docstring)."""

    def __init__(self, host: nn.Module, charset: Charset, config: PluginConfig | None = None):
        super().__init__()
        self.config = config = config or plugin_config()
        missing = [name for name in HOST_ATTRIBUTES if not hasattr(host, name)]
        if missing:
            raise ValueError(f"{type(host).__name__} lacks the host attribute(s) {', '.join(missing)} the plug-in "
                             "needs (see sgtr.models.hosts)")
        self.host = host
        k, self.steps = charset.num_classes, charset.max_steps
        if config.frame_features and not getattr(host, "frame_channels", 0):
            raise ValueError(f"frame_features needs a CTC host with frame features; {type(host).__name__} has none")
        d = host.feature_channels + (host.frame_channels if config.frame_features else 0)
        self.seg_head = nn.Sequential(ConvBNAct(d, config.seg_channels, 3), nn.Conv2d(config.seg_channels, k, 1))
        # Order maps from the CTC alignment replace learned ones; a host's own attention maps win over both.
        self.aligned = config.order_source == "ctc" and not host.has_order_maps
        self.order = (None if host.has_order_maps or self.aligned
                      else OrderHead(k, d, self.steps, config.order_channels, config.order_depth))
        self.gtr = GTR(k, self.steps, d, config.graph)
        width = host.hidden_width or self.gtr.width
        self.fusion = build_fusion(config.fusion, width, self.gtr.width, k, config.schedule.fusion_from_lm)
        # The gated and mixture fusions read hidden states: a host without one is represented by its projected
        # probabilities.
        self.host_state = (nn.Linear(k, width) if config.fusion in ("gated", "mixture") and not host.hidden_width
                           else None)
        self.mutual_scale = 1.0  # mutual learning's weight factor; ``set_step`` moves it along the schedule
        self.base_freeze = Freeze()

    def set_step(self, step: int) -> None:
        """Apply the schedule at training step ``step`` (0-based): in the warm-up the host (its language model
        included) is frozen and mutual learning is off; the plug-in's own parts learn. After it, the mutual weight
        ramps up."""
        schedule = self.config.schedule
        self.base_freeze.apply((self.host,), step < schedule.warmup_steps, self.training)
        self.mutual_scale = mutual_scale(schedule, step)

    def forward(self, images: Tensor, targets: Targets | None = None) -> RecognizerOutput:
        host = self.host(images, targets)
        features = self.upsample(host.features)
        if self.config.frame_features:
            features = torch.cat((features, frames_on_grid(host.extras["frame_features"], features.shape[-2:])), 1)
        seg_logits = self.seg_head(features)
        seg_probs = channel_softmax(seg_logits)
        aligned = self.aligned
        if aligned and not host.ctc:
            raise ValueError(f"order_source 'ctc' needs a CTC host; {type(self.host).__name__} is not one")
        log_order = None
        if aligned:
            order_maps = ctc_alignment_maps(host.logits, self.steps, features.shape[-2:], self.config.alignment_reach)
        elif self.order is not None:
            log_order = self.order(seg_probs, features)
            order_maps = log_order.exp()
        else:
            order_maps = self.resample(host.order_maps, features.shape[-2:])
        if not host.ctc:
            slots = host.logits
        elif self.config.ctc_fusion == "slots" or not aligned:  # the fusion's input, or the slot loss's
            slots = ctc_slots(host.logits, order_maps, self.config.eps)
        else:  # alignment maps and the reading fused: nothing reads pooled slots
            slots = None
        # The reading is a fixed alignment (an argmax): the plug-in's losses do not reach the host's frames through
        # it, since a misaligned reading would teach frames the next character's class. The host keeps its CTC loss.
        reading = ctc_steps(host.logits.detach(), self.steps) if host.ctc else None
        step_logits = reading if host.ctc and self.config.ctc_fusion == "reading" else slots
        gtr = self.gtr(RecognizerOutput(logits=step_logits, seg_logits=seg_logits, order_maps=order_maps,
                                        features=features))
        if self.host_state is not None:
            host_hidden = self.host_state(step_logits.softmax(dim=-1))
        else:
            host_hidden = host.extras.get("step_hidden")
        fused, gate = self.fusion(step_logits, host_hidden, gtr.logits, gtr.hidden)
        branches = {**host.branches, "host": step_logits, "gtr": gtr.logits, "fused": fused}
        extras = gtr.extras()
        if host.ctc:
            branches["ctc"] = reading
            extras["host_frames"] = host.logits  # the frames themselves, for distillation from a CTC teacher
        if gate is not None:
            extras["fusion_gate"] = gate
        out = RecognizerOutput(logits=fused, branches=branches, seg_logits=seg_logits, order_maps=order_maps,
                               features=features, extras=extras)
        if targets is not None:
            seg_seq = read_along(seg_probs, order_maps, self.config.eps)
            own = {"gtr": sequence_loss(gtr.logits, targets.ids), "fused": sequence_loss(fused, targets.ids),
                   "seg_seq": sequence_loss(seg_seq, targets.ids), **mask_losses(seg_logits, log_order, targets)}
            if host.ctc and not aligned:
                own["slots"] = sequence_loss(slots, targets.ids)
            if self.config.mutual:
                partner = (host.branches[self.host.language_branch] if self.host.language_branch
                           else reading if aligned else slots)
                own["mutual"] = mutual_kl(partner, gtr.logits, targets.ids)
            clash = sorted(set(own) & set(host.losses))
            if clash:
                raise ValueError(f"host loss name(s) {', '.join(clash)} clash with the plug-in's; rename them")
            w = self.config.weights
            out.losses = {**host.losses, **own}
            scale = {"mutual": self.mutual_scale}
            out.loss = w["host"] * host.loss + sum(w[name] * scale.get(name, 1.0) * value
                                                   for name, value in own.items())
        return out

    def upsample(self, features: Tensor) -> Tensor:
        """Host features bilinearly enlarged to at least ``min_map_size`` (each side on its own), so characters
        cover several pixels each: GTR's nodes are pixels."""
        size = tuple(max(have, want) for have, want in zip(features.shape[-2:], self.config.min_map_size))
        if size == tuple(features.shape[-2:]):
            return features
        return F.interpolate(features, size=size, mode="bilinear", align_corners=False)

    @staticmethod
    def resample(order_maps: Tensor, size: tuple[int, int]) -> Tensor:
        """A host's order maps on the plug-in's grid: bilinear (a convex mix of non-negative values, so still
        non-negative), renormalised to sum to 1 per map."""
        if tuple(order_maps.shape[-2:]) == tuple(size):
            return order_maps
        maps = F.interpolate(order_maps, size=size, mode="bilinear", align_corners=False)
        return maps / maps.sum(dim=(2, 3), keepdim=True).clamp_min(torch.finfo(maps.dtype).tiny)
