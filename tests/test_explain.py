"""``sgtr explain``: the figure for the VR, for an S-GTR-like output (a hand-made graph, branches and fusion gate),
and its one-line errors."""

from __future__ import annotations

from pathlib import Path

import torch

from sgtr.cli.main import main
from sgtr.inference.explain import explain_figure
from sgtr.inference.predictor import Recognizer
from sgtr.inference.preprocess import to_batch
from tests.helpers.data import crops

PNG = b"\x89PNG\r\n\x1a\n"


def test_cli_draws_the_vr_figure(tiny_weights, tmp_path, capsys):
    out = tmp_path / "figs" / "explain.png"
    assert main(["explain", str(crops(1)[0]), "--out", str(out), "--model", str(tiny_weights), "--device", "cpu",
                 "--dpi", "60"]) == 0
    assert out.read_bytes().startswith(PNG) and out.stat().st_size > 5000
    assert "wrote" in capsys.readouterr().out


def gtr_output(recognizer: Recognizer, image: Path):
    """The VR's output with what S-GTR adds: a 4-node graph per character, more branches and a fusion gate."""
    prepared = recognizer.preprocessor()(image)
    output = recognizer.runtime(to_batch(prepared.arrays))
    b, t, h, w = output.order_maps.shape
    nodes = output.order_maps.flatten(2).topk(4, dim=-1).indices  # (B, T, 4) flat pixel indices
    chain = torch.ones(4, 4, dtype=torch.bool).triu(1) & ~torch.ones(4, 4, dtype=torch.bool).triu(2)
    output.extras = {"gtr_nodes": nodes, "gtr_roots": torch.zeros(b, t, dtype=torch.long),
                     "gtr_edges": chain.expand(b, t, 4, 4), "gtr_valid": torch.arange(t)[None] < 3,
                     "fusion_gate": torch.linspace(0, 1, t)[None]}
    output.branches = {name: output.logits for name in ("vr", "lm", "gtr", "fused")}
    return prepared.arrays[0], output


def test_figure_draws_the_graph_branches_and_gate(tiny_weights, tmp_path):
    recognizer = Recognizer(tiny_weights, device="cpu")
    image, output = gtr_output(recognizer, crops(1)[0])
    figure = explain_figure(image, output, recognizer.charset)
    titles = [ax.get_title(loc="left") for ax in figure.axes]
    assert any(t.startswith("graph: 3 characters") for t in titles)
    assert "fusion gate per step" in titles and "branch readings" in titles
    graph = next(ax for ax in figure.axes if ax.get_title(loc="left").startswith("graph"))
    assert len(graph.lines) == 3 * 3 + 1  # three edges per valid character, then the root chain
    out = tmp_path / "gtr.png"
    figure.savefig(out, dpi=60)
    assert out.read_bytes().startswith(PNG)


def test_onnx_models_cannot_be_explained(tmp_path, capsys):
    bad = tmp_path / "m.onnx"
    bad.write_bytes(b"")
    assert main(["explain", str(crops(1)[0]), "--out", str(tmp_path / "x.png"), "--model", str(bad)]) == 2
    assert "ONNX Runtime only" in capsys.readouterr().err


def test_unreadable_image_is_a_one_line_error(tiny_weights, tmp_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"nope")
    assert main(["explain", str(bad), "--out", str(tmp_path / "x.png"), "--model", str(tiny_weights)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "bad.png" in lines[0]


def _two_branch_output(recognizer: Recognizer, image: Path):
    """The VR's output with two branches (like VR + LM) and no graph or gate; the output is ``lm``'s."""
    prepared = recognizer.preprocessor()(image)
    output = recognizer.runtime(to_batch(prepared.arrays))
    output.branches = {"vr": output.logits.flip(-1), "lm": output.logits}
    return prepared.arrays[0], output


def test_text_only_readings_row_leaves_no_blank_panel(tiny_weights):
    recognizer = Recognizer(tiny_weights, device="cpu")
    image, output = _two_branch_output(recognizer, crops(1)[0])
    figure = explain_figure(image, output, recognizer.charset)
    readings = next(ax for ax in figure.axes if ax.get_title(loc="left") == "branch readings")
    assert readings.get_position().height * figure.get_size_inches()[1] < 1.0  # a full panel row is 1.6 in


def test_branch_readings_have_a_legend_and_mark_the_output_branch(tiny_weights):
    recognizer = Recognizer(tiny_weights, device="cpu")
    image, output = _two_branch_output(recognizer, crops(1)[0])
    figure = explain_figure(image, output, recognizer.charset)
    readings = next(ax for ax in figure.axes if ax.get_title(loc="left") == "branch readings")
    texts = [t.get_text() for t in readings.texts]
    table = next(t for t in texts if t.startswith("branch"))
    assert "reading" in table.splitlines()[0] and "confidence" in table.splitlines()[0]
    marked = [line.split()[0] for line in table.splitlines()[1:] if "◀ output" in line]
    assert marked == ["lm"]
    assert any(t.startswith("confidence: product of the branch's per-step probabilities") for t in texts)
