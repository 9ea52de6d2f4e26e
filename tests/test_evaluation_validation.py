"""Validation during training scores with the evaluation's own metrics: word accuracy and 1-NED per set, for the
final output and for each branch of the model."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

import sgtr.engine.system as system_module
from sgtr.data.charset import Charset
from sgtr.engine.system import RecognitionSystem
from sgtr.evaluation.metrics import similarity
from sgtr.models.output import RecognizerOutput


@dataclass
class Reading:
    text: str


class TwoBranchModel(torch.nn.Module):
    """Its final logits and its ``lm`` branch are told apart by the stubbed decoder (a branch comes as a tensor)."""

    def forward(self, images):
        return RecognizerOutput(logits=torch.zeros(len(images), 2, 3), branches={"lm": torch.zeros(len(images), 2, 3)})


class FakeBatch:
    def __init__(self, labels: list[str]):
        self.labels = labels
        self.images = torch.zeros(len(labels), 3, 32, 128)

    def __len__(self) -> int:
        return len(self.labels)


@pytest.fixture
def system(monkeypatch):
    """A system whose model's final output reads a fixed text per label and whose ``lm`` branch reads every label
    right, with Lightning's logging and gathering stubbed."""
    readings = {"hello": "hello", "world": "wor1d", "sign": "", "exit": "exit"}

    def decode(output, _charset, ctc=None):
        if isinstance(output, torch.Tensor):  # a branch's logits
            return [Reading(label) for label in current_labels]
        return [Reading(readings[label.lower().rstrip("!")]) for label in current_labels]

    monkeypatch.setattr(system_module, "decode", decode)
    current_labels: list[str] = []
    model = TwoBranchModel()
    s = RecognitionSystem(model, Charset.from_spec("36", max_length=25), {}, ["real", "synth"])
    logged: dict[str, float] = {}
    s.log = lambda key, value, **_: logged.__setitem__(key, value)
    s.all_gather = lambda tensor: tensor
    s.logged, s.labels = logged, current_labels
    return s


def run_validation(system, batches: dict[int, list[list[str]]]) -> dict[str, float]:
    system.on_validation_epoch_start()
    for idx, label_batches in batches.items():
        for labels in label_batches:
            system.labels[:] = labels
            system.validation_step(FakeBatch(labels), 0, idx)
    system.on_validation_epoch_end()
    return system.logged


def test_each_set_logs_word_accuracy_and_one_minus_ned_from_the_evaluation_metrics(system):
    logged = run_validation(system, {0: [["hello", "world"], ["sign"]], 1: [["exit"]]})
    assert logged["val/real/accuracy"] == pytest.approx(1 / 3)
    assert logged["val/real/one_minus_ned"] == pytest.approx((1 + similarity("wor1d", "world") + 0) / 3)
    assert logged["val/synth/accuracy"] == 1.0 and logged["val/synth/one_minus_ned"] == 1.0
    assert logged["val/accuracy"] == pytest.approx((1 / 3 + 1) / 2)
    assert logged["val/one_minus_ned"] == pytest.approx((logged["val/real/one_minus_ned"] + 1) / 2)


def test_labels_are_compared_under_the_charset_protocol(system):
    logged = run_validation(system, {0: [["HELLO"]], 1: [["Exit!"]]})
    assert logged["val/real/accuracy"] == 1.0 and logged["val/synth/accuracy"] == 1.0


def test_a_set_with_no_sample_scores_zero_without_dividing_by_zero(system):
    logged = run_validation(system, {1: [["exit"]]})
    assert logged["val/real/accuracy"] == 0.0 and logged["val/synth/accuracy"] == 1.0


def test_each_branch_logs_its_own_accuracy_beside_the_final_output(system):
    logged = run_validation(system, {0: [["hello", "world"], ["sign"]], 1: [["exit"]]})
    assert logged["val/branch/lm/real/accuracy"] == 1.0 and logged["val/branch/lm/accuracy"] == 1.0
    assert logged["val/accuracy"] == pytest.approx((1 / 3 + 1) / 2)  # the final output's, which picks best.ckpt
