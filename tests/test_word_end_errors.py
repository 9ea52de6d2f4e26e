"""scripts/word_end_errors.py: the wrong words that are wrong only at their end."""

from __future__ import annotations

from tests.helpers.scripts import load_script


def test_word_end_errors_counts_a_dropped_and_a_doubled_last_character():
    word_end_errors = load_script("word_end_errors")
    samples = [{"label": "Could", "prediction": "coul", "correct": False},
               {"label": "HOTEL", "prediction": "hotell", "correct": False},
               {"label": "road", "prediction": "raod", "correct": False},
               {"label": "ok", "prediction": "ok", "correct": True}]
    assert word_end_errors.end_errors(samples, str.lower) == (3, 1, 1)
