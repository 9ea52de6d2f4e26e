"""Word accuracy, 1-NED, mean confidence and the means over sets, on hand-computed values."""

from __future__ import annotations

import pytest

from sgtr.evaluation.evaluator import SetResult, mean_over_sets
from sgtr.evaluation.metrics import Tally, similarity


def test_similarity_is_one_minus_edit_distance_over_longer_length():
    assert similarity("abd", "abc") == pytest.approx(1 - 1 / 3)
    assert similarity("ab", "abcd") == pytest.approx(0.5)
    assert similarity("xyz", "abc") == 0.0


def test_similarity_of_two_empty_strings_is_one():
    assert similarity("", "") == 1.0


def test_similarity_of_empty_prediction_is_zero():
    assert similarity("", "word") == 0.0


def test_tally_gives_exact_accuracy_and_one_minus_ned():
    tally = Tally()
    for prediction, label in [("cafe", "cafe"), ("hello", "hello"), ("abd", "abc"), ("", "world")]:
        tally.add(prediction, label)
    assert (tally.count, tally.correct) == (4, 2)
    assert tally.accuracy == 0.5
    assert tally.one_minus_ned == pytest.approx((1 + 1 + 2 / 3 + 0) / 4)


def test_mean_confidence_covers_only_samples_that_have_one():
    tally = Tally()
    tally.add("a", "a", 0.9)
    tally.add("b", "b", None)
    tally.add("c", "d", 0.5)
    assert tally.mean_confidence == pytest.approx(0.7)


def test_empty_tally_has_no_metrics():
    tally = Tally()
    assert (tally.accuracy, tally.one_minus_ned, tally.mean_confidence) == (None, None, None)


def _set(name: str, scored: int, correct: int, ned: float) -> SetResult:
    return SetResult(name, scored, correct, 0, 0, 0, correct / scored if scored else None,
                     ned if scored else None, None, None)


def test_plain_mean_weighs_sets_and_weighted_mean_weighs_samples():
    plain, weighted = mean_over_sets([_set("big", 300, 270, 0.95), _set("small", 100, 50, 0.75)])
    assert plain.accuracy == pytest.approx((0.9 + 0.5) / 2)
    assert plain.one_minus_ned == pytest.approx((0.95 + 0.75) / 2)
    assert weighted.accuracy == pytest.approx(320 / 400)
    assert weighted.one_minus_ned == pytest.approx((0.95 * 300 + 0.75 * 100) / 400)


def test_means_leave_out_sets_with_nothing_scored():
    plain, weighted = mean_over_sets([_set("a", 10, 5, 0.5), _set("empty", 0, 0, 0.0)])
    assert (plain.accuracy, weighted.accuracy) == (0.5, 0.5)


def test_public_bundle_names_and_ours_name_the_same_benchmark():
    from sgtr.evaluation.benchmarks import canonical

    assert canonical("IIIT5k_3000") == canonical("IIIT5K_3000") == "IIIT5K_3000"
    assert canonical("SVT") == canonical("SVT_647") and canonical("SVTP") == canonical("SVTP_645")
    assert canonical("CUTE80") == "CUTE80_288"
    assert canonical("my_own_set") == "my_own_set"


def test_distinct_sets_keep_the_larger_variant_of_ic13_and_ic15_and_one_of_each_duplicate():
    from sgtr.evaluation.benchmarks import distinct_sets

    names = ["IIIT5k_3000", "SVT", "IC13_857", "IC13_1015", "IC15_1811", "IC15_2077", "SVTP", "CUTE80",
             "IIIT5K_3000"]
    kept, left_out = distinct_sets(names)
    assert kept == ["IIIT5k_3000", "SVT", "IC13_1015", "IC15_2077", "SVTP", "CUTE80"]
    assert left_out == {"IC13_857": "IC13_1015", "IC15_1811": "IC15_2077", "IIIT5K_3000": "IIIT5k_3000"}


def test_a_lone_smaller_variant_is_counted():
    from sgtr.evaluation.benchmarks import distinct_sets

    assert distinct_sets(["IC13_857", "SVT_647"]) == (["IC13_857", "SVT_647"], {})
