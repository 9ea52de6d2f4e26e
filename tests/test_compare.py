"""``sgtr compare``: per-set accuracy gaps with paired bootstrap intervals and McNemar's exact test, on predictions
built so that the answer is known."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import sgtr.cli.compare as compare_cli
from sgtr.cli.main import main
from sgtr.evaluation.comparison import bootstrap_gaps, compare, mcnemar_p


def result(source: str, sets: dict[str, list[bool]], protocol: str = "36") -> dict:
    """An evaluation result in ``--json`` form whose set NAME has one sample per flag (key NAME/i, right or not)."""
    return {"source": source, "protocol": protocol, "sets": [
        {"name": name, "samples": [{"key": f"{name}/{i}", "label": "w", "prediction": "w" if right else "x",
                                    "confidence": None, "correct": right} for i, right in enumerate(flags)]}
        for name, flags in sets.items()]}


def test_mcnemar_exact_p_values_match_hand_computed_binomial_tails():
    assert mcnemar_p(0, 0) == 1.0
    assert mcnemar_p(5, 0) == pytest.approx(2 / 32)
    assert mcnemar_p(1, 9) == pytest.approx(2 * 11 / 1024)
    assert mcnemar_p(7, 7) == 1.0
    assert mcnemar_p(60, 40) == pytest.approx(0.056887933640980, rel=1e-9)  # 2·P(X ≤ 40), X ~ Bin(100, 1/2)


def test_mcnemar_of_thousands_of_discordant_samples_is_finite_and_tiny():
    assert 0.0 <= mcnemar_p(1300, 1000) < 1e-8


def test_bootstrap_interval_of_a_known_gap_has_the_binomial_width():
    n = 400
    right_a = np.ones(n, dtype=bool)
    right_b = np.arange(n) % 2 == 0  # B reads half right: the gap is 0.5 with standard error 0.025
    gaps = bootstrap_gaps(right_a, right_b, 2000, np.random.default_rng(0))
    low, high = np.percentile(gaps, [2.5, 97.5])
    assert gaps.mean() == pytest.approx(0.5, abs=0.005)
    assert low == pytest.approx(0.5 - 1.96 * 0.025, abs=0.01) and high == pytest.approx(0.5 + 1.96 * 0.025, abs=0.01)


def test_identical_readings_have_no_gap_and_p_one():
    flags = [True, False, True, True]
    c = compare(result("a", {"SVT": flags}), result("b", {"SVT": flags}))
    s = c.sets[0]
    assert (s.gap, s.low, s.high, s.a_only, s.b_only, s.p_value) == (0.0, 0.0, 0.0, 0, 0, 1.0)


def test_samples_pair_by_key_whatever_their_order_and_extras_are_counted():
    a = result("a", {"SVT": [True, True, False]})
    b = result("b", {"SVT": [False, True, False, True]})
    b["sets"][0]["samples"].reverse()
    s = compare(a, b).sets[0]
    assert (s.paired, s.unpaired, s.a_only, s.b_only) == (3, 1, 1, 0)
    assert s.gap == pytest.approx(1 / 3)


def test_the_same_seed_gives_the_same_interval():
    rng = np.random.default_rng(5)
    a = result("a", {"S": list(rng.random(300) < 0.7)})
    b = result("b", {"S": list(rng.random(300) < 0.6)})
    one, two = compare(a, b, seed=3), compare(a, b, seed=3)
    assert (one.sets[0].low, one.sets[0].high) == (two.sets[0].low, two.sets[0].high)


def test_the_distinct_mean_counts_ic13_once():
    a = result("a", {"IC13_857": [True] * 10, "IC13_1015": [True] * 10, "SVT": [True] * 10})
    b = result("b", {"IC13_857": [False] * 10, "IC13_1015": [True] * 5 + [False] * 5, "SVT": [True] * 10})
    c = compare(a, b)
    assert c.distinct == ["IC13_1015", "SVT"]
    assert c.mean_gap == pytest.approx((0.5 + 0.0) / 2)
    assert c.mean_p_value == pytest.approx(mcnemar_p(5, 0))


def test_results_under_different_protocols_are_refused():
    with pytest.raises(ValueError, match="protocol"):
        compare(result("a", {"S": [True]}), result("b", {"S": [True]}, protocol="62"))


def test_compare_cli_prints_each_set_and_the_distinct_mean_from_two_json_files(tmp_path, capsys):
    (tmp_path / "a.json").write_text(json.dumps(result("model a", {"SVT": [True] * 8 + [False] * 2})))
    (tmp_path / "b.json").write_text(json.dumps(result("model b", {"SVT": [True] * 4 + [False] * 6})))
    assert main(["compare", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--json",
                 str(tmp_path / "c.json")]) == 0
    out = capsys.readouterr().out
    assert "A: model a. B: model b." in out
    assert "| SVT | 10 | 80.00 | 40.00 | +40.00 | [" in out and f"| 4 | 0 | {mcnemar_p(4, 0):.3g} |" in out
    assert "| mean over distinct sets | | | | +40.00 |" in out
    assert json.loads((tmp_path / "c.json").read_text())["sets"][0]["a_only"] == 4


def test_a_json_file_without_per_sample_readings_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "old.json").write_text(json.dumps({"protocol": "36", "sets": [{"name": "SVT", "accuracy": 0.5}]}))
    assert main(["compare", str(tmp_path / "old.json"), str(tmp_path / "old.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no per-sample readings" in err[0]


class Reads:
    def __init__(self, name: str, text: str):
        self.name, self.text = name, text

    def predict(self, batch):
        return [(self.text, None) for _ in batch]


def test_compare_cli_scores_two_model_files_on_the_given_sets(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "words"
    folder.mkdir()
    buffer = io.BytesIO()
    Image.new("RGB", (24, 8), "white").save(buffer, format="PNG")
    for i in range(3):
        (folder / f"{i}.png").write_bytes(buffer.getvalue())
    (folder / "labels.tsv").write_text("0.png\thello\n1.png\thello\n2.png\tworld\n", encoding="utf-8")
    models = {tmp_path / "a.safetensors": Reads("a", "hello"), tmp_path / "b.safetensors": Reads("b", "world")}
    for path in models:
        path.write_bytes(b"")
    monkeypatch.setattr(compare_cli, "checkpoint_source", lambda path, batch_size: models[Path(path)])
    assert main(["compare", *map(str, models), str(folder)]) == 0
    assert "| words | 3 | 66.67 | 33.33 | +33.33 |" in capsys.readouterr().out
