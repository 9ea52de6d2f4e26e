"""Progress bars on stderr: drawn for read, evaluate, synth, create-lmdb, int8 calibration and training when stderr is a
terminal, never with ``--quiet`` or when stderr is a pipe or file; training's bar counts toward ``max_steps``."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest
from PIL import Image

from sgtr.cli.main import main
from sgtr.progress import set_quiet


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def terminal(monkeypatch):
    """Makes stderr a captured terminal when called (pytest sets its own capture after fixtures are set up)."""

    def attach() -> Terminal:
        stream = Terminal()
        monkeypatch.setattr(sys, "stderr", stream)
        return stream

    yield attach
    set_quiet(False)  # main sets it process-wide


@pytest.fixture
def labelled(tmp_path):
    root = tmp_path / "set"
    root.mkdir()
    lines = []
    for i in range(3):
        Image.new("RGB", (60, 20), (40 * i, 200, 200)).save(root / f"{i}.png")
        lines.append(f"{i}.png\tword{i}")
    (root / "labels.tsv").write_text("\n".join(lines) + "\n")
    return root


def _read(*argv) -> list[str]:
    return ["read", "--workers", "0", *map(str, argv)]


def test_read_draws_a_bar_on_a_terminal(terminal, tiny_weights, labelled):
    terminal = terminal()
    assert main(_read("--model", tiny_weights, labelled)) == 0
    assert "reading:" in terminal.getvalue() and "/3 [" in terminal.getvalue()


def test_read_draws_no_bar_with_quiet(terminal, tiny_weights, labelled):
    terminal = terminal()
    assert main(_read("--quiet", "--model", tiny_weights, labelled)) == 0
    assert "reading:" not in terminal.getvalue() and "3 images read" in terminal.getvalue()


def test_read_draws_no_bar_when_stderr_is_not_a_terminal(tiny_weights, labelled, capsys):
    assert main(_read("--model", tiny_weights, labelled)) == 0
    assert "reading:" not in capsys.readouterr().err


def test_create_lmdb_draws_a_bar(terminal, labelled, tmp_path):
    terminal = terminal()
    assert main(["data", "create-lmdb", str(labelled), str(tmp_path / "db")]) == 0
    assert "writing db:" in terminal.getvalue() and "/3 [" in terminal.getvalue()


def test_evaluate_draws_a_bar_per_set(terminal, labelled, tmp_path):
    terminal = terminal()
    predictions = tmp_path / "p.tsv"
    predictions.write_text("".join(f"{labelled / f'{i}.png'}\tword{i}\n" for i in range(3)))
    assert main(["evaluate", "--predictions", str(predictions), str(labelled)]) == 0
    assert "set:" in terminal.getvalue() and "/3 [" in terminal.getvalue()


@pytest.mark.slow
def test_synth_draws_a_bar(terminal, tmp_path):
    terminal = terminal()
    from tests.helpers.render import font

    assert main(["synth", "--fonts", font(), "--no-system-fonts", "--workers", "1", "--out", str(tmp_path / "s"),
                 "--count", "4"]) == 0
    assert "synth" in terminal.getvalue() and "/4 [" in terminal.getvalue()


def test_int8_calibration_draws_a_bar(terminal, tmp_path):
    terminal = terminal()
    pytest.importorskip("onnxruntime")
    from sgtr.inference.onnx_export import export_onnx
    from sgtr.inference.quantize import quantize_onnx
    from tests.helpers.models import tiny_model

    spec, model = tiny_model()
    fp32 = export_onnx(model, spec, tmp_path / "m.onnx")
    quantize_onnx(fp32, tmp_path / "int8.onnx", np.full((5, 32, 128, 3), 128, dtype=np.uint8))
    assert "calibrating int8:" in terminal.getvalue() and "/5 [" in terminal.getvalue()
