"""The training schedule of S-GTR and the GTR plug-in: the warm-up freezes the base (VR and LM, or the host) and turns
mutual learning off while GTR and the fusion learn, mutual learning's weight ramps up from 0 after it, the
residual fusion starts exactly at the LM's (or the host's) output, and S-GTR's residual GTR at the VR's."""

from __future__ import annotations

import pytest
import torch

from sgtr.data.batching import Batch, Targets
from sgtr.data.charset import Charset
from sgtr.engine.config import DEFAULTS
from sgtr.engine.system import RecognitionSystem
from sgtr.models.factory import build_model
from sgtr.models.schedule import Schedule, mutual_scale, schedule_config
from sgtr.models.sgtr import SGTR, sgtr_config

CHARSET = Charset.from_spec("36")
TINY_SGTR = {"vr": {"stem": (8,), "widths": (16, 16, 32), "depths": (1, 1, 1), "fpn_channels": 16,
                    "order_channels": 16},
             "language": {"width": 32, "heads": 2, "ffn": 64, "layers": 1},
             "graph": {"part": 4, "spatial": (8, 8)}}
TINY_CRNN = {"widths": (8, 16, 16, 32), "depths": (1, 1, 1, 1), "hidden": 16, "layers": 1}
TINY_SRN = {"stem": (8,), "widths": (16, 16, 32), "depths": (1, 1, 1), "transformer_layers": 1, "heads": 2,
            "ffn": 32, "attention": 16, "gsrm_layers": 1}
TINY_PLUGIN = {"seg_channels": 8, "order_channels": 8, "graph": {"part": 4, "spatial": (8, 8)}}


def batch(n: int = 3) -> tuple[torch.Tensor, Targets]:
    g = torch.Generator().manual_seed(0)
    images = torch.rand(n, 3, 32, 128, generator=g) * 2 - 1
    return images, Targets(CHARSET.encode_batch(["hello", "a1b2", "xyz"][:n]))


def tiny_sgtr(**schedule) -> SGTR:
    return SGTR.from_preset(CHARSET, "small", **TINY_SGTR, schedule=schedule)


def plugged(host: str, options: dict, **schedule):
    return build_model(host, CHARSET, **options, gtr=True, plugin={**TINY_PLUGIN, "schedule": schedule})


def train_step(model, images, targets) -> dict[str, torch.Tensor]:
    """One Adam step; returns the parameters before it."""
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    optimizer = torch.optim.Adam([p for p in model.parameters()], lr=1e-2)
    model(images, targets).loss.backward()
    optimizer.step()
    return before


def moved(model, before, prefix: str) -> bool:
    return any(not torch.equal(p, before[name]) for name, p in model.named_parameters() if name.startswith(prefix))


def test_warmup_trains_gtr_and_fusion_with_vr_and_lm_frozen():
    images, targets = batch()
    model = tiny_sgtr(warmup_steps=5).train()
    model.set_step(0)
    assert not model.vr.training and not model.lm.training and model.gtr.training
    assert not any(p.requires_grad for p in [*model.vr.parameters(), *model.lm.parameters()])
    norms = [m for m in model.vr.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    statistics = [m.running_mean.clone() for m in norms]
    before = train_step(model, images, targets)
    assert not moved(model, before, "vr.") and not moved(model, before, "lm.")
    assert moved(model, before, "gtr.") and moved(model, before, "fusion.")
    # Batch statistics of the frozen VR did not move either (eval mode).
    assert norms and all(torch.equal(m.running_mean, s) for m, s in zip(norms, statistics))
    model.set_step(5)  # the warm-up is over: everything trains
    assert model.vr.training and all(p.requires_grad for p in model.parameters())
    before = train_step(model, images, targets)
    assert moved(model, before, "vr.") and moved(model, before, "lm.")


def test_mutual_learning_is_off_in_the_warmup_then_ramps_from_zero():
    schedule = Schedule(warmup_steps=10, mutual_ramp_steps=20)
    assert [mutual_scale(schedule, s) for s in (0, 9, 10, 15, 20, 30, 100)] == [0, 0, 0, 0.25, 0.5, 1, 1]
    assert mutual_scale(Schedule(warmup_steps=3), 3) == 1.0
    images, targets = batch()
    model = tiny_sgtr(warmup_steps=10, mutual_ramp_steps=20).eval()  # eval: the same forward at every step
    totals, rest = {}, set()
    for step, scale in ((0, 0.0), (20, 0.5), (30, 1.0)):
        model.set_step(step)
        with torch.no_grad():
            out = model(images, targets)
        totals[step] = out.loss.item()
        rest.add(round((out.loss - scale * out.losses["mutual"]).item(), 5))  # the other terms, the same each time
    assert len(rest) == 1 and totals[0] < totals[20] < totals[30]


def test_a_model_never_told_its_step_runs_after_its_schedule():
    model = tiny_sgtr(warmup_steps=100, mutual_ramp_steps=100)
    assert model.mutual_scale == 1.0 and all(p.requires_grad for p in model.parameters())


@pytest.mark.parametrize("switch, branch, base", [("fusion_from_lm", "fused", "lm"), ("gtr_from_vr", "gtr", "vr")])
def test_a_residual_branch_starts_equal_to_its_base_and_a_plain_one_does_not(switch, branch, base):
    images, _ = batch()
    with torch.no_grad():
        out = tiny_sgtr(**{switch: True}).eval()(images)
        plain = tiny_sgtr().eval()(images)
    torch.testing.assert_close(out.branches[branch], out.branches[base], rtol=0, atol=0)
    assert not torch.allclose(plain.branches[branch], plain.branches[base])


def test_sgtr_fused_logits_stay_equal_to_the_lm_logits_when_the_lm_changes():
    images, _ = batch()
    model = tiny_sgtr(fusion_from_lm=True).eval()
    with torch.no_grad():
        for p in model.lm.parameters():  # a trained LM loaded after construction
            p.add_(torch.randn_like(p))
        out = model(images)
    torch.testing.assert_close(out.branches["fused"], out.branches["lm"], rtol=0, atol=0)


def test_residual_fusion_learns_from_the_first_step():
    images, targets = batch()
    model = tiny_sgtr(fusion_from_lm=True).train()
    model(images, targets).losses["fused"].backward()
    assert model.fusion.classifier.weight.grad.abs().sum() > 0


def test_residual_gtr_loss_reaches_the_vr_only_through_gtr_itself():
    images, targets = batch()
    model = tiny_sgtr(gtr_from_vr=True).train()
    model(images, targets).losses["gtr"].backward()
    # GTR's classifier starts at zero, so the only path left into the VR would be the residual, which is detached.
    assert all(p.grad is None or not p.grad.any() for p in model.vr.parameters())
    assert model.gtr.classifier.weight.grad.abs().sum() > 0


def test_gtr_from_vr_needs_the_sgtr_gtr_branch():
    with pytest.raises(ValueError, match="gtr_from_vr needs the gtr branch"):
        sgtr_config("small", gtr=False, mutual=False, schedule={"gtr_from_vr": True})
    with pytest.raises(ValueError, match="gtr_from_vr is S-GTR's"):
        build_model("crnn", CHARSET, gtr=True, plugin={"schedule": {"gtr_from_vr": True}})


@pytest.mark.parametrize("host, options", [("crnn", TINY_CRNN), ("srn", TINY_SRN)])
def test_plugin_fused_logits_start_equal_to_the_host_logits(host, options):
    images, _ = batch()
    model = plugged(host, options, fusion_from_lm=True).eval()
    with torch.no_grad():
        out = model(images)
    torch.testing.assert_close(out.branches["fused"], out.branches["host"], rtol=0, atol=0)


def test_plugin_warmup_freezes_the_host_and_trains_its_own_parts():
    images, targets = batch()
    model = plugged("crnn", TINY_CRNN, warmup_steps=2).train()
    model.set_step(1)
    assert model.mutual_scale == 0.0
    before = train_step(model, images, targets)
    assert not moved(model, before, "host.")
    assert all(moved(model, before, part) for part in ("gtr.", "fusion.", "seg_head.", "order."))
    model.set_step(2)
    assert model.host.training and model.mutual_scale == 1.0


@pytest.mark.parametrize("options, message", [
    ({"warmup": 3}, "unknown schedule option.*warmup_steps"),
    ({"warmup_steps": -1}, "whole number"),
    ({"mutual_ramp_steps": 2.5}, "whole number"),
])
def test_bad_schedule_options_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        schedule_config(options)


def test_fusion_from_lm_needs_the_gated_fusion():
    with pytest.raises(ValueError, match="fusion_from_lm needs"):
        sgtr_config("small", fusion="average", schedule={"fusion_from_lm": True})
    with pytest.raises(ValueError, match="fusion_from_lm needs"):
        build_model("crnn", CHARSET, gtr=True, plugin={"fusion": "glu", "schedule": {"fusion_from_lm": True}})


@pytest.mark.filterwarnings("ignore:You are trying to `self.log")  # no Trainer: the step's logging is a no-op
def test_the_training_step_tells_the_model_its_step():
    images, targets = batch()
    model = tiny_sgtr(warmup_steps=5)
    system = RecognitionSystem(model, CHARSET, DEFAULTS)
    system.training_step(Batch(images, targets, ["a", "b", "c"], ["hello", "a1b2", "xyz"]), 0)
    assert model.mutual_scale == 0.0 and not any(p.requires_grad for p in model.vr.parameters())


def test_parts_frozen_for_their_own_reasons_stay_frozen_after_the_warmup():
    model = tiny_sgtr(warmup_steps=2).train()
    own = model.vr.backbone.stem  # e.g. a pretrained backbone's first stage, frozen by its owner
    own.requires_grad_(False)
    for step in range(4):
        model.set_step(step)
    assert not any(p.requires_grad for p in own.parameters())
    others = [p for name, p in model.named_parameters() if not name.startswith("vr.backbone.stem")]
    assert all(p.requires_grad for p in others) and model.vr.training


def test_without_a_warmup_the_schedule_touches_no_parameter():
    model = tiny_sgtr().train()
    model.vr.requires_grad_(False)
    model.set_step(0)
    assert not any(p.requires_grad for p in model.vr.parameters())
