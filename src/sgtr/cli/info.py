"""``sgtr info``: what a model file is — the model, its charset and input geometry, and where imported weights came
from (package, file, SHA-256, licence, attribution)."""

from __future__ import annotations

import argparse
from pathlib import Path

from sgtr.cli.errors import CommandError


def register(subparsers) -> None:
    p = subparsers.add_parser("info", help="describe a model file: model, charset, input, provenance of its weights",
                              description="Print what a .safetensors, .ckpt or .onnx model file holds and, for "
                                          "imported or fine-tuned-from-imported weights, their source and licence.")
    p.add_argument("model", type=Path, nargs="?", metavar="FILE", help="default: the bundled model")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sgtr.inference.loading import resolve_model_path
    from sgtr.inference.weights import read_source
    from sgtr.serialization import CheckpointError

    try:
        path = resolve_model_path(args.model)
        from sgtr.inference.loading import open_runtime

        spec, _ = open_runtime(path, runtime="onnx" if path.suffix == ".onnx" else "torch", device="cpu")
    except (CheckpointError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    h, w = spec.input_size
    geometry = f"{h}x{w}, " + ("scaled to height {h} with the aspect ratio kept, padded to width {w}".format(h=h, w=w)
                               if spec.keep_ratio else "stretched") + f"; {spec.resample} resize"
    print(f"file: {path}")
    print(f"model: {spec.name} ({spec.preset}); options: {spec.options or '{}'}")
    print(f"charset: {spec.charset.name}, {len(spec.charset.symbols)} symbols, up to {spec.charset.max_length} "
          "characters")
    print(f"input: {geometry}")
    source = read_source(path) if path.suffix == ".safetensors" else None
    if source:
        for key in ("package", "package_version", "file", "sha256", "licence", "fine_tuned_from", "attribution"):
            if key in source:
                print(f"source {key.replace('_', ' ')}: {source[key]}")
    else:
        print("source: trained by sgtr (no imported weights recorded)")
    return 0
