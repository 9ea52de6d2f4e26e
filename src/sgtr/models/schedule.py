"""The training schedule of a model that adds GTR to a recognizer (S-GTR, the GTR plug-in): switches, and the state
they imply at a given training step.

A GTR model has a *base* — the recognizer with its language model (S-GTR: the VR and the LM; the plug-in: the host)
— and new parts: GTR, the fusion and, for the plug-in, its segmentation head and order maps. Started from a trained
base, the new parts are random, and at full weight from step 0 they pull the base towards them (mutual learning
teaches the LM from a GTR that cannot read yet). The switches:

* ``warmup_steps``: for this many steps the base is frozen (no gradients, eval mode, so its batch statistics and
  dropout stay put too) and mutual learning is off; only the new parts learn;
* ``mutual_ramp_steps``: after the warm-up, mutual learning's weight grows linearly from 0 to its configured value over
  this many steps;
* ``fusion_from_lm``: the gated fusion in its residual form, zero-initialised, so that the fused output starts equal
  to the LM's (see ``sgtr.models.fusion.GatedFusion``);
* ``gtr_from_vr`` (S-GTR): GTR's logits are the VR's step logits, detached, plus GTR's own classifier output, that
  classifier zero-initialised, so GTR's branch starts as a copy of the VR's reading and learns a correction to it —
  a random GTR otherwise reads nothing for hundreds of steps while mutual learning and the fusion lean on it.
  Detached, so GTR's loss does not become a second VR loss: it reaches the VR only through the maps and features
  GTR reads, as without the switch.

All off by default. The model learns the step from ``set_step``, which the training loop calls before every step; a
model that is never told (a test, a script) behaves as after its schedule: nothing frozen, full mutual weight.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from torch import nn

from sgtr.models.overrides import replace_checked


@dataclass(frozen=True)
class Schedule:
    warmup_steps: int = 0  # base frozen and mutual learning off for these first steps
    mutual_ramp_steps: int = 0  # then mutual learning's weight ramps linearly from 0 over these steps
    fusion_from_lm: bool = False  # residual gated fusion starting at the LM's output
    gtr_from_vr: bool = False  # S-GTR: GTR's logits residual on the VR's (detached), starting equal to them


def schedule_config(options: dict | Schedule | None) -> Schedule:
    """A ``Schedule`` from a mapping of its fields (unknown names raise ``ValueError`` listing the valid ones)."""
    if isinstance(options, Schedule):
        return options
    schedule = replace_checked(Schedule(), "schedule option", dict(options or {}))
    for name in ("warmup_steps", "mutual_ramp_steps"):
        value = getattr(schedule, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"schedule.{name} must be a whole number ≥ 0, got {value!r}")
    return schedule


def mutual_scale(schedule: Schedule, step: int) -> float:
    """The factor on mutual learning's weight at training step ``step`` (0-based): 0 in the warm-up, then a linear
    ramp reaching 1 ``mutual_ramp_steps`` steps after it."""
    after = step - schedule.warmup_steps
    if after < 0:
        return 0.0
    if schedule.mutual_ramp_steps == 0:
        return 1.0
    return min(1.0, after / schedule.mutual_ramp_steps)


class Freeze:
    """Freezes a model's base for the warm-up and restores it after: ``apply(modules, frozen, training)`` at every
    step. Freezing turns ``requires_grad`` off for the parameters that had it on (and remembers which) and puts the
    modules in eval mode, again at every frozen step, since the training loop may have put them back in train mode.
    Unfreezing turns ``requires_grad`` back on for those parameters only — parts frozen for their own reasons (a
    pretrained backbone's first stages) stay frozen — and returns the modules to the owner's mode. Outside the
    transitions it touches nothing."""

    def __init__(self):
        self.frozen = False
        self.trainable: list[nn.Parameter] = []

    def apply(self, modules: Iterable[nn.Module | None], frozen: bool, training: bool) -> None:
        modules = [m for m in modules if m is not None]
        if frozen:
            if not self.frozen:
                self.trainable = [p for m in modules for p in m.parameters() if p.requires_grad]
                for param in self.trainable:
                    param.requires_grad_(False)
                self.frozen = True
            for module in modules:
                module.eval()
        elif self.frozen:
            for param in self.trainable:
                param.requires_grad_(True)
            self.trainable, self.frozen = [], False
            for module in modules:
                module.train(training)
