"""What the engine tests share: a tiny LMDB of real training crops and a tiny training config of the tiny VR."""

from __future__ import annotations

from pathlib import Path

from sgtr.data.labels import parse_label_file
from sgtr.data.lmdb_writer import create_lmdb
from sgtr.engine.config import load_config
from tests.helpers.models import TINY_MODEL


def tiny_lmdb(shared_data: Path, out: Path, n: int = 32) -> Path:
    items, _ = parse_label_file(shared_data / "real_train" / "IIIT5K_train_2000" / "labels.tsv")
    create_lmdb(items[:n], out)
    return out


def tiny_config(data: Path, out: Path, **trainer) -> dict:
    overrides = [
        f"data.train=[{{path: {data}}}]", "data.batch_size=8", "data.workers=0", "data.val={}",
        f"model.options={TINY_MODEL}", f"trainer.out={out}", "trainer.log_every=1", "trainer.threads=1",
        "trainer.accelerator=cpu", "trainer.devices=1",
    ] + [f"trainer.{k}={v}" for k, v in trainer.items()]
    return load_config(None, overrides)
