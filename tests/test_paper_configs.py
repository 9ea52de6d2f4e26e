"""The paper-size configs (configs/paper/) and what they stand on: each one resolves, validates on the held-back split
and trains a step at full size on the CPU; the VR's spec options (Bottleneck blocks, the segmentation head's position
attention, the text-mask branch and its loss) do what they say; the authors' schedule (Adadelta, step drops) and
stacked ``base`` files work in the engine."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import lightning as L
import pytest
import torch

from sgtr.data.charset import Charset
from sgtr.engine.config import ConfigError, load_config
from sgtr.engine.system import RecognitionSystem
from sgtr.engine.trainer import train
from sgtr.models.factory import build_model
from sgtr.models.layers import Bottleneck, PixelGate, ResNet
from sgtr.models.losses import mask_losses
from sgtr.models.output import Targets
from sgtr.synth.config import SynthConfig
from sgtr.synth.render import SynthGenerator
from tests.helpers.engine import masked_and_plain
from tests.helpers.models import TINY_MODEL
from tests.helpers.render import font, render_batch
from tests.test_configs import SPLIT_VAL, touches_benchmarks

REPO = Path(__file__).resolve().parents[1]
PAPER = REPO / "configs" / "paper"
CONFIGS = sorted(PAPER.glob("*.yaml"))
REQUIRED = {"vr_base", "sgtr_base", "vr_lm", "vr_gtr", "vr_lm_gtr", "crnn_gtr", "trba_gtr", "srn_gtr", "pren_gtr",
            "abinet_gtr"}
# The VR's options that make it the spec's: its backbone and segmentation head.
SPEC_VR = {"block": "bottleneck", "depths": [3, 4, 6, 3], "position_attention": True, "text_mask": True}
CHARSET = Charset.from_spec("36")


def test_every_required_paper_config_is_there():
    assert REQUIRED <= {path.stem for path in CONFIGS}


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_a_paper_config_reads_62_classes_at_64x256(config):
    loaded = load_config(config)
    assert loaded["charset"]["spec"] == "62"
    assert (loaded["data"]["height"], loaded["data"]["width"]) == (64, 256)
    assert loaded["model"]["preset"] == "base"


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_a_paper_config_validates_on_the_held_back_split_and_no_benchmark(config):
    loaded = load_config(config)
    val = set(loaded["data"]["val"].values())
    train_paths = [source["path"] for source in loaded["data"]["train"]]
    assert SPLIT_VAL <= val
    assert not [path for path in [*val, *train_paths] if touches_benchmarks(path)]
    assert not [path for path in train_paths if path.startswith("splits/val")]


@pytest.mark.parametrize("config", [c for c in CONFIGS if load_config(c)["model"]["name"] in ("vr", "sgtr")],
                         ids=lambda p: p.name)
def test_the_vr_of_a_paper_config_has_the_spec_backbone_and_head(config):
    model = load_config(config)["model"]
    options = model["options"] if model["name"] == "vr" else model["options"]["vr"]
    assert SPEC_VR.items() <= options.items()


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> tuple[Path, Path]:
    """A few synthetic words with masks (``sgtr synth``'s writer) and an MJ/ST-like LMDB of image + label only."""
    root = tmp_path_factory.mktemp("paper_data")
    charset = Charset.from_spec("62")
    generator = SynthGenerator.build(SynthConfig(charset, seed=5, font_dirs=(font(),)))
    return masked_and_plain(generator, root, 4, first_plain=100)


@pytest.mark.slow
@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_a_paper_config_trains_one_step_at_full_size_on_the_cpu(config, sources, tmp_path):
    synth, plain = sources
    loaded = load_config(config, [
        f"data.train=[{{path: {synth}, ratio: 0.5}}, {{path: {plain}, ratio: 0.5}}]", "data.batch_size=2",
        "data.workers=0", "data.val={}", "trainer.max_steps=1", f"trainer.out={tmp_path}", "trainer.log_every=1",
        "trainer.threads=1", "trainer.accelerator=cpu", "trainer.devices=1", "trainer.precision=32-true"])
    train(loaded)
    with next((tmp_path / "csv").glob("version_*/metrics.csv")).open(newline="") as f:
        losses = [float(row["train/loss"]) for row in csv.DictReader(f) if row.get("train/loss")]
    assert len(losses) == 1 and math.isfinite(losses[0])


def test_the_text_mask_loss_ignores_samples_without_masks():
    _, targets = render_batch(["hello", "a1b2", "xyz"], CHARSET)
    seg_logits, text_logits = torch.randn(3, CHARSET.num_classes, 8, 32), torch.randn(3, 1, 8, 32)
    has_mask = torch.tensor([True, False, True])
    mixed = mask_losses(seg_logits, None, Targets(targets.ids, targets.masks, has_mask), text_logits)
    changed_text, changed_masks = text_logits.clone(), targets.masks.clone()
    changed_text[1], changed_masks[1] = 50.0, 0  # the unmasked sample says anything at all
    changed = mask_losses(seg_logits, None, Targets(targets.ids, changed_masks, has_mask), changed_text)
    alone = mask_losses(seg_logits[has_mask], None, Targets(targets.ids[has_mask], targets.masks[has_mask]),
                        text_logits[has_mask])
    torch.testing.assert_close(mixed["text_mask"], changed["text_mask"])
    torch.testing.assert_close(mixed["text_mask"], alone["text_mask"])


def test_the_text_mask_target_is_the_union_of_the_character_masks():
    masks = torch.zeros(1, 8, 16, dtype=torch.long)
    masks[0, :, 0:4], masks[0, :, 8:10] = 1, 2  # character 1 fills cell 0, character 2 half of cell 2
    ids = CHARSET.encode_batch(["ab"])
    target = torch.tensor([[1.0, 0.0, 0.5, 0.0]])
    # Logits that say exactly the target: the BCE is then the target's own entropy, its minimum.
    sharp = torch.logit(target.clamp(1e-4, 1 - 1e-4)).view(1, 1, 1, 4)
    entropy = -(target * target.clamp_min(1e-12).log() + (1 - target) * (1 - target).clamp_min(1e-12).log()).mean()
    loss = mask_losses(torch.zeros(1, CHARSET.num_classes, 1, 4), None, Targets(ids, masks), sharp)["text_mask"]
    torch.testing.assert_close(loss, entropy, atol=1e-3, rtol=0)


def test_the_text_mask_branch_adds_a_loss_and_changes_no_output():
    images, targets = render_batch(["hello", "q"], CHARSET)
    plain = build_model("vr", CHARSET, **TINY_MODEL).eval()
    masked = build_model("vr", CHARSET, **TINY_MODEL, text_mask=True).eval()
    missing, unexpected = masked.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and missing and all(key.startswith("text_head.") for key in missing)
    with torch.no_grad():
        torch.testing.assert_close(masked(images).logits, plain(images).logits, rtol=0, atol=0)
        out = masked(images, targets)
    assert set(out.losses) == {"seq", "seg", "order", "text_mask"}
    torch.testing.assert_close(out.loss, sum(out.losses.values()))


def test_without_masked_samples_the_text_mask_branch_still_joins_the_backward_pass():
    images, targets = render_batch(["hello", "q"], CHARSET)
    model = build_model("vr", CHARSET, **TINY_MODEL, text_mask=True)
    out = model(images, Targets(targets.ids, targets.masks, torch.tensor([False, False])))
    out.loss.backward()  # DDP fails a step in which a trainable parameter got no gradient
    assert "text_mask" not in out.losses
    assert all(p.grad is not None and not p.grad.any() for p in model.text_head.parameters())


def test_position_attention_gates_the_segmentation_features():
    gate = PixelGate(6)
    torch.nn.init.normal_(gate.scale.weight)
    x = torch.randn(2, 6, 5, 7)
    gate.eval()
    with torch.no_grad():
        torch.testing.assert_close(gate(x), x + x * gate.scale(gate.context(x)))
        assert gate.context[0].kernel_size == (3, 3) and gate.scale.kernel_size == (1, 1)
        assert torch.equal(PixelGate(6).eval()(x), x)  # a fresh gate is the identity
    model = build_model("vr", CHARSET, **TINY_MODEL, position_attention=True)
    assert isinstance(model.seg_gate, PixelGate) and build_model("vr", CHARSET, **TINY_MODEL).seg_gate is None


def test_bottleneck_stages_are_resnet50_blocks_four_times_as_wide():
    net = ResNet(stem=(8,), widths=(4, 8), depths=(2, 3), strides=(2, 1), block="bottleneck")
    assert net.channels == [8, 16, 32] and net.strides == [2, 4, 4]
    assert [len(stage) for stage in net.stages] == [2, 3]
    block = net.stages[0][0]
    assert isinstance(block, Bottleneck)
    assert [conv[0].kernel_size for conv in block.body] == [(1, 1), (3, 3), (1, 1)]
    assert [conv[0].out_channels for conv in block.body] == [4, 4, 16] and block.body[1][0].stride == (2, 2)
    assert [tuple(x.shape[1:]) for x in net(torch.zeros(1, 3, 16, 32))] == [(8, 8, 16), (16, 4, 8), (32, 4, 8)]


def test_the_vr_base_preset_takes_the_spec_backbone_as_options():
    model = build_model("vr", Charset.from_spec("62"), preset="base", **SPEC_VR, stem=[64, 64, 128], ppm_channels=512)
    stages = model.backbone.stages
    assert [len(stage) for stage in stages] == [3, 4, 6, 3] and isinstance(stages[0][0], Bottleneck)
    assert model.backbone.channels[1:] == [512, 1024, 2048, 2048]
    with torch.no_grad():
        out = model.eval()(torch.zeros(1, 3, 64, 256))
    assert out.seg_logits.shape[-2:] == (16, 64)


def test_an_unknown_block_names_the_valid_ones():
    with pytest.raises(ValueError, match="unknown residual block 'dense'; choose one of: basic, bottleneck"):
        build_model("vr", CHARSET, **TINY_MODEL, block="dense")


def test_the_authors_schedule_is_adadelta_with_step_drops():
    config = load_config(PAPER / "schedules" / "authors.yaml", ["trainer.max_steps=6", "data.batch_size=256"])
    system = RecognitionSystem(build_model("vr", CHARSET, **TINY_MODEL), CHARSET, config)
    system.trainer = L.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                               enable_progress_bar=False, enable_model_summary=False)
    setup = system.configure_optimizers()
    optimizer, scheduler = setup["optimizer"], setup["lr_scheduler"]["scheduler"]
    assert isinstance(optimizer, torch.optim.Adadelta)
    rates = []
    for _ in range(6):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert rates == pytest.approx([1.0, 1.0, 1.0, 1.0, 0.1, 0.01])


def test_milestones_must_rise_within_the_run():
    with pytest.raises(ConfigError, match="optim.milestones: expected a rising list of fractions"):
        load_config(None, ["optim.milestones=[0.8, 0.5]"])


def test_a_config_may_stack_several_base_files_in_order(tmp_path):
    (tmp_path / "model.yaml").write_text("model: {name: vr}\noptim: {lr: 0.5, grad_clip: 2.0}\n")
    (tmp_path / "schedule.yaml").write_text("optim: {lr: 0.25}\n")
    (tmp_path / "run.yaml").write_text("base: [model.yaml, schedule.yaml]\ntrainer: {max_steps: 3}\n")
    config = load_config(tmp_path / "run.yaml")
    assert (config["optim"]["lr"], config["optim"]["grad_clip"], config["trainer"]["max_steps"]) == (0.25, 2.0, 3)
