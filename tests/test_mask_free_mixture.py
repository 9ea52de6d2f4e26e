"""MJSynth/SynthText-like data without masks mixed into every batch with masked synthetic words (the paper recipe's
second stage): mask-free LMDBs read without masks, mixed batches collate, the mask losses use only the masked samples
and the sequence losses all of them, and the two stages train through the engine."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from sgtr.data.batching import Targets
from sgtr.data.charset import Charset
from sgtr.data.datasets import LmdbDataset
from sgtr.engine.config import load_config
from sgtr.engine.data import train_loader
from sgtr.engine.trainer import train
from sgtr.models.factory import build_model
from sgtr.models.losses import sequence_loss, sequence_nll
from sgtr.synth.config import SynthConfig
from sgtr.synth.render import SynthGenerator
from tests.helpers.engine import masked_and_plain
from tests.helpers.models import TINY_MODEL
from tests.helpers.render import font

CHARSET = Charset.from_spec("36")
WORDS = ("river", "stone", "music", "light", "green", "house", "paper", "cloud", "bread", "table", "north", "glass")
SAMPLES = 16
BATCH, MASKED = 8, 2  # ratios 0.25 / 0.75 of a batch of 8
TINY_SGTR = {"vr": {**TINY_MODEL, "order_channels": 16}, "language": {"width": 32, "heads": 2, "ffn": 64, "layers": 1},
             "graph": {"part": 4, "spatial": [8]}}
# The VR with the paper's segmentation head (its text-mask branch has a mask loss of its own) and S-GTR around a VR.
PAPER_HEAD = {**TINY_MODEL, "position_attention": True, "text_mask": True}
MODELS = {"vr": TINY_MODEL, "vr-paper-head": PAPER_HEAD, "sgtr": TINY_SGTR}
MASK_LOSSES = {"seg", "order", "text_mask"}


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> tuple[Path, Path]:
    """A synthetic shard with masks (``sgtr synth``'s writer) and an MJ/ST-like LMDB of image + label only, written
    by ``sgtr data create-lmdb``'s writer from crops the same renderer drew (other samples, masks thrown away)."""
    root = tmp_path_factory.mktemp("mixture")
    words = root / "words.txt"
    words.write_text("\n".join(WORDS), encoding="utf-8")
    generator = SynthGenerator.build(SynthConfig(CHARSET, seed=3, font_dirs=(font(),), words_file=str(words)))
    return masked_and_plain(generator, root, SAMPLES, first_plain=1000)


def config(out: Path, train_sources: str, *extra: str) -> dict:
    return load_config(None, [
        f"data.train={train_sources}", f"data.batch_size={BATCH}", "data.workers=0", "data.val={}",
        f"model.options={TINY_MODEL}", f"trainer.out={out}", "trainer.log_every=1", "trainer.threads=1",
        "trainer.accelerator=cpu", "trainer.devices=1", "trainer.precision=32-true", *extra])


def mixture(synth: Path, mj: Path, out: Path, *extra: str) -> dict:
    return config(out, f"[{{path: {synth}, ratio: 0.25}}, {{path: {mj}, ratio: 0.75}}]", *extra)


def logged_losses(out: Path) -> list[dict[str, float]]:
    """The training steps' rows of a run's CSV log: each logged loss by name."""
    with next((out / "csv").glob("version_*/metrics.csv")).open(newline="") as f:
        rows = list(csv.DictReader(f))
    return [{k: float(v) for k, v in row.items() if k.startswith("train/loss") and v} for row in rows
            if row.get("train/loss")]


def first_batch(sources, tmp_path):
    return next(iter(train_loader(mixture(*sources, tmp_path), CHARSET, seed=0)))


def model(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    # Eval mode: BatchNorm in training mode mixes every sample into every other's activations, which would hide
    # which samples a loss is computed from.
    return build_model(name.removesuffix("-paper-head"), CHARSET, **MODELS[name]).eval()


def subset(targets: Targets, keep: torch.Tensor) -> Targets:
    return Targets(targets.ids[keep], targets.masks[keep], targets.has_mask[keep])


def test_an_lmdb_written_without_masks_yields_samples_without_masks(sources):
    synth, mj = sources
    plain = LmdbDataset(mj)
    assert not plain.has_masks and LmdbDataset(synth).has_masks
    assert all(plain[i].mask is None for i in range(len(plain)))


def test_every_mixture_batch_collates_masked_and_mask_free_samples_by_ratio(sources, tmp_path):
    synth, _ = sources
    for batch in train_loader(mixture(*sources, tmp_path), CHARSET, seed=0):
        has_mask = batch.targets.has_mask
        assert len(batch) == BATCH and int(has_mask.sum()) == MASKED
        assert all(key.startswith(str(synth)) == bool(m) for key, m in zip(batch.keys, has_mask))
        assert batch.targets.masks.shape == (BATCH, 32, 128)
        assert (batch.targets.masks[~has_mask] == 0).all() and (batch.targets.masks[has_mask] > 0).any()


@pytest.mark.parametrize("name", sorted(MODELS))
def test_mask_losses_equal_those_of_the_masked_samples_alone(sources, tmp_path, name):
    batch = first_batch(sources, tmp_path)
    net, masked = model(name), batch.targets.has_mask
    with torch.no_grad():
        mixed = net(batch.images, batch.targets).losses
        alone = net(batch.images[masked], subset(batch.targets, masked)).losses
    mask_losses = MASK_LOSSES & set(mixed)
    assert {"seg", "order"} <= mask_losses and ("text_mask" in mask_losses) == (name == "vr-paper-head")
    for loss in mask_losses:
        torch.testing.assert_close(mixed[loss], alone[loss])


@pytest.mark.parametrize("name", sorted(MODELS))
def test_sequence_losses_use_every_sample(sources, tmp_path, name):
    batch = first_batch(sources, tmp_path)
    net, ids = model(name), batch.targets.ids
    with torch.no_grad():
        out = net(batch.images, batch.targets)
    # The VR reads log-probabilities (its ``seq`` is their NLL); S-GTR's LM, GTR and fused branches are logits.
    expected = {"seq": sequence_nll(out.branches["vr"], ids)}
    expected.update({name: sequence_loss(out.branches[name], ids) for name in out.branches if name != "vr"})
    for loss, value in expected.items():
        torch.testing.assert_close(out.losses[loss], value)


def gradients(net: torch.nn.Module, images: torch.Tensor, targets: Targets, losses: tuple[str, ...]) -> torch.Tensor:
    net.zero_grad()
    out = net(images, targets)
    sum(out.losses[name] for name in losses).backward()
    return torch.cat([p.grad.flatten() for p in net.parameters() if p.grad is not None])


def test_changing_the_mask_free_images_leaves_the_mask_loss_gradients_unchanged(sources, tmp_path):
    batch = first_batch(sources, tmp_path)
    net, masked = model("vr-paper-head"), batch.targets.has_mask
    noise = torch.from_numpy(np.random.default_rng(0).uniform(-1, 1, batch.images.shape).astype(np.float32))
    changed = torch.where(masked[:, None, None, None], batch.images, noise)
    mask_grads = [gradients(net, images, batch.targets, tuple(MASK_LOSSES)) for images in (batch.images, changed)]
    seq_grads = [gradients(net, images, batch.targets, ("seq",)) for images in (batch.images, changed)]
    torch.testing.assert_close(mask_grads[0], mask_grads[1])
    assert not torch.allclose(seq_grads[0], seq_grads[1])  # while the sequence loss does learn from those samples


def test_two_stage_recipe_trains_masks_first_then_the_mixture_with_mask_losses_every_step(sources, tmp_path):
    synth, mj = sources
    stage1, stage2 = tmp_path / "stage1", tmp_path / "stage2"
    train(config(stage1, f"[{{path: {synth}}}]", "trainer.max_steps=2", "trainer.val_every=2"))
    train(mixture(synth, mj, stage2, "trainer.max_steps=3", f"trainer.init_from={stage1 / 'checkpoints/last.ckpt'}"))
    steps = logged_losses(stage2)
    assert len(steps) == 3
    assert all({"train/loss_seg", "train/loss_order", "train/loss_seq"} <= set(step) for step in steps)
    assert all(np.isfinite(list(step.values())).all() for step in steps)
