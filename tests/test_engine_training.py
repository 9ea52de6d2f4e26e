"""The training engine: config overrides, resume, non-finite losses, fine-tuning to a new charset, curves and DDP."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from lightning.pytorch.callbacks import Callback

from sgtr.data.charset import Charset
from sgtr.engine.config import ConfigError, load_config
from sgtr.engine.curves import read_metrics
from sgtr.engine.system import NonFiniteLossError
from sgtr.engine.trainer import train
from sgtr.models.factory import build_model
from sgtr.models.warm_start import load_matching
from sgtr.serialization import load_safe
from tests.helpers.engine import tiny_config, tiny_lmdb
from tests.helpers.models import TINY_MODEL


@pytest.fixture
def data(shared_data, tmp_path) -> Path:
    return tiny_lmdb(shared_data, tmp_path / "lmdb")


def test_overrides_parse_yaml_values_and_replace_open_maps():
    config = load_config(None, ["trainer.max_steps=7", "optim.lr=3e-4", "data.val={a: x}"])
    assert config["trainer"]["max_steps"] == 7 and config["optim"]["lr"] == 3e-4
    assert config["data"]["val"] == {"a": "x"}


def test_unknown_config_key_is_an_error_naming_it():
    with pytest.raises(ConfigError, match="trainer.max_step"):
        load_config(None, ["trainer.max_step=3"])


def test_a_config_with_a_base_inherits_it_and_overrides_what_it_lists(tmp_path):
    (tmp_path / "parent.yaml").write_text("model: {name: sgtr, options: {gtr: false}}\n"
                                          "trainer: {max_steps: 50, seed: 3}\n", encoding="utf-8")
    (tmp_path / "child.yaml").write_text("base: parent.yaml\ntrainer: {max_steps: 9}\n", encoding="utf-8")
    config = load_config(tmp_path / "child.yaml")
    assert config["trainer"]["max_steps"] == 9 and config["trainer"]["seed"] == 3
    assert config["model"]["name"] == "sgtr" and config["model"]["options"] == {"gtr": False}


def test_a_base_chain_that_returns_to_itself_is_an_error_naming_the_file(tmp_path):
    (tmp_path / "a.yaml").write_text("base: b.yaml\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text("base: a.yaml\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="a.yaml: 'base' chain returns to itself"):
        load_config(tmp_path / "a.yaml")


def test_a_missing_base_is_an_error_naming_it(tmp_path):
    (tmp_path / "child.yaml").write_text("base: nowhere.yaml\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="nowhere.yaml: cannot read config"):
        load_config(tmp_path / "child.yaml")


class _StopAt(Callback):
    def __init__(self, step: int):
        self.step = step

    def on_train_batch_end(self, trainer, *args) -> None:
        trainer.should_stop = trainer.global_step >= self.step


def test_resume_continues_step_count_and_optimizer_state(data, tmp_path):
    out = tmp_path / "run"
    train(tiny_config(data, out, max_steps=6, val_every=2), callbacks=[_StopAt(4)])
    first = load_safe(out / "checkpoints" / "last.ckpt")
    assert first["global_step"] == 4
    train(tiny_config(data, out, max_steps=6, val_every=2), resume="auto")
    resumed = load_safe(out / "checkpoints" / "last.ckpt")
    assert resumed["global_step"] == 6
    steps = sorted(read_metrics(out / "csv")["train/loss"])
    assert steps == [float(s) for s in range(6)]  # both launches' logs survive
    adam_steps = {float(s["step"]) for s in resumed["optimizer_states"][0]["state"].values()}
    assert adam_steps == {6.0}  # 4 restored + 2 new; a restart from scratch would say 2


def test_the_steps_after_the_last_multiple_of_val_every_are_saved(data, tmp_path):
    out = tmp_path / "run"
    train(tiny_config(data, out, max_steps=3, val_every=2))
    assert load_safe(out / "checkpoints" / "last.ckpt")["global_step"] == 3


def test_resume_with_another_length_is_refused_with_advice(data, tmp_path):
    out = tmp_path / "run"
    train(tiny_config(data, out, max_steps=2, val_every=2))
    with pytest.raises(ValueError, match="init_from"):
        train(tiny_config(data, out, max_steps=4, val_every=2), resume="auto")


def test_training_logs_every_step_and_draws_the_curve(data, tmp_path):
    out = tmp_path / "run"
    train(tiny_config(data, out, max_steps=5, val_every=5))
    assert (out / "training_curves.png").stat().st_size > 1000
    rows = (out / "csv" / "version_0" / "metrics.csv").read_text().splitlines()
    col = rows[0].split(",").index("train/loss")
    assert sum(1 for r in rows[1:] if r.split(",")[col]) == 5


class _NonFiniteLoss(Callback):
    """Makes the model's loss NaN on the given training batches (counted from 0 over the run)."""

    def __init__(self, batches):
        self.batches, self.calls = set(batches), 0

    def on_train_start(self, trainer, module) -> None:
        forward = module.model.forward

        def poisoned(*args, **kwargs):
            out = forward(*args, **kwargs)
            if self.calls in self.batches:
                out.loss = out.loss * float("nan")
            self.calls += 1
            return out

        module.model.forward = poisoned


def test_non_finite_losses_are_skipped_with_a_log_line_each_and_the_streak_resets(data, tmp_path, caplog):
    out = tmp_path / "run"
    with caplog.at_level(logging.WARNING, logger="sgtr.train"):
        train(tiny_config(data, out, max_steps=6, val_every=6, nan_patience=3),
              callbacks=[_NonFiniteLoss({0, 1, 3, 4})])
    skipped = [r.getMessage() for r in caplog.records if "non-finite loss" in r.getMessage()]
    assert [m.split(":")[0] for m in skipped] == ["step 0", "step 1", "step 3", "step 4"]
    assert all("step skipped" in m for m in skipped)
    ckpt = load_safe(out / "checkpoints" / "last.ckpt")
    assert ckpt["global_step"] == 6  # a skipped step still counts, but changes no weight:
    adam_steps = {float(s["step"]) for s in ckpt["optimizer_states"][0]["state"].values()}
    assert adam_steps == {2.0}  # only batches 2 and 5 updated the weights
    assert all(torch.isfinite(v).all() for v in ckpt["state_dict"].values() if v.is_floating_point())


def test_a_long_streak_of_non_finite_losses_stops_the_run_with_a_clear_message(data, tmp_path):
    with pytest.raises(NonFiniteLossError, match="^3 consecutive non-finite losses: lower optim.lr or check the data"):
        train(tiny_config(data, tmp_path / "run", max_steps=10, val_every=10, nan_patience=3),
              callbacks=[_NonFiniteLoss(range(100))])


def test_fine_tuning_to_a_larger_charset_keeps_shared_symbol_rows():
    old_cs, new_cs = Charset.from_spec("36"), Charset.from_spec("62")
    old = build_model("vr", old_cs, **TINY_MODEL)
    new = build_model("vr", new_cs, **TINY_MODEL)
    report = load_matching(new, old.state_dict(), old_cs, new_cs)
    assert report.remapped and not report.unused
    old_w, new_w = old.state_dict()[report.remapped[0]], new.state_dict()[report.remapped[0]]
    a_old, a_new = old_cs.encode("a")[0], new_cs.encode("a")[0]
    assert torch.equal(old_w[a_old], new_w[a_new]) and torch.equal(old_w[0], new_w[0])


def test_vr_weights_warm_start_the_vr_inside_sgtr():
    cs = Charset.from_spec("36")
    vr = build_model("vr", cs, **TINY_MODEL)
    sgtr = build_model("sgtr", cs, vr=TINY_MODEL)
    report = load_matching(sgtr, vr.state_dict(), cs, cs)
    assert len(report.copied) == len(vr.state_dict()) and not report.unused
    assert torch.equal(sgtr.state_dict()["vr." + report.copied[0][3:]], vr.state_dict()[report.copied[0][3:]])


DDP_WORKER = """
import sys, torch
from lightning.pytorch.callbacks import Callback
sys.path.insert(0, {root!r})
from tests.helpers.engine import tiny_config
from sgtr.engine.curves import read_metrics
from sgtr.engine.system import NonFiniteLossError
from sgtr.engine.trainer import train

class DumpWeights(Callback):
    def on_train_end(self, trainer, module):
        torch.save(module.model.state_dict(), {out!r} + f"/rank{{trainer.global_rank}}.pt")

config = tiny_config({data!r}, {out!r}, max_steps=3, val_every=3, devices=2)
train(config, callbacks=[DumpWeights()])
"""


@pytest.mark.slow
def test_ddp_on_two_cpu_processes_keeps_identical_weights(data, tmp_path):
    out = tmp_path / "ddp"
    out.mkdir()
    script = tmp_path / "worker.py"
    script.write_text(DDP_WORKER.format(root=str(Path(__file__).parents[1]), data=str(data), out=str(out)))
    env = dict(os.environ, OMP_NUM_THREADS="1", PL_DISABLE_FORK="1")
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                             str(script)], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    rank0, rank1 = (torch.load(out / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    model = build_model("vr", Charset.from_spec("36"), **TINY_MODEL)
    weights = [name for name, _ in model.named_parameters()]  # BatchNorm running statistics stay per rank on CPU
    assert all(torch.equal(rank0[k], rank1[k]) for k in weights)
    assert any(not torch.equal(rank0[k], model.state_dict()[k]) for k in weights)


def test_evaluate_scores_a_trained_checkpoint_on_a_real_set(data, shared_data, tmp_path, capsys):
    from sgtr.cli.main import main

    best = train(tiny_config(data, tmp_path / "run", max_steps=2, val_every=2))
    capsys.readouterr()
    assert main(["evaluate", str(best), str(shared_data / "benchmarks" / "SVT_647"), "--limit", "16"]) == 0
    table = capsys.readouterr().out
    assert "SVT_647" in table and "| 16 |" in table.replace("  ", " ")
