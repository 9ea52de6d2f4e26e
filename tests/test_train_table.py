"""scripts/train_table.py's table: a column per set scored under any name, means over distinct sets, gaps to a
baseline row with their intervals, and the seed spread."""

from __future__ import annotations

from pathlib import Path

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
                     "samples": [{"key": f"{name}/{i}", "label": "w", "prediction": "w" if f else "x",
                                  "confidence": None,
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


def test_pairs_get_a_paired_gap_per_seed_and_a_verdict_against_the_spread(train_table):
    results = {("a", 0): result({"SVT": [True] * 5 + [False] * 5}), ("a", 1): result({"SVT": [True] * 5 + [False] * 5}),
               ("b", 0): result({"SVT": [True] * 10}), ("b", 1): result({"SVT": [True] * 9 + [False]})}
    lines = train_table.pair_table([("a", "b")], results).splitlines()
    assert lines[2].startswith("| a → b | 0 | +50.00 [") and lines[3].startswith("| a → b | 1 | +40.00 [")
    assert "| a → b | mean | +45.00 > 2 × spread (20.00) |" in lines[4]


def test_seeds_for_gives_a_row_all_seeds_or_its_first_n(train_table):
    import argparse

    parser = argparse.ArgumentParser()
    assert train_table.seeds_per_row(["a", "b:2"], 3, parser) == {"a": 3, "b": 2}
    with pytest.raises(SystemExit):
        train_table.seeds_per_row(["b:4"], 3, parser)


def test_curve_panels_are_the_final_output_and_each_branch_some_run_logged(train_table):
    metrics = {("a", 0): {"val/accuracy": {}, "val/branch/gtr/accuracy": {}}, ("b", 0): {"val/accuracy": {}}}
    panels = train_table.curve_panels(metrics, ["vr", "gtr"])
    assert panels == [("final output", "val/accuracy"), ("gtr", "val/branch/gtr/accuracy")]


def table_args(**changes):
    import argparse

    args = dict(steps=100, threads=1, batch=8, lr=5e-4, val_every=None, set=[], init={}, init_from=None,
                baseline=None, pairs=[])
    return argparse.Namespace(**{**args, **changes})


def test_rows_train_without_validation_unless_asked_for_curves(train_table):
    blind = train_table.row_overrides("a", 0, Path("out"), table_args())
    assert "data.val={}" in blind and "trainer.val_every=100" in blind
    curves = train_table.row_overrides("a", 0, Path("out"), table_args(val_every=25))
    assert "data.val={}" not in curves and "trainer.val_every=25" in curves


def test_a_row_of_its_own_starts_from_its_own_checkpoint(train_table):
    args = table_args(init={"b": "b.ckpt"}, init_from="all.ckpt")
    assert "trainer.init_from=b.ckpt" in train_table.row_overrides("b", 0, Path("out"), args)
    assert "trainer.init_from=all.ckpt" in train_table.row_overrides("a", 0, Path("out"), args)


def test_branch_rows_come_from_the_models_that_have_the_branch(train_table, tmp_path):
    import json

    (tmp_path / "sgtr-seed0").mkdir()
    (tmp_path / "sgtr-seed0" / "benchmarks.lm.json").write_text(json.dumps(result({"SVT": [False]})))
    results = {("vr", 0): result({"SVT": [False]}), ("sgtr", 0): result({"SVT": [True]})}
    args = table_args(out=tmp_path, protocol="36", branches=["lm"])
    rows, with_branches = train_table.branch_rows({"vr": "v.yaml", "sgtr": "s.yaml"}, results, args)
    assert list(rows) == ["vr", "sgtr", "sgtr[lm]"] and ("sgtr[lm]", 0) in with_branches
    (tmp_path / "sgtr-seed0" / "benchmarks.fused.json").write_text(json.dumps(results[("sgtr", 0)]))
    rows, _ = train_table.branch_rows({"sgtr": "s.yaml"}, results, table_args(
        out=tmp_path, protocol="36", branches=["lm", "fused"]))
    assert list(rows) == ["sgtr", "sgtr[lm]"]  # the fused branch is the final output: no row of its own
    rows, _ = train_table.branch_rows({"sgtr": "s.yaml"}, results, table_args(
        out=tmp_path, protocol="36", branches=["fused"], baseline="sgtr[fused]"))
    assert list(rows) == ["sgtr", "sgtr[fused]"]  # unless the table compares with it
    with pytest.raises(SystemExit, match="gtr"):
        train_table.branch_rows({"vr": "v.yaml", "sgtr": "s.yaml"}, results, table_args(
            out=tmp_path, protocol="36", branches=["gtr"]))


@pytest.mark.slow
def test_the_table_runs_end_to_end_with_a_branch_row_as_the_baseline(tmp_path):
    """A tiny plugged CRNN trained two steps and scored with its branches: the table has the model's row, its
    host-reading row ``[ctc]`` and the paired gap to it, and a rerun reuses the kept evaluations."""
    import subprocess
    import sys

    import yaml
    from PIL import Image

    from tests.helpers.render import render_word

    words = tmp_path / "words"
    words.mkdir()
    for i, word in enumerate(["abc", "hello", "x1", "road"]):
        Image.fromarray(render_word(word)[0]).save(words / f"{i}.png")
    (words / "labels.tsv").write_text("".join(f"{i}.png\t{w}\n" for i, w in enumerate(["abc", "hello", "x1", "road"])))
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump({
        "model": {"name": "crnn", "options": {"widths": [8, 16, 16, 32], "depths": [1, 1, 1, 1], "hidden": 16,
                                              "layers": 1, "gtr": True,
                                              "plugin": {"order_source": "ctc", "fusion": "mixture",
                                                         "ctc_fusion": "reading", "seg_channels": 8},
                                              "graph": {"part": 4, "spatial": [8, 8]}}},
        "charset": {"spec": "36", "max_length": 8},
        "data": {"height": 32, "width": 128, "train": [{"path": str(words)}], "workers": 0}}))
    doc = tmp_path / "table.md"
    command = [sys.executable, "scripts/train_table.py", "--name", "tiny", "--rows", f"tiny={config}", "--steps", "2",
               "--batch", "2", "--threads", "1", "--sets", str(words), "--branches", "ctc", "--baseline", "tiny[ctc]",
               "--out", str(tmp_path / "runs"), "--doc", str(doc)]
    root = Path(__file__).resolve().parents[1]
    for _ in range(2):  # the second run reads the kept evaluations
        done = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "runs" / "tiny-seed0" / "benchmarks.ctc.json").is_file()
    table = doc.read_text()
    assert "| tiny[ctc] |" in table and "| tiny |" in table
    gap = cells(table.split("<!-- table:tiny -->\n")[1], "tiny", "0")["Δ vs tiny[ctc] [95 % CI]"]
    assert gap.startswith(("+", "-"))

