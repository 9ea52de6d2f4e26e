"""Every host can stand on PP-OCRv6-small's pretrained stages (``backbone: ppocr``): it builds, reads a 48-high
batch, and trains through its frozen stages without changing them; ``trainer.init_from`` an imported file fills
those stages wherever they sit in the model."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sgtr.data.charset import PAD_ID, Charset
from sgtr.engine.trainer import read_model_state
from sgtr.models.backbones.ppocr import PPOCRBackbone
from sgtr.models.factory import build_model
from sgtr.models.output import Targets
from sgtr.models.warm_start import load_matching
from sgtr.serialization import CheckpointError

CHARSET = Charset.from_spec("36", max_length=8)
# The channels of each host's ``features`` on the stages: the deepest map, but PREN's stride-4 level.
FEATURE_CHANNELS = {"crnn": 384, "trba": 384, "srn": 384, "abinet": 384, "pren": 96}
HOSTS = list(FEATURE_CHANNELS)
VR_ON_STAGES = {"backbone": "ppocr", "out_stride": 4, "key_stride": 4, "order_depth": 2}
# Every place a model can hold the stages: each host's encoder, a plugged host's ``host.``, the VR and S-GTR's VR.
ON_STAGES = {**{host: (host, {"backbone": "ppocr"}) for host in HOSTS},
             "srn+gtr": ("srn", {"backbone": "ppocr", "gtr": True}),
             "vr": ("vr", {"preset": "ppocr"}),
             "sgtr": ("sgtr", {"vr": VR_ON_STAGES})}


def targets(batch: int) -> Targets:
    ids = torch.full((batch, CHARSET.max_steps), PAD_ID)
    ids[:, :4] = torch.tensor([11, 12, 13, 0])
    return Targets(ids)


def stages_of(model: torch.nn.Module) -> dict[str, PPOCRBackbone]:
    return {name: m for name, m in model.named_modules() if isinstance(m, PPOCRBackbone)}


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> Path:
    """The released network imported as ``sgtr import ppocr --charset 36`` writes it."""
    pytest.importorskip("rapidocr")
    from sgtr.cli.main import main

    path = tmp_path_factory.mktemp("ppocr") / "ppocr36.safetensors"
    assert main(["import", "ppocr", "--charset", "36", "--out", str(path)]) == 0
    return path


@pytest.mark.parametrize("host", HOSTS)
def test_host_on_pretrained_stages_reads_and_keeps_frozen_stages(host):
    model = build_model(host, CHARSET, backbone="ppocr", freeze_stages=1)
    pretrained = list(stages_of(model).values())
    assert len(pretrained) == 1
    frozen = {k: v.clone() for k, v in pretrained[0].state_dict().items() if k.startswith(("stem", "stages.0"))}
    model.train()
    out = model(torch.rand(2, 3, 48, 160) * 2 - 1, targets(2))
    assert out.features.shape[1] == FEATURE_CHANNELS[host] and torch.isfinite(out.loss)
    out.loss.backward()
    torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1).step()
    after = pretrained[0].state_dict()
    assert all(torch.equal(after[k], v) for k, v in frozen.items())
    assert any(p.grad is not None for p in pretrained[0].stages[2].parameters())


def test_pren_aggregates_the_three_stage_maps():
    model = build_model("pren", CHARSET, backbone="ppocr").eval()
    assert model.backbone is stages_of(model)["backbone"]  # the engine's backbone_lr reaches exactly the stages
    assert [agg.convs[0][0].in_channels for agg in model.pooling] == [96, 192, 384]
    with torch.no_grad():
        out = model(torch.rand(2, 3, 48, 160) * 2 - 1)
    assert out.logits.shape == (2, CHARSET.max_steps, CHARSET.num_classes)
    assert out.features.shape == (2, 96, 12, 40)  # the stride-4 map, 12×W/4 at height 48


def test_an_unknown_backbone_is_refused():
    with pytest.raises(ValueError, match="unknown backbone 'vgg'"):
        build_model("srn", CHARSET, backbone="vgg")


@pytest.mark.parametrize("host", ["srn", "pren"])
def test_plugged_host_on_pretrained_stages_runs(host):
    model = build_model(host, CHARSET, backbone="ppocr", gtr=True).eval()
    with torch.no_grad():
        out = model(torch.rand(2, 3, 48, 160) * 2 - 1)
    assert out.logits.shape == (2, CHARSET.max_steps, CHARSET.num_classes)


@pytest.mark.parametrize("case", ON_STAGES)
def test_init_from_an_imported_file_fills_the_pretrained_stages(case, imported):
    name, options = ON_STAGES[case]
    model = build_model(name, CHARSET, **options)
    old, state = read_model_state(str(imported))
    report = load_matching(model, state, old, CHARSET, origin=str(imported))
    (prefix, stages), = stages_of(model).items()
    assert report.stages == [(f"{prefix}.", "backbone.", len(stages.state_dict()))]
    assert f"pretrained stages at {prefix} " in report.summary()
    for key, value in stages.state_dict().items():
        assert torch.equal(value, state[f"backbone.{key}"]), key


def test_a_model_without_pretrained_stages_loads_by_name_as_before():
    source, target = build_model("crnn", CHARSET), build_model("crnn", CHARSET)
    stages = {f"backbone.{k}": v for k, v in PPOCRBackbone().state_dict().items()}
    report = load_matching(target, {**source.state_dict(), **stages})
    assert report.stages == [] and sorted(report.unused) == sorted(stages)
    assert sorted(report.copied) == sorted(source.state_dict())
    assert all(torch.equal(v, target.state_dict()[k]) for k, v in source.state_dict().items())


def test_stage_tensors_that_do_not_fit_are_refused():
    stages = {f"backbone.{k}": v for k, v in PPOCRBackbone().state_dict().items()}
    stages["backbone.stem.merge.weight"] = torch.zeros(1, 1, 3, 3)
    model = build_model("crnn", CHARSET, backbone="ppocr")
    with pytest.raises(CheckpointError, match=r"^init\.safetensors: .* cannot fill the model's at backbone\.stages: "
                                              r"backbone\.stem\.merge\.weight has shape \(1, 1, 3, 3\)"):
        load_matching(model, stages, origin="init.safetensors")


def test_stages_under_several_prefixes_none_in_place_are_refused():
    stages = PPOCRBackbone().state_dict()
    state = {f"{owner}.{k}": v for owner in ("a", "b") for k, v in stages.items()}
    model = build_model("crnn", CHARSET, backbone="ppocr")
    with pytest.raises(CheckpointError, match="holds pretrained stages under a, b; cannot tell which fills"):
        load_matching(model, state, origin="init.safetensors")
