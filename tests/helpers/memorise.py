"""The memorising check every recognizer's overfit test runs: train on one fixed batch of 32 rendered words until
greedy decoding in eval mode reads all of them, within a step budget."""

from __future__ import annotations

import random

import torch
from torch import nn

from sgtr.data.charset import Charset
from sgtr.models.decoding import decode
from tests.helpers.render import random_words, render_batch

CHECK_EVERY = 10


def memorise(model: nn.Module, charset: Charset, max_steps: int, lr: float, recalibrate_bn: bool = False
             ) -> tuple[float, int, list[tuple[str, str]]]:
    """Adam on 32 random words (seed 0, 3 to 8 characters) rendered at 32×128 until every word is read (checked
    every ``CHECK_EVERY`` steps) or ``max_steps``; returns the accuracy, the steps taken and the (read, true) pairs
    still wrong. ``recalibrate_bn`` recomputes the BatchNorm statistics on the batch before each check: a CTC head
    leaves its all-blank plateau abruptly, the backbone's activations shift within a few steps and the running
    averages then lag the weights, so eval-mode readings would trail the model's by tens of steps."""
    words = random_words(32, charset, random.Random(0))
    images, targets = render_batch(words, charset)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    accuracy, step, texts = 0.0, 0, []
    while accuracy < 1.0 and step < max_steps:
        model.train()
        for _ in range(CHECK_EVERY):
            loss = model(images, targets).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        step += CHECK_EVERY
        if recalibrate_bn:
            torch.optim.swa_utils.update_bn([images], model)
        model.eval()
        with torch.no_grad():
            texts = [p.text for p in decode(model(images), charset)]
        accuracy = sum(t == w for t, w in zip(texts, words)) / len(words)
    return accuracy, step, [(t, w) for t, w in zip(texts, words) if t != w]
