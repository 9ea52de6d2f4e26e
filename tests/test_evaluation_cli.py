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
    assert "| a | 1 |" in out and "| b | 1 |" in out and "| mean over sets |" in out
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


def test_no_source_is_a_one_line_error(messy_set, capsys):
    assert "exactly one source" in error_of(["evaluate", str(messy_set)], capsys)


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
