"""Predictions equal to the labels score 100% on the real benchmark sets under every protocol.

This checks the whole chain on the real files (label parsing, ``../`` paths of IC13_857, key matching, cleaning of
real labels with punctuation, spaces and accents) without decoding 5.5k images: a predictions file needs no pixels.
"""

from __future__ import annotations

import pytest

from sgtr.data.datasets import discover_sets, open_dataset
from sgtr.data.labels import parse_label_file
from sgtr.evaluation.evaluator import evaluate
from sgtr.evaluation.protocols import PROTOCOLS
from sgtr.evaluation.sources import PredictionsFile

BENCHMARKS = {"IC13_1015": 1015, "IC13_857": 857, "IIIT5K_3000": 3000, "SVT_647": 647, "SVTP_645": 645}


@pytest.fixture
def perfect(shared_data, tmp_path):
    sets = discover_sets(shared_data / "benchmarks")
    lines = []
    for path in sets.values():
        items, _ = parse_label_file(path / "labels.tsv")
        lines += [f"{item.path}\t{item.label}" for item in items]
    predictions = tmp_path / "predictions.tsv"
    predictions.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {name: open_dataset(path) for name, path in sets.items()}, PredictionsFile(predictions)


@pytest.fixture
def perfect_file(perfect) -> str:
    return str(perfect[1].path)


@pytest.mark.parametrize("protocol", list(PROTOCOLS))
def test_labels_as_predictions_score_100_percent(perfect, protocol):
    sets, source = perfect
    result = evaluate(sets, source, PROTOCOLS[protocol])
    assert {s.name: s.scored + s.skipped_empty for s in result.sets} == BENCHMARKS
    assert all(s.accuracy == 1.0 and s.one_minus_ned == 1.0 for s in result.sets)
    assert all(s.missing == 0 and s.skipped_bad == 0 for s in result.sets)
    assert (result.distinct_mean.accuracy, result.weighted_mean.accuracy) == (1.0, 1.0)


def test_evaluate_with_no_set_scores_the_five_benchmarks_and_counts_ic13_once(perfect_file, capsys):
    from sgtr.cli.main import main

    assert main(["evaluate", "--predictions", perfect_file]) == 0
    out = capsys.readouterr().out
    rows = [line.split("|")[1].strip() for line in out.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows == ["set", *sorted(BENCHMARKS), "mean over distinct sets", "size-weighted mean"]
    assert "| size-weighted mean | 5307 |" in out  # 3000 + 647 + 1015 + 645: IC13_857 is inside IC13_1015
    assert "IC13_857 (IC13_1015 is counted)" in out
