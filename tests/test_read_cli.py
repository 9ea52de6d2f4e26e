"""``sgtr read`` end to end: a folder mixing good and bad files in every output format, path expansion (folders,
globs, @lists), exit statuses, options, and one real process with decoding workers."""

from __future__ import annotations

import csv
import io
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from sgtr.cli.main import main
from sgtr.inference.stream import expand_inputs
from tests.helpers.data import crops

BAD = ("corrupt.png", "empty.jpg", "text.png")


@pytest.fixture
def folder(tmp_path) -> Path:
    """Three good crops (one in a subfolder), three bad image files, and a labels file the folder walk ignores."""
    root = tmp_path / "imgs"
    (root / "sub").mkdir(parents=True)
    for i, path in enumerate(crops(3)):
        Image.open(path).save(root / ("sub" if i == 2 else "") / f"good{i}.png")
    (root / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    (root / "empty.jpg").write_bytes(b"")
    (root / "text.png").write_text("hello, I am text")
    (root / "labels.tsv").write_text("good0.png\tx\n")
    return root


def read(argv: list[str], model: Path, capsys, caplog) -> tuple[int, str, str, list[str]]:
    """Exit status, stdout, stderr and the skip messages logged."""
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="sgtr"):
        status = main(["read", *argv, "--model", str(model), "--device", "cpu", "--workers", "0"])
    out, err = capsys.readouterr()
    return status, out, err, [r.getMessage() for r in caplog.records]


@pytest.mark.parametrize("fmt", ["text", "jsonl", "csv"])
def test_mixed_folder_reads_good_files_and_names_each_bad_one_once(fmt, folder, tiny_weights, capsys, caplog):
    status, out, err, logged = read([str(folder), "--format", fmt], tiny_weights, capsys, caplog)
    assert status == 0
    if fmt == "text":
        rows = [line.split("\t") for line in out.splitlines()]
        assert all(len(r) == 3 and 0.0 <= float(r[2]) <= 1.0 for r in rows)
        paths = [r[0] for r in rows]
    elif fmt == "jsonl":
        rows = [json.loads(line) for line in out.splitlines()]
        assert all(len(r["char_probs"]) == len(r["text"]) for r in rows)
        paths = [r["path"] for r in rows]
    else:
        rows = list(csv.DictReader(io.StringIO(out)))
        assert list(rows[0]) == ["path", "text", "confidence"]
        paths = [r["path"] for r in rows]
    assert sorted(Path(p).name for p in paths) == ["good0.png", "good1.png", "good2.png"]
    for name in BAD:
        assert sum(name in message for message in logged) == 1, (name, logged)
    assert "3 images read" in err and "3 samples skipped" in err


def test_nothing_readable_exits_non_zero(folder, tiny_weights, capsys, caplog):
    status, out, err, logged = read([str(folder / b) for b in BAD] + [str(folder / "gone.png")], tiny_weights,
                                    capsys, caplog)
    assert status == 1 and out == "" and "0 images read" in err and len(logged) == 4


def test_globs_lists_and_duplicates(folder, tmp_path):
    listing = tmp_path / "list.txt"
    listing.write_text(f"{folder / 'good0.png'}\n\n{folder / 'sub'}\n", encoding="utf-8")
    paths, problems = expand_inputs([f"@{listing}", str(folder / "**" / "*.png"), str(folder / "nothing*.png"),
                                     f"@{tmp_path / 'nolist.txt'}"])
    names = [Path(p).name for p in paths]
    assert names[:2] == ["good0.png", "good2.png"]  # the list first, in its order
    assert sorted(names) == sorted(["good0.png", "good1.png", "good2.png", "corrupt.png", "text.png"])
    assert [p.reason for p in problems] == ["no image files match", "cannot read list file (No such file or "
                                            "directory)"]


def test_branches_whitelist_lexicon_and_rotation_options(folder, tiny_weights, tmp_path, capsys, caplog):
    lexicon = tmp_path / "words.txt"
    lexicon.write_text("hello\nworld\ncafé\n", encoding="utf-8")
    status, out, err, _ = read([str(folder / "good0.png"), "--branches", "--lexicon", str(lexicon),
                                "--rotate-vertical", "--format", "jsonl"], tiny_weights, capsys, caplog)
    row = json.loads(out)
    assert status == 0 and row["text"] in {"hello", "world"} and "raw" in row and "vr" in row["branches"]
    assert "1 lexicon words set aside" in err
    status, out, _, _ = read([str(folder / "good0.png"), "--whitelist", "xyz", "--branches"], tiny_weights, capsys,
                             caplog)
    path, text, confidence, branch = out.rstrip("\n").split("\t")
    assert set(text) <= set("xyz") and branch.startswith("vr=")


@pytest.mark.parametrize("argv, words", [
    (["--whitelist", "東京"], "shares no symbol"),
    (["--lexicon", "/nonexistent/words.txt"], "cannot read lexicon"),
    (["--runtime", "onnx"], "sgtr export"),
])
def test_user_errors_are_one_line(argv, words, folder, tiny_weights, capsys, caplog):
    status, out, err, _ = read([str(folder), *argv], tiny_weights, capsys, caplog)
    lines = err.strip().splitlines()
    assert status == 2 and len(lines) == 1 and words in lines[0]


def test_real_process_with_workers(folder, tiny_weights):
    result = subprocess.run([sys.executable, "-m", "sgtr.cli.main", "read", str(folder), "--model", str(tiny_weights),
                             "--device", "cpu", "--workers", "2", "--batch-size", "2", "--threads", "1"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 3
    for name in BAD:
        assert sum(name in line for line in result.stderr.splitlines()) == 1, result.stderr
