"""Shared setup of the host recognizer tests: a short-label charset, narrow option sets for each host (used by
``test_hosts``, which checks all ten host/GTR models alike, and by each host's own ``test_host_*``), the
memorising settings, and the host-contract check.

``CHARSET`` caps labels at 8 characters (T = 9 steps): the memorising words have 3 to 8, and a third of the steps
makes the overfit runs (per-step attention, a T-step decoder loop) proportionally cheaper on the CPU."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import torch
from torch import nn

from sgtr.data.charset import Charset
from sgtr.models.factory import build_model
from sgtr.models.output import RecognizerOutput, Targets
from tests.helpers.render import random_words, render_batch

CHARSET = Charset.from_spec("36", max_length=8)

ABINET_LANGUAGE = {"width": 32, "heads": 2, "ffn": 64, "layers": 1}
# Each host's ``small`` preset narrowed for CI speed (factory options).
NARROW = {
    "crnn": {"widths": (8, 16, 16, 32), "depths": (1, 1, 1, 1), "hidden": 16, "layers": 1},
    "pren": {"stem": (16,), "widths": (32, 48, 64), "depths": (1, 1, 1), "part": 32, "pool_channels": 16},
    "trba": {"tps_widths": (8, 16), "tps_hidden": 32, "stem": (8,), "widths": (16, 32), "depths": (1, 1),
             "strides": (2, 1), "lstm_hidden": 32, "hidden": 32, "embed": 16},
    "srn": {"stem": (8,), "widths": (16, 32), "depths": (1, 1), "strides": (2, 1), "heads": 2, "ffn": 64,
            "attention": 16},
    # Two iterations, so exports show the refinement loop unrolled.
    "abinet": {"stem": (8,), "widths": (16, 32), "depths": (1, 1), "strides": (2, 1), "heads": 2, "ffn": 64,
               "key_channels": 32, "language": ABINET_LANGUAGE, "iterations": 2},
}
# Plug-in options for tests: narrow segmentation and ordering heads; GTR keeps its ``small`` graph.
TINY_PLUGIN = {"plugin": {"seg_channels": 16, "order_channels": 16}}


@dataclass(frozen=True)
class Memorising:
    """How a host, alone and plugged, memorises 32 words in the overfit test: options over ``NARROW``, Adam's
    learning rate, the step budget (with room over the steps the seeded runs need), and whether BatchNorm
    statistics are recomputed before each check (see ``tests.helpers.memorise.memorise``)."""

    options: dict = field(default_factory=dict)
    lr: float = 2e-3
    max_steps: int = 250
    recalibrate_bn: bool = False


# Learning rates chosen for the fewest steps: seeded runs (model seeds 0, 1, 2) read all 32 words, alone / plugged, by
# step crnn 60–70 / 130–160, pren 30 / 40–50, trba 90–150 / 180–220, srn 110–140 / 160–200, abinet 100–140 / 110–190;
# the budgets leave at least half as much again.
MEMORISING = {
    # Wider than NARROW, and 16 frames (enough for 3–8 characters): with 32 frames CTC sits on its all-blank plateau
    # twice as long.
    "crnn": Memorising({"widths": (16, 32, 64, 128), "width_strides": (2, 2, 2, 1), "hidden": 128}, 4e-3, 250, True),
    "pren": Memorising({}, 4e-3, 150, True),
    "trba": Memorising({"lstm_hidden": 48, "hidden": 48, "embed": 32}, 5e-3, 350),
    "srn": Memorising({"dropout": 0.0}, 8e-3, 300),
    "abinet": Memorising({"dropout": 0.0, "language": {**ABINET_LANGUAGE, "dropout": 0.0}, "iterations": 1},
                         1.2e-2, 300),
}


def factory_options(host: str, gtr: bool, **overrides) -> dict:
    """Factory options of the narrow host alone, or wrapped in a narrow plug-in."""
    options = {**NARROW[host], **overrides}
    return {**options, "gtr": True, **TINY_PLUGIN} if gtr else options


def narrow_host(host: str, **overrides) -> nn.Module:
    """The narrow host alone, built through the factory."""
    return build_model(host, CHARSET, **factory_options(host, False, **overrides))


def words_batch(n: int = 32) -> tuple[list[str], torch.Tensor, Targets]:
    """``n`` random words (seed 0) rendered at 32×128 with their targets."""
    words = random_words(n, CHARSET, random.Random(0))
    return (words, *render_batch(words, CHARSET))


def check_contract(model: nn.Module, out: RecognizerOutput, batch: int, branches: set[str], losses: set[str]) -> None:
    """Shapes of every output the GTR plug-in relies on from an attention host, order maps on the features' grid
    summing to 1, the named branches and losses, and a finite total loss."""
    t, k = CHARSET.max_steps, CHARSET.num_classes
    assert out.logits.shape == (batch, t, k) and not out.ctc
    assert set(out.branches) == branches and all(v.shape == (batch, t, k) for v in out.branches.values())
    assert out.features.shape[:2] == (batch, model.feature_channels)
    assert model.has_order_maps and out.order_maps.shape == (batch, t, *out.features.shape[-2:])
    torch.testing.assert_close(out.order_maps.sum(dim=(2, 3)), torch.ones(batch, t))
    assert out.extras["step_hidden"].shape == (batch, t, model.hidden_width)
    assert set(out.losses) == losses and torch.isfinite(out.loss)
