"""``sgtr evaluate`` end to end on a tiny folder made in the test, and its one-line user errors."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
from PIL import Image

import sgtr.cli.evaluate as evaluate_cli
from sgtr.cli.main import main


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (24, 8), "white").save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def messy_set(tmp_path) -> Path:
    """Two good images, a corrupt one, an empty file, a path that does not exist and a label the 36 protocol empties."""
    folder = tmp_path / "messy"
    (folder / "images").mkdir(parents=True)
    files = {"good1.png": png(), "good2.png": png(), "corrupt.png": png()[:40], "empty.png": b"", "kanji.png": png()}
    for name, data in files.items():
        (folder / "images" / name).write_bytes(data)
    (folder / "labels.tsv").write_text(
        "images/good1.png\tHello\nimages/good2.png\tWorld\nimages/corrupt.png\tbroken\n"
        "images/empty.png\tnothing\nimages/gone.png\tmissing\nimages/kanji.png\t東京\n", encoding="utf-8")
    return folder


class FixedSource:
    """A stand-in for a model: reads every image as 'hello'."""

    name = "fixed"

    def predict(self, batch):
        return [("hello", 0.9) for _ in batch]


@pytest.fixture
def checkpoint(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"")
    monkeypatch.setattr(evaluate_cli, "checkpoint_source", lambda path, batch_size: FixedSource())
    return path


def test_run_on_messy_folder_finishes_names_each_bad_sample_once_and_counts(messy_set, checkpoint, tmp_path,
                                                                             capsys, caplog):
    with caplog.at_level(logging.WARNING):
        status = main(["evaluate", str(checkpoint), str(messy_set), "--json", str(tmp_path / "r.json")])
    out, err = capsys.readouterr()
    assert status == 0
    assert "| messy | 2 | 3 | 1 | 0 | 50.00 |" in out
    assert "3 samples skipped" in err
    for name in ("corrupt.png", "empty.png", "gone.png"):
        assert sum(name in r.getMessage() for r in caplog.records) == 1, name
    result = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert result["sets"][0]["skipped_bad"] == 3 and result["sets"][0]["skipped_empty"] == 1


def test_root_of_sets_is_scored_per_set_with_means(tmp_path, capsys):
    for name, label in (("a", "one"), ("b", "two")):
        (tmp_path / "root" / name).mkdir(parents=True)
        (tmp_path / "root" / name / "labels.tsv").write_text(f"x.png\t{label}\n", encoding="utf-8")
    (tmp_path / "p.tsv").write_text("root/a/x.png\tone\nroot/b/x.png\tTWO!\n", encoding="utf-8")
    status = main(["evaluate", str(tmp_path / "root"), "--predictions", str(tmp_path / "p.tsv"),
                   "--protocol", "62", "--errors", str(tmp_path / "e.jsonl")])
    out = capsys.readouterr().out
    assert status == 0
    assert "| a | 1 |" in out and "| b | 1 |" in out and "| mean over distinct sets |" in out
    assert json.loads((tmp_path / "e.jsonl").read_text(encoding="utf-8"))["prediction_clean"] == "TWO"


def error_of(argv: list[str], capsys) -> str:
    assert main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    return lines[0]


def test_corrupt_checkpoint_is_a_one_line_error_naming_it(messy_set, tmp_path, capsys):
    (tmp_path / "m.ckpt").write_bytes(b"")
    assert "m.ckpt: not a loadable sgtr checkpoint" in error_of(["evaluate", str(tmp_path / "m.ckpt"), str(messy_set)],
                                                              capsys)


def test_a_model_and_a_predictions_file_together_are_a_one_line_error(messy_set, checkpoint, tmp_path, capsys):
    (tmp_path / "p.tsv").write_text("", encoding="utf-8")
    message = error_of(["evaluate", str(checkpoint), str(messy_set), "--predictions", str(tmp_path / "p.tsv")],
                       capsys)
    assert "give one source" in message


def test_no_source_scores_the_bundled_default_model(tmp_path, capsys):
    folder = tmp_path / "words"
    folder.mkdir()
    (folder / "a.png").write_bytes(png())
    (folder / "labels.tsv").write_text("a.png\tword\n", encoding="utf-8")
    assert main(["evaluate", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "Source: default.safetensors (the bundled default model)." in out
    assert "| words | 1 | 0 | 0 | 0 |" in out


def _lmdb_set(folder: Path, labels: list[str]) -> None:
    from sgtr.data.labels import parse_label_file
    from sgtr.data.lmdb_writer import create_lmdb

    raw = folder.parent.parent / f"{folder.name}-raw"  # outside the root of sets
    raw.mkdir()
    for i in range(len(labels)):
        (raw / f"{i}.png").write_bytes(png())
    (raw / "labels.tsv").write_text("".join(f"{i}.png\t{t}\n" for i, t in enumerate(labels)), encoding="utf-8")
    create_lmdb(parse_label_file(raw / "labels.tsv")[0], folder)


def test_with_no_set_every_set_under_the_benchmark_root_is_scored_under_public_bundle_names(tmp_path, monkeypatch,
                                                                                            capsys):
    root = tmp_path / "benchmarks"
    (root / "SVTP").mkdir(parents=True)
    (root / "SVTP" / "labels.tsv").write_text("a.png\tone\nb.png\ttwo\n", encoding="utf-8")
    _lmdb_set(root / "IIIT5k_3000", ["three", "four", "five"])
    monkeypatch.setattr(evaluate_cli, "DEFAULT_ROOT", root)
    (tmp_path / "p.tsv").write_text(f"{root}/SVTP/a.png\tone\n{root}/IIIT5k_3000#2\tfour\n", encoding="utf-8")
    assert main(["evaluate", "--predictions", str(tmp_path / "p.tsv"), "--protocol", "36"]) == 0
    out = capsys.readouterr().out
    assert "| IIIT5k_3000 | 3 | 0 | 0 | 2 | 33.33 |" in out and "| SVTP | 2 | 0 | 0 | 1 | 50.00 |" in out
    rows = {cells[0]: cells for cells in (
        [c.strip() for c in line.strip("|").split("|")] for line in out.splitlines() if line.startswith("| "))}
    assert rows["mean over distinct sets"][5] == "41.67"  # (33.33 + 50) / 2
    assert rows["size-weighted mean"][1] == "5" and rows["size-weighted mean"][5] == "40.00"  # 2 of 5
    assert "Means over 2 distinct sets (IIIT5k_3000, SVTP)" in out


def test_with_no_set_and_no_benchmark_root_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(evaluate_cli, "DEFAULT_ROOT", tmp_path / "absent")
    (tmp_path / "p.tsv").write_text("", encoding="utf-8")
    assert "no set given" in error_of(["evaluate", "--predictions", str(tmp_path / "p.tsv")], capsys)


def test_an_empty_label_list_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "labels.tsv").write_text("", encoding="utf-8")
    (tmp_path / "p.tsv").write_text("", encoding="utf-8")
    message = error_of(["evaluate", str(tmp_path / "empty"), "--predictions", str(tmp_path / "p.tsv")], capsys)
    assert message == "sgtr evaluate: error: nothing to score in empty: no samples listed"


def test_an_empty_set_beside_a_scored_one_is_a_warning(tmp_path, capsys, caplog):
    for name, text in (("empty", ""), ("full", "a.png\tword\n")):
        (tmp_path / "root" / name).mkdir(parents=True)
        (tmp_path / "root" / name / "labels.tsv").write_text(text, encoding="utf-8")
    (tmp_path / "p.tsv").write_text("root/full/a.png\tword\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        assert main(["evaluate", str(tmp_path / "root"), "--predictions", str(tmp_path / "p.tsv")]) == 0
    assert "| full | 1 | 0 | 0 | 0 | 100.00 |" in capsys.readouterr().out
    assert any("empty: nothing to score" in r.getMessage() for r in caplog.records)


def test_a_set_of_only_unreadable_images_is_a_one_line_error_naming_it(tmp_path, checkpoint, capsys):
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "a.png").write_bytes(b"not an image")
    (tmp_path / "broken" / "labels.tsv").write_text("a.png\tword\n", encoding="utf-8")
    assert main(["evaluate", str(checkpoint), str(tmp_path / "broken")]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith(
        "sgtr evaluate: error: nothing to score in broken")


def test_a_label_line_with_a_third_column_is_a_one_line_error_naming_file_and_line(tmp_path, capsys):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "labels.tsv").write_text("a.png\tok\nb.png\tword\t0.9\n", encoding="utf-8")
    (tmp_path / "p.tsv").write_text("", encoding="utf-8")
    message = error_of(["evaluate", str(tmp_path / "s"), "--predictions", str(tmp_path / "p.tsv")], capsys)
    assert f"{tmp_path / 's' / 'labels.tsv'}:2: 3 tab-separated columns" in message


def test_json_keeps_every_scored_sample_reading(messy_set, checkpoint, tmp_path):
    assert main(["evaluate", str(checkpoint), str(messy_set), "--json", str(tmp_path / "r.json")]) == 0
    samples = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["sets"][0]["samples"]
    assert [(Path(s["key"]).name, s["label"], s["prediction"], s["correct"]) for s in samples] == [
        ("good1.png", "Hello", "hello", True), ("good2.png", "World", "hello", False)]


def test_missing_set_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "p.tsv").write_text("", encoding="utf-8")
    message = error_of(["evaluate", str(tmp_path / "nope"), "--predictions", str(tmp_path / "p.tsv")], capsys)
    assert "no such file or folder" in message


def test_malformed_predictions_file_is_a_one_line_error(messy_set, tmp_path, capsys):
    (tmp_path / "p.tsv").write_text("just-a-path\n", encoding="utf-8")
    assert "p.tsv:1" in error_of(["evaluate", str(messy_set), "--predictions", str(tmp_path / "p.tsv")], capsys)


def test_engine_names_match_the_sources():
    from sgtr.evaluation.sources import ENGINES

    assert tuple(ENGINES) == evaluate_cli.ENGINE_NAMES
