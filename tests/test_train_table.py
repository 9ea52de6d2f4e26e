"""scripts/train_table.py's table: a column per set scored under any name, means over distinct sets, gaps to a
baseline row with their intervals, and the seed spread."""

from __future__ import annotations

import pytest

from tests.helpers.scripts import load_script


@pytest.fixture(scope="module")
def train_table():
    return load_script("train_table")


def result(flags_by_set: dict[str, list[bool]]) -> dict:
    sets = []
    for name, flags in flags_by_set.items():
        n, right = len(flags), sum(flags)
        sets.append({"name": name, "scored": n, "correct": right, "skipped_bad": 0, "skipped_empty": 0,
                     "missing": 0, "accuracy": right / n, "one_minus_ned": right / n, "mean_confidence": None,
                     "images_per_second": None,
                     "samples": [{"key": f"{name}/{i}", "label": "w", "prediction": "w", "confidence": None,
                                  "correct": f} for i, f in enumerate(flags)]})
    return {"source": "x", "protocol": "36", "sets": sets}


def cells(table: str, row: str, seed: str) -> dict[str, str]:
    lines = [[c.strip() for c in line.strip("|").split("|")] for line in table.splitlines()]
    header = lines[0]
    found = next(line for line in lines[2:] if line[0] == row and line[2] == seed)
    return dict(zip(header, found))


def test_columns_are_the_sets_scored_and_the_means_count_ic13_once(train_table):
    results = {("a", 0): result({"IIIT5k_3000": [True] * 4, "IC13_857": [False] * 4, "IC13_1015": [True, False]})}
    table = train_table.table({"a": "a.yaml"}, results)
    row = cells(table, "a", "0")
    assert (row["IIIT5k_3000"], row["IC13_857"], row["IC13_1015"]) == ("100.00", "0.00", "50.00")
    assert row["distinct mean"] == "75.00" and row["weighted mean"] == "83.33"  # (4 + 1) of 6
    assert "IC13_857, as IC13_1015 is counted" in train_table.footer(results)


def test_rows_get_their_gap_to_the_baseline_and_a_seed_spread(train_table):
    base = {"SVT": [True] * 5 + [False] * 5}
    results = {("base", 0): result(base), ("new", 0): result({"SVT": [True] * 10}),
               ("new", 1): result({"SVT": [True] * 8 + [False] * 2})}
    table = train_table.table({"base": "b.yaml", "new": "n.yaml"}, results, baseline="base")
    assert cells(table, "new", "0")["Δ vs base [95 % CI]"].startswith("+50.00 [")
    assert cells(table, "new", "1")["Δ vs base [95 % CI]"].startswith("+30.00 [")
    assert cells(table, "new", "mean")["spread"] == "20.00"
