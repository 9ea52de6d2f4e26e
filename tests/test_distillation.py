"""Distillation from a frozen teacher: no pull when the student already agrees, a pull otherwise, only on the
student, and a clear error when the two output grids differ."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sgtr.engine.distillation import Distillation
from sgtr.models.output import RecognizerOutput


class Fixed(nn.Module):
    def __init__(self, logits: torch.Tensor):
        super().__init__()
        self.logits = nn.Parameter(logits.clone())

    def forward(self, images):
        return RecognizerOutput(logits=self.logits.expand(len(images), -1, -1), ctc=True)


def test_agreeing_student_costs_nothing_and_a_different_one_is_pulled_alone():
    teacher_logits = torch.randn(1, 10, 5)
    images = torch.zeros(3, 3, 8, 8)
    distillation = Distillation(Fixed(teacher_logits), weight=1.0)
    assert distillation(Fixed(teacher_logits)(images), images).item() == pytest.approx(0.0, abs=1e-6)
    student = Fixed(torch.randn(1, 10, 5))
    loss = distillation(student(images), images)
    loss.backward()
    assert loss.item() > 0 and student.logits.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in distillation.teacher.parameters())


def test_a_plugged_ctc_host_is_distilled_on_its_frames():
    frames = torch.randn(1, 10, 5)
    out = RecognizerOutput(logits=torch.randn(2, 26, 5), extras={"host_frames": frames.expand(2, -1, -1)})
    assert Distillation(Fixed(frames), 1.0)(out, torch.zeros(2, 3, 8, 8)).item() == pytest.approx(0.0, abs=1e-6)


def test_different_grids_are_a_clear_error():
    distillation = Distillation(Fixed(torch.randn(1, 10, 5)), 1.0)
    with pytest.raises(ValueError, match="teacher's output grid"):
        distillation(Fixed(torch.randn(1, 20, 5))(torch.zeros(1, 3, 8, 8)), torch.zeros(1, 3, 8, 8))
