"""``sgtr calibrate``: fit a weights file's confidence temperature on held-back data and measure its calibration.

The samples of the given sets are split in two by position (even → fit, odd → measure): the temperature is fitted on
one half and the expected calibration error reported on the other, before and after, so the figure is never measured
on what fitted it. The logic is ``sgtr.evaluation.calibration``; this module reads, prints and writes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sgtr.cli.errors import CommandError


def register(subparsers) -> None:
    p = subparsers.add_parser("calibrate", help="fit word-confidence calibration on held-back sets",
                              description="Fit the temperature of a .safetensors model's word confidences on half "
                                          "of SETS (never benchmarks: use a validation split), report the expected "
                                          "calibration error on the other half, and write the model with it.")
    p.add_argument("model", type=Path, metavar="MODEL.safetensors")
    p.add_argument("sets", nargs="+", type=Path, metavar="SET")
    p.add_argument("--out", type=Path, required=True, metavar="OUT.safetensors")
    p.add_argument("--plot", type=Path, metavar="FIG.png", help="reliability diagram of the measuring half")
    p.add_argument("--batch-size", type=int, default=32)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import dataclasses

    import numpy as np

    from sgtr.data.datasets import open_dataset
    from sgtr.data.skips import Skip
    from sgtr.engine.data import protocol_for
    from sgtr.evaluation import calibration as cal
    from sgtr.inference.predictor import Recognizer
    from sgtr.inference.preprocess import to_batch
    from sgtr.inference.weights import load_weights, read_source, write_weights
    from sgtr.serialization import CheckpointError

    if any("benchmarks" in Path(s).resolve().parts for s in args.sets):
        raise CommandError("calibrate on a validation split, never on a benchmark set")
    try:
        spec, model = load_weights(args.model)
    except CheckpointError as exc:
        raise CommandError(str(exc)) from None
    reader = Recognizer(model, spec=spec, device="cpu")
    prepare, protocol = reader.preprocessor(), protocol_for(spec.charset)
    halves: dict[int, tuple[list, list]] = {0: ([], []), 1: ([], [])}
    skipped = 0
    for path in args.sets:
        try:
            dataset = open_dataset(path, with_masks=False)
        except (FileNotFoundError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        samples = [s for s in (dataset[i] for i in range(len(dataset))) if not isinstance(s, Skip)]
        skipped += len(dataset) - len(samples)
        for half in (0, 1):
            chosen = samples[half::2]
            for i in range(0, len(chosen), args.batch_size):
                chunk = chosen[i:i + args.batch_size]
                out = reader.runtime(to_batch(np.concatenate([prepare(s.image).arrays[:1] for s in chunk])))
                halves[half][0].append(cal.LogitBatch(out.logits.float().cpu(), out.ctc))
                halves[half][1].extend(protocol.clean(s.label) for s in chunk)

    def correct(half: int, temperature: float) -> tuple[np.ndarray, np.ndarray]:
        conf, texts = cal.confidences(halves[half][0], spec.charset, temperature)
        return conf, np.array([protocol.clean(t) == label for t, label in zip(texts, halves[half][1])])

    fit_conf, fit_right = correct(0, 1.0)
    temperature = cal.fit(halves[0][0], spec.charset, fit_right)
    before, right = correct(1, 1.0)
    after, _ = correct(1, temperature)
    print(f"fitted on {len(fit_right)} samples, measured on {len(right)} ({skipped} unreadable skipped); "
          f"protocol {protocol.name}; word accuracy of the measuring half {right.mean():.2%}")
    print(f"temperature {temperature:g}: expected calibration error {cal.expected_calibration_error(before, right):.4f}"
          f" → {cal.expected_calibration_error(after, right):.4f} (10 bins)")
    print("| confidence bin | words | mean confidence | accuracy |\n|---|---:|---:|---:|")
    for b in cal.reliability(after, right):
        print(f"| {b.low:.1f}–{b.high:.1f} | {b.count} | {b.confidence:.3f} | {b.accuracy:.3f} |")
    write_weights(model, dataclasses.replace(spec, temperature=temperature), args.out, source=read_source(args.model))
    print(f"wrote {args.out}")
    if args.plot:
        _plot(cal.reliability(before, right), cal.reliability(after, right), temperature, args.plot)
    return 0


def _plot(before, after, temperature: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 4.2))
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="perfect calibration")
    for bins, name in ((before, "before (T = 1)"), (after, f"after (T = {temperature:g})")):
        ax.plot([b.confidence for b in bins], [b.accuracy for b in bins], marker="o", label=name)
    ax.set_xlabel("mean word confidence in bin")
    ax.set_ylabel("share of words right")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
