"""What ``sgtr read`` tells a user about odd inputs: links that lead nowhere, paths holding tabs or line breaks, a
partly foreign whitelist, and counts in the right number."""

from __future__ import annotations

import os

import pytest
from PIL import Image

from sgtr.cli.main import main


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "word.png"
    Image.new("RGB", (60, 20), (230, 230, 230)).save(path)
    return path


def _read(capsys, *argv) -> tuple[int, str, list[str]]:
    code = main(["read", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip().splitlines()


def test_symlink_loop_named_directly_is_called_a_loop(tmp_path, tiny_weights, image, capsys):
    os.symlink(tmp_path / "b.png", tmp_path / "a.png")
    os.symlink(tmp_path / "a.png", tmp_path / "b.png")
    code, _, err = _read(capsys, "--model", tiny_weights, "--workers", 0, tmp_path / "a.png", image)
    assert code == 0
    assert any("a.png: symbolic link loop" in line for line in err), err


def test_broken_symlink_named_directly_is_called_broken(tmp_path, tiny_weights, image, capsys):
    os.symlink(tmp_path / "gone.png", tmp_path / "link.png")
    code, _, err = _read(capsys, "--model", tiny_weights, "--workers", 0, tmp_path / "link.png", image)
    assert any("link.png: broken symbolic link" in line for line in err), err


def test_text_format_escapes_tabs_and_newlines_in_paths(tmp_path, tiny_weights, image, capsys):
    odd = tmp_path / "tab\there\nnew.png"
    image.rename(odd)
    code, out, _ = _read(capsys, "--model", tiny_weights, "--workers", 0, odd)
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 1 and lines[0].count("\t") == 2
    assert lines[0].startswith(str(tmp_path / "tab\\there\\nnew.png") + "\t")


def test_whitelist_characters_outside_the_charset_are_named(tiny_weights, image, capsys):
    code, _, err = _read(capsys, "--model", tiny_weights, "--workers", 0, "--whitelist", "abc!%", image)
    assert code == 0
    assert "--whitelist characters outside charset '36' ignored: '!%'" in err[0]


def test_one_image_read_is_singular(tiny_weights, image, capsys):
    _, _, err = _read(capsys, "--model", tiny_weights, "--workers", 0, image)
    assert "1 image read in" in err[-1] and "1 images" not in err[-1]


def _turns_seen(monkeypatch) -> list[int]:
    from sgtr.inference.predictor import Recognizer

    seen: list[int] = []
    original = Recognizer.read_prepared

    def spy(self, items, **kwargs):
        seen.extend(len(item.turns) for item in items)
        return original(self, items, **kwargs)

    monkeypatch.setattr(Recognizer, "read_prepared", spy)
    return seen


def test_read_turns_tall_crops_by_default(tmp_path, tiny_weights, monkeypatch, capsys):
    tall = tmp_path / "tall.png"
    Image.new("RGB", (20, 80), (230, 230, 230)).save(tall)
    seen = _turns_seen(monkeypatch)
    _read(capsys, "--model", tiny_weights, "--workers", 0, tall)
    _read(capsys, "--model", tiny_weights, "--workers", 0, "--no-rotate-vertical", tall)
    assert seen == [3, 1]


def test_recognizer_turns_tall_crops_by_default(tiny_weights, monkeypatch):
    from sgtr.inference.predictor import Recognizer

    seen = _turns_seen(monkeypatch)
    Recognizer(tiny_weights, device="cpu").predict(Image.new("RGB", (20, 80), (230, 230, 230)))
    assert seen == [3]


def test_read_into_a_closed_pipe_stops_without_a_traceback():
    import subprocess
    import sys
    from pathlib import Path

    samples = Path(__file__).resolve().parents[1] / "samples"
    command = f"{sys.executable} -m sgtr.cli.main read --threads 1 {samples} {samples} {samples} | head -n 1"
    run = subprocess.run(command, shell=True, capture_output=True, text=True)
    assert len(run.stdout.splitlines()) == 1
    assert "Traceback" not in run.stderr and "BrokenPipeError" not in run.stderr
