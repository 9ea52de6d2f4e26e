"""What ``sgtr train`` shows: a bar toward ``max_steps`` with images/s and the loss on a terminal, none of Lightning's
inventory, tips or third-party deprecation warnings, and a resumed run explained once in sgtr's words."""

from __future__ import annotations

import io
import logging
import sys
import warnings
from pathlib import Path

import pytest
from lightning.pytorch.callbacks import Callback

from sgtr.cli.main import main
from sgtr.progress import set_quiet
from tests.helpers.models import TINY_MODEL

SAMPLES = Path(__file__).resolve().parents[1] / "samples"  # 12 labelled crops in the repository
NOISE = ("GPU available", "TPU available", "💡", "litlogger", "LeafSpec", "`Trainer.fit` stopped", "Tip:",
         "does not have many workers", "not resumable")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _argv(out: Path, *extra: str) -> list[str]:
    return ["train", "configs/vr_small.yaml", f"data.train=[{{path: {SAMPLES}}}]", "data.batch_size=4",
            "data.workers=0", "data.val={}", f"model.options={TINY_MODEL}", f"trainer.out={out}",
            "trainer.threads=1", "trainer.log_every=1", "trainer.accelerator=cpu", *extra]


@pytest.mark.slow
def test_train_bar_counts_toward_max_steps_and_lightning_stays_quiet(tmp_path, monkeypatch, capsys):
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(_argv(tmp_path / "run", "trainer.max_steps=6", "trainer.val_every=3")) == 0
    set_quiet(False)
    shown = terminal.getvalue() + capsys.readouterr().out
    assert "training:" in shown and "/6 [" in shown and "images/s, loss" in shown
    assert not [word for word in NOISE if word in shown], shown
    assert not [str(w.message) for w in caught], [str(w.message) for w in caught]


class _StopAt(Callback):
    def __init__(self, step: int):
        self.step = step

    def on_train_batch_end(self, trainer, *args) -> None:
        if trainer.global_step >= self.step:
            trainer.should_stop = True  # a run cut short mid-epoch: last.ckpt holds step 2 of 3 in the epoch


@pytest.mark.slow
def test_resuming_mid_epoch_is_explained_once_not_warned(tmp_path, caplog):
    from sgtr.engine.config import load_config
    from sgtr.engine.console import lightning_quiet
    from sgtr.engine.trainer import train

    config = load_config("configs/vr_small.yaml", _argv(tmp_path / "run", "trainer.max_steps=5",
                                                        "trainer.val_every=2")[2:])
    with lightning_quiet():
        train(config, callbacks=[_StopAt(2)])
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.INFO, logger="sgtr"):
        warnings.simplefilter("always")
        with lightning_quiet():
            train(config, resume="auto")
    assert not [w for w in caught if "resumable" in str(w.message)]
    assert [r.getMessage() for r in caplog.records].count(
        "resuming at step 2 of 5: the batch sampler continues with batches not drawn yet") == 1
