"""The training-curve PNG written at the end of a run, from the CSV log Lightning keeps."""

from __future__ import annotations

import csv
from pathlib import Path


def plot_training_curves(metrics_csv: Path, out_png: Path) -> Path | None:
    """Loss and accuracies against step; returns the PNG path, or None when the log has nothing to draw."""
    if not metrics_csv.is_file():
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series: dict[str, tuple[list[float], list[float]]] = {}
    with metrics_csv.open(newline="") as f:
        for row in csv.DictReader(f):
            step = row.get("step")
            for key, value in row.items():
                if key in ("step", "epoch") or not value or not step:
                    continue
                if key == "train/loss" or key.startswith("val/") or key == "train/accuracy":
                    xs, ys = series.setdefault(key, ([], []))
                    xs.append(float(step))
                    ys.append(float(value))
    if not series:
        return None
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    for key, (xs, ys) in sorted(series.items()):
        (ax_loss if key == "train/loss" else ax_acc).plot(xs, ys, label=key, marker="." if key.startswith("val/")
                                                            else None)
    ax_loss.set(xlabel="step", ylabel="loss", yscale="log", title="training loss")
    ax_acc.set(xlabel="step", ylabel="word accuracy", ylim=(0, 1), title="accuracy")
    ax_acc.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    return out_png
