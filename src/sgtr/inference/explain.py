"""``sgtr explain``: one figure of how a model read one image — the maps and graphs behind the text, paper-ready.

Panels, each drawn only when the model's ``RecognizerOutput`` holds what it needs:

* **input** as the model saw it (stretched to the trained size), titled with the reading and its confidence;
* **segmentation**: ``seg_logits`` argmax over the input, one colour per class, each connected region labelled with
  its character (background left clear);
* **order maps**: ``order_maps`` of every decoded step up to and including EOS, one small panel each, titled with the
  step's character and probability;
* **graph** (S-GTR; ``extras`` keys ``gtr_nodes`` (B, T, Kn) flat pixel indices into the H'×W' map, ``gtr_roots``
  (B, T) each root's index among its character's Kn nodes, ``gtr_edges`` (B, T, Kn, Kn) bool, ``gtr_valid`` (B, T)
  bool; see ``RecognizerOutput``): each valid step's nodes and intra-character edges in the step's colour, its root
  as a star, and the root chain joining the roots in reading order;
* **readings**: each branch's text and confidence (the product of its per-step probabilities, EOS included), the
  branch the output comes from marked, under a legend saying so; and the fusion gate per step
  (``extras['fusion_gate']`` (B, T)) when the model has one. Without a graph beside it the row is only as tall as
  its lines.

It draws with matplotlib's object API on an Agg canvas, so it needs no display and sets no global backend.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from sgtr.data.charset import EOS_ID, Charset
from sgtr.inference.predictor import Reading, Recognizer
from sgtr.inference.preprocess import ImageInput, to_batch
from sgtr.models.decoding import decode
from sgtr.models.output import RecognizerOutput

GRAPH_KEYS = ("gtr_nodes", "gtr_roots", "gtr_edges", "gtr_valid")
ORDER_COLUMNS = 8
FONT = 7


def explain(recognizer: Recognizer, image: ImageInput, out: str | Path, dpi: int = 200) -> Reading:
    """Read ``image`` with a PyTorch-runtime recognizer and save the figure to ``out`` (any format matplotlib
    writes, by suffix); returns the reading."""
    if not hasattr(recognizer.runtime, "model"):
        raise ValueError("explain needs the PyTorch runtime: the maps are not in an ONNX graph's outputs")
    prepared = recognizer.preprocessor()(image)
    output = recognizer.runtime(to_batch(prepared.arrays))
    figure = explain_figure(prepared.arrays[0], output, recognizer.charset)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=dpi, bbox_inches="tight", facecolor="white")
    return recognizer.read_prepared([prepared])[0]


def explain_figure(image: np.ndarray, output: RecognizerOutput, charset: Charset):
    """The figure for the first sample of ``output``, given the (H, W, 3) uint8 model input it came from."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    reading = decode(output, charset)[0]
    best, ids = output.logits[0].float().softmax(dim=-1).max(dim=-1)
    steps = min(len(reading.text) + 1, len(ids))  # the characters and the EOS step
    labels = ["EOS" if i == EOS_ID else charset.decode([i]) or "?" for i in ids[:steps].tolist()]
    has_graph = all(k in output.extras for k in GRAPH_KEYS)
    has_gate = "fusion_gate" in output.extras
    has_readings = has_gate or len(output.branches) > 1
    order_rows = 0 if output.order_maps is None else -(-steps // ORDER_COLUMNS)
    # A graph or a gate chart needs a panel's height; text alone needs its lines (legend, one per branch, note).
    text_height = 0.2 * (len(output.branches) + 3)
    middle = 1.6 if has_graph or has_gate else text_height
    heights = [1.6] + [middle] * has_readings + [0.75 * order_rows] * (order_rows > 0)

    figure = Figure(figsize=(10, sum(heights) + 0.2), layout="constrained")
    FigureCanvasAgg(figure)
    grid = figure.add_gridspec(len(heights), 2, height_ratios=heights)
    h, w = image.shape[:2]
    extent = (0, w, h, 0)

    ax = figure.add_subplot(grid[0, 0])
    ax.imshow(image, extent=extent)
    _frame(ax, f"input {h}×{w}: “{reading.text}”  ({reading.confidence:.3f})")
    ax = figure.add_subplot(grid[0, 1])
    if output.seg_logits is not None:
        _segmentation(ax, image, output.seg_logits[0].argmax(dim=0).numpy(), charset, extent)
    else:
        ax.axis("off")
    if has_readings:
        if has_graph:
            _graph(figure.add_subplot(grid[1, 0]), image, output, extent)
        _readings(figure, grid[1, 1] if has_graph else grid[1, :], output, charset, labels)
    if order_rows:
        _order_maps(figure, grid[-1, :], output.order_maps[0], labels, best[:steps].tolist(), order_rows)
    return figure


def _frame(ax, title: str) -> None:
    ax.set_title(title, fontsize=FONT + 1, loc="left")
    ax.set_xticks([])
    ax.set_yticks([])


def _colour(index: int):
    """Distinct colours for classes and steps; tab20 without its two greys, which read as background."""
    from matplotlib import colormaps

    palette = [c for i, c in enumerate(colormaps["tab20"].colors) if i not in (14, 15)]
    return (*palette[index % len(palette)], 1.0)


def _segmentation(ax, image: np.ndarray, classes: np.ndarray, charset: Charset, extent) -> None:
    from matplotlib import patheffects

    ax.imshow(image.mean(axis=2), cmap="gray", extent=extent)
    overlay = np.zeros((*classes.shape, 4))
    for k in np.unique(classes[classes != EOS_ID]):
        overlay[classes == k] = _colour(int(k))
    ax.imshow(overlay, extent=extent, interpolation="nearest", alpha=0.75)
    sy, sx = extent[2] / classes.shape[0], extent[1] / classes.shape[1]
    for k, ys, xs in _regions(classes):
        ax.text((xs.mean() + 0.5) * sx, (ys.mean() + 0.5) * sy, charset.decode([k]) or "?", ha="center",
                va="center", fontsize=FONT + 2, weight="bold", color="black",
                path_effects=[patheffects.withStroke(linewidth=2, foreground="white")])
    _frame(ax, f"segmentation argmax ({classes.shape[0]}×{classes.shape[1]})")


def _regions(classes: np.ndarray, min_pixels: int = 2) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """Connected regions (4-neighbour) of each non-background class: (class, rows, cols) per region."""
    seen = np.zeros_like(classes, dtype=bool)
    regions = []
    height, width = classes.shape
    for y0, x0 in zip(*np.nonzero(classes != EOS_ID)):
        if seen[y0, x0]:
            continue
        k, stack, pixels = classes[y0, x0], [(y0, x0)], []
        seen[y0, x0] = True
        while stack:
            y, x = stack.pop()
            pixels.append((y, x))
            for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                if 0 <= ny < height and 0 <= nx < width and not seen[ny, nx] and classes[ny, nx] == k:
                    seen[ny, nx] = True
                    stack.append((ny, nx))
        if len(pixels) >= min_pixels:
            ys, xs = np.array(pixels).T
            regions.append((int(k), ys, xs))
    return regions


def _graph(ax, image: np.ndarray, output: RecognizerOutput, extent) -> None:
    maps = next((t for t in (output.seg_logits, output.order_maps, output.features) if t is not None), None)
    if maps is None:
        raise ValueError("drawing the graph needs the map size: the output has no seg_logits, order_maps or features")
    map_size, width = maps.shape[-2:], maps.shape[-1]
    ax.imshow(image.mean(axis=2), cmap="gray", extent=extent, alpha=0.5)
    nodes, roots, edges, valid = (output.extras[k][0].cpu() for k in GRAPH_KEYS)
    sy, sx = extent[2] / map_size[0], extent[1] / map_size[1]

    def xy(flat: Tensor) -> tuple[np.ndarray, np.ndarray]:
        flat = flat.long().numpy()
        return (flat % width + 0.5) * sx, (flat // width + 0.5) * sy

    chain = []
    for t in torch.nonzero(valid).flatten().tolist():
        colour = _colour(t)
        x, y = xy(nodes[t])
        for i, j in torch.nonzero(torch.triu(edges[t].bool(), diagonal=1)).tolist():
            ax.plot([x[i], x[j]], [y[i], y[j]], color=colour, linewidth=0.6, alpha=0.8)
        ax.scatter(x, y, s=6, color=colour, zorder=3)
        rx, ry = xy(nodes[t, roots[t]].reshape(1))  # a root is an index into its character's nodes
        chain.append((rx[0], ry[0]))
        ax.scatter(rx, ry, s=60, marker="*", color=colour, edgecolors="black", linewidths=0.5, zorder=4)
    if len(chain) > 1:
        cx, cy = zip(*chain)
        ax.plot(cx, cy, color="black", linewidth=1.2, linestyle="--", zorder=2)
    ax.set_xlim(0, extent[1])
    ax.set_ylim(extent[2], 0)
    _frame(ax, f"graph: {len(chain)} characters, nodes · intra-character edges — roots ★ and root chain - -")


def _branch_readings(output: RecognizerOutput, charset: Charset):
    return [(name, decode(logits[:1], charset, ctc=output.ctc)[0]) for name, logits in sorted(output.branches.items())]


def _readings(figure, cell, output: RecognizerOutput, charset: Charset, labels: list[str]) -> None:
    """Each branch's reading as text; beside it, when the model fuses branches, the gate of each decoded step."""
    gate = output.extras.get("fusion_gate")
    grid = cell.subgridspec(1, 2, width_ratios=[1, 1.4]) if gate is not None else cell.subgridspec(1, 1)
    ax = figure.add_subplot(grid[0, 0])
    ax.axis("off")
    readings = _branch_readings(output, charset)
    width = max(len(p.text) for _, p in readings) + 2
    lines = [f"{'branch':>6}  {'reading':<{width}}  confidence"]
    for name, p in readings:
        source = "  ◀ output" if torch.equal(output.branches[name][:1], output.logits[:1]) else ""
        lines.append(f"{name:>6}  {'“' + p.text + '”':<{width}}  {p.confidence:10.3f}{source}")
    ax.set_title("branch readings", fontsize=FONT + 1, loc="left")
    ax.text(0, 1, "\n".join(lines), family="monospace", fontsize=FONT + 1, va="top", transform=ax.transAxes)
    ax.text(0, 0, "confidence: product of the branch's per-step probabilities of its own reading, EOS included",
            fontsize=FONT, va="bottom", color="0.35", transform=ax.transAxes)
    if gate is None:
        return
    ax = figure.add_subplot(grid[0, 1])
    values = gate[0, : len(labels)].float().cpu().numpy()  # the decoded steps, EOS included
    ax.bar(range(len(values)), values, color=[_colour(t) for t in range(len(values))])
    ax.set_xticks(range(len(values)), labels, fontsize=FONT)
    ax.set_ylim(0, 1)
    ax.tick_params(axis="y", labelsize=FONT)
    ax.set_title("fusion gate per step", fontsize=FONT + 1, loc="left")


def _order_maps(figure, cell, maps: Tensor, labels: list[str], probs: list[float], rows: int) -> None:
    grid = cell.subgridspec(rows, ORDER_COLUMNS)
    for t, (label, p) in enumerate(zip(labels, probs)):
        ax = figure.add_subplot(grid[t // ORDER_COLUMNS, t % ORDER_COLUMNS])
        ax.imshow(maps[t].float().numpy(), cmap="magma", interpolation="nearest")
        ax.set_title(f"t={t + 1} {label} ({p:.2f})", fontsize=FONT)
        ax.set_xticks([])
        ax.set_yticks([])
