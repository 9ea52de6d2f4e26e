"""The training-curve PNG written at the end of a run, from the CSV logs Lightning keeps (one ``version_N`` folder per
launch of the run; a resumed run adds one, and later launches win where steps overlap)."""

from __future__ import annotations

import csv
from pathlib import Path


def read_metrics(csv_dir: Path) -> dict[str, dict[float, float]]:
    """Series worth plotting (training loss and accuracy, validation accuracies) as {name: {step: value}}."""
    files = sorted(csv_dir.glob("version_*/metrics.csv"), key=lambda p: int(p.parent.name.split("_")[-1]))
    series: dict[str, dict[float, float]] = {}
    for metrics_csv in files:
        with metrics_csv.open(newline="") as f:
            for row in csv.DictReader(f):
                step = row.get("step")
                for key, value in row.items():
                    if key in ("step", "epoch") or not value or not step:
                        continue
                    if key in ("train/loss", "train/accuracy") or key.startswith("val/"):
                        series.setdefault(key, {})[float(step)] = float(value)
    return series


def plot_training_curves(csv_dir: Path, out_png: Path) -> Path | None:
    """Loss and accuracies against step; returns the PNG path, or None when the logs have nothing to draw."""
    series = read_metrics(csv_dir)
    if not series:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    for key, points in sorted(series.items()):
        xs, ys = zip(*sorted(points.items()))
        (ax_loss if key == "train/loss" else ax_acc).plot(xs, ys, label=key, marker="." if key.startswith("val/")
                                                            else None)
    ax_loss.set(xlabel="step", ylabel="loss", yscale="log", title="training loss")
    ax_acc.set(xlabel="step", ylabel="word accuracy", ylim=(0, 1), title="accuracy")
    ax_acc.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    return out_png
