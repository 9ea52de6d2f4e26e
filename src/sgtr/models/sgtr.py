"""S-GTR: the segmentation VR, with the language model and GTR reasoning over its output in parallel.

Tensor flow: images → VR → ``RecognizerOutput`` (P_V as ``logits``, ``seg_logits``, ``order_maps``, ``features``)
→ LM on the logits ∥ GTR on the maps and features → fusion of the two → Z_F, the final ``logits``. ``branches`` holds
``vr``, ``lm``, ``gtr`` and ``fused`` as present. With one reasoning branch switched off (the ablation rows VR+LM and
VR+GTR) the other one's logits are final and there is no fusion; with both off the model would be the VR, so that is
refused (use model ``vr``).

Losses (given ``Targets``): the VR's own (``seg``, ``order``, ``seq``, weighted inside the VR), ``lm``, ``gtr`` and
``fused`` cross-entropies over the valid steps (characters and EOS), and ``mutual``, the symmetric KL of deep mutual
learning between the LM and GTR distributions on the valid steps, each direction with its target side detached:
KL(sg(P_L) ‖ P_G) teaches GTR, KL(sg(P_G) ‖ P_L) teaches the LM. ``loss`` = fused·L_F + lm·L_LM + gtr·L_GTR +
vr·L_VR + mutual·L_ML with the defaults 1, 1, 1, 0.5, 1 (the losses live in ``sgtr.models.losses``).

``extras``: GTR's graph (``gtr_nodes``, ``gtr_roots``, ``gtr_edges``, ``gtr_valid``) and, with gated fusion,
``fusion_gate``; see ``RecognizerOutput``.

``schedule`` (``sgtr.models.schedule``): a warm-up with the VR and the LM frozen and mutual learning off, mutual
learning's weight ramped up after it, a fusion that starts at the LM's output and a GTR that starts at the VR's; the
training loop reports the step through ``set_step``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from torch import Tensor, nn

from sgtr.data.charset import Charset
from sgtr.models.fusion import FUSIONS, build_fusion
from sgtr.models.gtr import GTR, GTR_PRESETS, GTRConfig
from sgtr.models.language import LM_PRESETS, LanguageModel, LMConfig
from sgtr.models.losses import mutual_kl, sequence_loss
from sgtr.models.output import RecognizerOutput, Targets
from sgtr.models.overrides import replace_checked
from sgtr.models.schedule import Freeze, Schedule, mutual_scale, schedule_config
from sgtr.models.vr import PRESETS as VR_PRESETS
from sgtr.models.vr import SegmentationRecognizer, VRConfig, vr_config

DEFAULT_WEIGHTS = {"fused": 1.0, "lm": 1.0, "gtr": 1.0, "vr": 0.5, "mutual": 1.0}


@dataclass(frozen=True)
class SGTRConfig:
    vr: VRConfig = field(default_factory=VRConfig)
    language: LMConfig = field(default_factory=LMConfig)
    graph: GTRConfig = field(default_factory=GTRConfig)
    lm: bool = True  # the language-model branch
    gtr: bool = True  # the GTR branch
    mutual: bool = True  # mutual learning between them (needs both)
    fusion: str = "gated"  # gated | average | glu, when both branches are on
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    schedule: Schedule = field(default_factory=Schedule)


def sgtr_config(preset: str = "small", *, vr: dict | None = None, language: dict | None = None,
                graph: dict | None = None, weights: dict | None = None, schedule: dict | None = None,
                **switches) -> SGTRConfig:
    """A preset (``small``/``base``, choosing the VR, LM and GTR presets together) with overrides: ``vr``,
    ``language`` and ``graph`` map fields of ``VRConfig``, ``LMConfig`` and ``GTRConfig``; ``weights`` replaces some
    loss weights; ``schedule`` maps ``Schedule`` fields; the switches are ``lm``, ``gtr``, ``mutual`` and ``fusion``.
    Unknown names raise ``ValueError`` listing the valid ones."""
    if preset not in VR_PRESETS or preset not in LM_PRESETS or preset not in GTR_PRESETS:
        raise ValueError(f"unknown S-GTR preset {preset!r}; choose one of: {', '.join(GTR_PRESETS)}")
    config = SGTRConfig(vr=vr_config(preset, **(vr or {})),
                        language=replace_checked(LM_PRESETS[preset], "language option", language or {}),
                        graph=replace_checked(GTR_PRESETS[preset], "graph option", graph or {}))
    config = replace_checked(config, "S-GTR option", switches)
    unknown = sorted(set(weights or {}) - set(DEFAULT_WEIGHTS))
    if unknown:
        raise ValueError(f"unknown loss weight(s) {', '.join(unknown)}; valid: {', '.join(DEFAULT_WEIGHTS)}")
    config = replace(config, weights={**DEFAULT_WEIGHTS, **(weights or {})}, schedule=schedule_config(schedule))
    if not (config.lm or config.gtr):
        raise ValueError("S-GTR with neither lm nor gtr is the VR alone: use model 'vr'")
    if config.mutual and not (config.lm and config.gtr):
        raise ValueError("mutual learning needs both the lm and the gtr branch; set mutual: false")
    if config.fusion not in FUSIONS:
        raise ValueError(f"unknown fusion {config.fusion!r}; choose one of: {', '.join(FUSIONS)}")
    if config.schedule.fusion_from_lm and not (config.lm and config.gtr and config.fusion == "gated"):
        raise ValueError("schedule.fusion_from_lm needs both branches and the gated fusion")
    if config.schedule.gtr_from_vr and not config.gtr:
        raise ValueError("schedule.gtr_from_vr needs the gtr branch")
    return config


class SGTR(nn.Module):
    """``forward(images (B, 3, H, W) in [-1, 1], targets=None) -> RecognizerOutput`` (see the module docstring)."""

    def __init__(self, charset: Charset, config: SGTRConfig | None = None):
        super().__init__()
        self.config = config = config or sgtr_config()
        k, steps = charset.num_classes, charset.max_steps
        self.vr = SegmentationRecognizer(charset, config.vr)
        self.lm = LanguageModel(k, steps, config.language) if config.lm else None
        self.gtr = GTR(k, steps, config.vr.fpn_channels, config.graph) if config.gtr else None
        if config.schedule.gtr_from_vr:
            nn.init.zeros_(self.gtr.classifier.weight)
            nn.init.zeros_(self.gtr.classifier.bias)
        self.fusion = (build_fusion(config.fusion, config.language.width, self.gtr.width, k,
                                    config.schedule.fusion_from_lm)
                       if config.lm and config.gtr else None)
        self.mutual_scale = 1.0  # mutual learning's weight factor; ``set_step`` moves it along the schedule
        self.base_freeze = Freeze()

    def set_step(self, step: int) -> None:
        """Apply the schedule at training step ``step`` (0-based): in the warm-up the VR and the LM are frozen
        (``requires_grad`` off, eval mode) and mutual learning is off; after it, its weight ramps up."""
        schedule = self.config.schedule
        self.base_freeze.apply((self.vr, self.lm), step < schedule.warmup_steps, self.training)
        self.mutual_scale = mutual_scale(schedule, step)

    @classmethod
    def from_preset(cls, charset: Charset, preset: str = "small", **options) -> "SGTR":
        return cls(charset, sgtr_config(preset, **options))

    def forward(self, images: Tensor, targets: Targets | None = None) -> RecognizerOutput:
        host = self.vr(images, targets)
        branches = {"vr": host.logits}
        extras: dict[str, Tensor] = {}
        if self.lm is not None:
            branches["lm"], lm_hidden = self.lm(host.logits)
        if self.gtr is not None:
            gtr = self.gtr(host)
            branches["gtr"] = gtr.logits + host.logits.detach() if self.config.schedule.gtr_from_vr else gtr.logits
            extras.update(gtr.extras())
        if self.fusion is not None:
            branches["fused"], gate = self.fusion(branches["lm"], lm_hidden, branches["gtr"], gtr.hidden)
            if gate is not None:
                extras["fusion_gate"] = gate
        final = branches.get("fused", branches.get("lm", branches.get("gtr")))
        out = RecognizerOutput(logits=final, branches=branches, seg_logits=host.seg_logits,
                               order_maps=host.order_maps, features=host.features, extras=extras)
        if targets is not None:
            out.losses, out.loss = self.losses(host, branches, targets.ids)
        return out

    def losses(self, host: RecognizerOutput, branches: dict[str, Tensor], ids: Tensor
               ) -> tuple[dict[str, Tensor], Tensor]:
        w = self.config.weights
        losses = dict(host.losses)
        total = w["vr"] * host.loss
        for name in ("lm", "gtr", "fused"):
            if name in branches:
                losses[name] = sequence_loss(branches[name], ids)
                total = total + w[name] * losses[name]
        if self.config.mutual:
            losses["mutual"] = mutual_kl(branches["lm"], branches["gtr"], ids)
            total = total + w["mutual"] * self.mutual_scale * losses["mutual"]
        return losses, total
