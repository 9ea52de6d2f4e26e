"""S-GTR end to end: outputs, losses and their weights, fusion and mutual learning, gradients into the VR, options,
the ablation configs, and memorising a handful of words."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest
import torch
from PIL import Image

from sgtr.cli.main import main
from sgtr.data.charset import PAD_ID, Charset
from sgtr.engine.config import load_config
from sgtr.engine.trainer import charset_from_config, model_from_config
from sgtr.inference.onnx_export import export_onnx
from sgtr.inference.predictor import Recognizer
from sgtr.inference.spec import ModelSpec
from sgtr.inference.weights import write_weights
from sgtr.models.decoding import decode
from sgtr.models.factory import build_model
from sgtr.models.gtr import GTR_PRESETS
from sgtr.models.losses import mutual_kl
from sgtr.models.sgtr import SGTR, sgtr_config
from tests.helpers.render import random_words, render_batch, render_word

CHARSET = Charset.from_spec("36")
K, T = CHARSET.num_classes, CHARSET.max_steps
NARROW_VR = {"stem": (8,), "widths": (16, 16, 32), "depths": (1, 1, 1), "fpn_channels": 16, "order_channels": 16}
TINY = {"vr": NARROW_VR, "language": {"width": 32, "heads": 2, "ffn": 64, "layers": 1},
        "graph": {"part": 4, "spatial": (8,)}}
CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.fixture(scope="module")
def batch():
    return render_batch(["hello", "a1b2", "xyz"], CHARSET)


def tiny(**options) -> SGTR:
    return SGTR.from_preset(CHARSET, "small", **{**TINY, **options})


def test_full_model_outputs(batch):
    images, targets = batch
    out = tiny()(images, targets)
    assert set(out.branches) == {"vr", "lm", "gtr", "fused"} and out.logits is out.branches["fused"]
    assert all(v.shape == (3, T, K) for v in out.branches.values())
    assert out.seg_logits.shape == (3, K, 16, 64) and out.order_maps.shape == (3, T, 16, 64)
    n = GTR_PRESETS["small"].nodes
    extras = {k: (tuple(v.shape), v.dtype) for k, v in out.extras.items()}
    assert extras == {"gtr_nodes": ((3, T, n), torch.long), "gtr_roots": ((3, T), torch.long),
                      "gtr_edges": ((3, T, n, n), torch.bool), "gtr_valid": ((3, T), torch.bool),
                      "fusion_gate": ((3, T), torch.float32)}
    assert set(out.losses) == {"seq", "seg", "order", "lm", "gtr", "fused", "mutual"}


def test_total_loss_uses_the_configured_weights(batch):
    images, targets = batch
    weights = {"fused": 0.7, "lm": 0.3, "gtr": 2.0, "vr": 0.25, "mutual": 1.5}
    out = tiny(weights=weights)(images, targets)
    vr = out.losses["seq"] + out.losses["seg"] + out.losses["order"]  # the VR's own weights are all 1
    expected = sum(weights[k] * out.losses[k] for k in ("fused", "lm", "gtr", "mutual")) + weights["vr"] * vr
    torch.testing.assert_close(out.loss, expected)
    default = SGTR.from_preset(CHARSET, "small").config.weights
    assert default == {"fused": 1.0, "lm": 1.0, "gtr": 1.0, "vr": 0.5, "mutual": 1.0}


@pytest.mark.parametrize("branch", ["gtr", "lm"])
def test_branch_losses_train_the_vr(batch, branch):
    images, targets = batch
    model = tiny()
    model(images, targets).losses[branch].backward()
    grads = [p.grad for p in model.vr.backbone.parameters()]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)
    detached = tiny(language={**TINY["language"], "detach": True})
    detached(images, targets).losses["lm"].backward()
    assert all(p.grad is None for p in detached.vr.parameters())


def test_ablation_switches_change_the_branches(batch):
    images, targets = batch
    vr_lm = tiny(gtr=False, mutual=False)(images, targets)
    assert set(vr_lm.branches) == {"vr", "lm"} and vr_lm.logits is vr_lm.branches["lm"]
    assert "mutual" not in vr_lm.losses and "fused" not in vr_lm.losses and "gtr_nodes" not in vr_lm.extras
    vr_gtr = tiny(lm=False, mutual=False)(images, targets)
    assert set(vr_gtr.branches) == {"vr", "gtr"} and vr_gtr.logits is vr_gtr.branches["gtr"]
    no_ml = tiny(mutual=False)(images, targets)
    assert "mutual" not in no_ml.losses and "fused" in no_ml.losses


def test_fusion_variants(batch):
    images, _ = batch
    average = tiny(fusion="average")(images)
    lm, gtr = average.branches["lm"].softmax(-1), average.branches["gtr"].softmax(-1)
    torch.testing.assert_close(average.logits.exp(), (lm + gtr) / 2)
    assert "fusion_gate" not in average.extras
    gated = tiny()(images)
    gate = gated.extras["fusion_gate"]
    assert ((gate > 0) & (gate < 1)).all()
    glu = tiny(fusion="glu")
    assert sum(p.numel() for p in glu.fusion.parameters()) == (2 * K) ** 2 + 2 * K
    assert glu(images).logits.shape == (3, T, K)


def test_mutual_learning_is_a_symmetric_kl_with_detached_targets():
    a = torch.randn(2, 3, K, requires_grad=True)
    b = torch.randn(2, 3, K, requires_grad=True)
    ids = torch.tensor([[4, 0, PAD_ID], [5, 6, 0]])
    valid = ids != PAD_ID
    pa, pb = a.softmax(-1), b.softmax(-1)

    def kl(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        return (p * (p.log() - q.log())).sum(-1)

    expected = (kl(pa, pb) + kl(pb, pa))[valid].mean()
    loss = mutual_kl(a, b, ids)
    torch.testing.assert_close(loss, expected)
    loss.backward()
    # a learns only from KL(sg(P_b) ‖ P_a): its gradient is that term's.
    a2 = a.detach().clone().requires_grad_(True)
    kl(pb.detach(), a2.softmax(-1))[valid].sum().div(valid.sum()).backward()
    torch.testing.assert_close(a.grad, a2.grad)
    assert math.isclose(mutual_kl(a, a, ids).item(), 0.0, abs_tol=1e-6)


@pytest.mark.parametrize("options, message", [
    ({"colour": 1}, "unknown S-GTR option"),
    ({"graph": {"depth": 2}}, "unknown graph option.*neighbours"),
    ({"language": {"size": 2}}, "unknown language option.*width"),
    ({"vr": {"size": 2}}, "unknown VR config field"),
    ({"weights": {"ctc": 1.0}}, "unknown loss weight.*mutual"),
    ({"fusion": "concat"}, "unknown fusion 'concat'.*gated, mixture, average, glu"),
    ({"gtr": False}, "mutual learning needs both"),
    ({"lm": False, "gtr": False, "mutual": False}, "use model 'vr'"),
])
def test_bad_options_are_refused_with_the_valid_ones(options, message):
    with pytest.raises(ValueError, match=message):
        sgtr_config("small", **options)


def test_factory_knows_sgtr():
    assert isinstance(build_model("sgtr", CHARSET, preset="small", **TINY), SGTR)
    with pytest.raises(ValueError, match="abinet, crnn, ppocr, pren, sgtr, srn, trba, vr"):
        build_model("gtr", CHARSET)
    with pytest.raises(ValueError, match="unknown S-GTR preset 'huge'"):
        build_model("sgtr", CHARSET, preset="huge")


@pytest.mark.parametrize("name, branches", [
    ("ablation_vr_lm", {"vr", "lm"}),
    ("ablation_vr_gtr", {"vr", "gtr"}),
    ("ablation_vr_lm_gtr", {"vr", "lm", "gtr", "fused"}),
    ("sgtr_small", {"vr", "lm", "gtr", "fused"}),
])
def test_ablation_configs_build_and_train_a_step(batch, name, branches):
    config = load_config(CONFIGS / f"{name}.yaml")
    model = model_from_config(config, charset_from_config(config))
    images, targets = batch
    out = model(images[:2], type(targets)(targets.ids[:2], targets.masks[:2], targets.has_mask[:2]))
    assert set(out.branches) == branches
    out.loss.backward()
    assert torch.isfinite(out.loss)
    assert config["data"] == load_config(CONFIGS / "vr_small.yaml")["data"]


def test_onnx_export_matches_pytorch(tmp_path):
    spec = ModelSpec("sgtr", CHARSET, (32, 128), "small", TINY)
    model = spec.build().eval()
    path = export_onnx(model, spec, tmp_path / "sgtr.onnx", branches=True)
    images = torch.rand(3, 3, 32, 128) * 2 - 1
    expected, got = model(images), Recognizer(path, threads=1).runtime(images)
    for name in ("vr", "lm"):
        torch.testing.assert_close(got.branches[name], expected.branches[name], atol=1e-4, rtol=1e-4)
    # GTR picks pixels with topk: an untrained model's maps are nearly flat, and where two pixels' scores differ by an
    # ulp the runtimes' arithmetic can rank them differently, which then spreads along the root chain. With distinct
    # scores the outputs agree to 1e-7; here most steps must.
    for name in ("gtr", "fused"):
        close = ((got.branches[name] - expected.branches[name]).abs() < 1e-4).all(dim=-1)
        assert close.float().mean() > 0.8, (name, close)


def test_evaluate_prints_one_table_per_branch(tmp_path, capsys):
    spec = ModelSpec("sgtr", CHARSET, (32, 128), "small", TINY)
    weights = write_weights(spec.build().eval(), spec, tmp_path / "sgtr.safetensors")
    words = ["abc", "hello", "x1"]
    for i, word in enumerate(words):
        Image.fromarray(render_word(word)[0]).save(tmp_path / f"{i}.png")
    (tmp_path / "labels.tsv").write_text("".join(f"{i}.png\t{w}\n" for i, w in enumerate(words)), encoding="utf-8")
    assert main(["evaluate", str(weights), str(tmp_path), "--branches"]) == 0
    sources = [line.split(". Protocol")[0] for line in capsys.readouterr().out.splitlines()
               if line.startswith("Source:")]
    assert sources == [f"Source: sgtr.safetensors{b}" for b in ("", " [vr]", " [lm]", " [gtr]", " [fused]")]


def test_evaluate_writes_one_json_per_branch_that_compare_pairs(tmp_path, capsys):
    spec = ModelSpec("sgtr", CHARSET, (32, 128), "small", TINY)
    weights = write_weights(spec.build().eval(), spec, tmp_path / "sgtr.safetensors")
    words = ["abc", "hello", "x1"]
    folder = tmp_path / "words"
    folder.mkdir()
    for i, word in enumerate(words):
        Image.fromarray(render_word(word)[0]).save(folder / f"{i}.png")
    (folder / "labels.tsv").write_text("".join(f"{i}.png\t{w}\n" for i, w in enumerate(words)), encoding="utf-8")
    out = tmp_path / "scores.json"
    assert main(["evaluate", str(weights), str(folder), "--branches", "--json", str(out)]) == 0
    written = sorted(p.name for p in tmp_path.glob("scores*.json"))
    assert written == sorted(["scores.json", *(f"scores.{b}.json" for b in ("vr", "lm", "gtr", "fused"))])
    capsys.readouterr()
    assert main(["compare", str(out), str(tmp_path / "scores.lm.json")]) == 0
    assert "mean" in capsys.readouterr().out


@pytest.mark.slow
def test_sgtr_memorises_a_handful_of_words():
    words = random_words(8, CHARSET, random.Random(0))
    images, targets = render_batch(words, CHARSET)
    model = SGTR.from_preset(CHARSET, "small", vr={"stem": (16,), "widths": (32, 64, 128), "fpn_channels": 32,
                                                   "order_channels": 32})
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    accuracy: dict[str, float] = {}
    for step in range(1, 251):  # seeded: the fused head reads all 8 at step ~110 (~15 s on one core)
        model.train()
        loss = model(images, targets).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 10 == 0:
            model.eval()
            with torch.no_grad():
                out = model(images)
            accuracy = {name: sum(p.text == w for p, w in zip(decode(logits, CHARSET), words)) / len(words)
                        for name, logits in out.branches.items()}
            if accuracy["fused"] == 1.0:
                break
    assert accuracy["fused"] == 1.0, accuracy
    assert accuracy["gtr"] >= 0.5, accuracy  # GTR itself learned to read, not only the fusion
