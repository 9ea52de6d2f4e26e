"""What the engine tests share: a tiny LMDB of real training crops, a masked synthetic shard beside a mask-free LMDB
(the MJ/ST-like mixture), and a tiny training config of the tiny VR."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from sgtr.data.labels import LabelledPath, parse_label_file
from sgtr.data.lmdb_writer import create_lmdb
from sgtr.engine.config import load_config
from sgtr.synth.render import SynthGenerator
from sgtr.synth.writer import write_shard
from tests.helpers.models import TINY_MODEL


def tiny_lmdb(shared_data: Path, out: Path, n: int = 32) -> Path:
    items, _ = parse_label_file(shared_data / "real_train" / "IIIT5K_train_2000" / "labels.tsv")
    create_lmdb(items[:n], out)
    return out


def masked_and_plain(generator: SynthGenerator, root: Path, count: int, first_plain: int) -> tuple[Path, Path]:
    """``count`` synthetic words with masks (``sgtr synth``'s writer) in ``root/synth``, and an MJ/ST-like LMDB of
    image + label only in ``root/plain`` (``sgtr data create-lmdb``'s writer), from ``count`` other samples of the
    same renderer starting at ``first_plain``, their masks thrown away."""
    write_shard(generator, root / "synth", count)
    (root / "crops").mkdir()
    items = []
    for i in range(count):
        rendered = generator.render(first_plain + i)
        path = root / "crops" / f"{i}.png"
        Image.fromarray(rendered.image).save(path)
        items.append(LabelledPath(path, rendered.label, f"crops:{i}"))
    create_lmdb(items, root / "plain")
    return root / "synth", root / "plain"


def tiny_config(data: Path, out: Path, **trainer) -> dict:
    overrides = [
        f"data.train=[{{path: {data}}}]", "data.batch_size=8", "data.workers=0", "data.val={}",
        f"model.options={TINY_MODEL}", f"trainer.out={out}", "trainer.log_every=1", "trainer.threads=1",
        "trainer.accelerator=cpu", "trainer.devices=1",
    ] + [f"trainer.{k}={v}" for k, v in trainer.items()]
    return load_config(None, overrides)
