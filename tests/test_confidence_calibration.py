"""Confidence calibration: ECE and reliability bins on constructed readings, and a fitted temperature that undoes a
known over-confidence."""

from __future__ import annotations

import numpy as np
import torch

from sgtr.data.charset import Charset
from sgtr.evaluation.calibration import LogitBatch, confidences, expected_calibration_error, fit, reliability


def test_ece_is_zero_when_confidence_equals_accuracy_per_bin():
    confidence = np.array([0.95] * 20 + [0.55] * 20)
    correct = np.array([True] * 19 + [False] + [True] * 11 + [False] * 9)
    assert expected_calibration_error(confidence, correct) < 1e-9


def test_ece_of_an_overconfident_reader_is_its_gap():
    confidence = np.full(100, 0.99)
    correct = np.arange(100) < 60
    assert abs(expected_calibration_error(confidence, correct) - 0.39) < 1e-9
    [only] = reliability(confidence, correct)
    assert only.count == 100 and abs(only.accuracy - 0.6) < 1e-9


def test_fitted_temperature_softens_overconfident_logits():
    charset = Charset.from_spec("36", max_length=1)
    rng = np.random.default_rng(0)
    n, k = 400, charset.num_classes
    true_logits = torch.from_numpy(rng.normal(0, 1.5, (n, 1, k))).float()
    true_logits[:, :, 1] += 2.0  # one likely class
    probs = true_logits.softmax(-1)[:, 0]
    truth = torch.multinomial(probs, 1)[:, 0]  # the world draws the answer from the true probabilities
    sharpened = true_logits * 3.0  # a reader three times too sure
    eos = torch.full((n, 1, k), -20.0)
    eos[:, :, 0] = 20.0
    batches = [LogitBatch(torch.cat((sharpened, eos), dim=1), ctc=False)]
    correct = (sharpened[:, 0].argmax(-1) == truth).numpy()
    temperature = fit(batches, charset, correct)
    before = expected_calibration_error(confidences(batches, charset, 1.0)[0], correct)
    after = expected_calibration_error(confidences(batches, charset, temperature)[0], correct)
    assert 2.0 < temperature < 4.5
    assert after < before / 2


def test_calibrate_cli_writes_a_model_with_the_fitted_temperature(tmp_path, capsys):
    from pathlib import Path

    from sgtr.cli.main import main
    from sgtr.inference.loading import resolve_model_path
    from sgtr.inference.weights import read_weights

    samples = Path(__file__).resolve().parents[1] / "samples"
    out = tmp_path / "calibrated.safetensors"
    assert main(["calibrate", str(resolve_model_path(None)), str(samples), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "expected calibration error" in printed
    temperature = float(printed.split("temperature ")[1].split(":")[0])
    assert read_weights(out)[0].temperature == temperature


def test_calibrate_refuses_benchmark_sets(tmp_path, capsys):
    from sgtr.cli.main import main

    bench = tmp_path / "benchmarks" / "IIIT5K_3000"
    bench.mkdir(parents=True)
    assert main(["calibrate", "x.safetensors", str(bench), "--out", str(tmp_path / "o.safetensors")]) == 2
    assert "never on a benchmark" in capsys.readouterr().err
