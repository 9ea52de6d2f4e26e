"""``sgtr export``: turn a training checkpoint (or a weights file) into a shippable weights file and/or an ONNX graph.

The formats live in ``sgtr.inference.weights`` and ``sgtr.inference.onnx_export``; this module checks the arguments
and reports what it wrote, one line per file on stdout.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sgtr.cli.main import CommandError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "export", help="write a model as a .safetensors weights file or an ONNX graph",
        description="Export MODEL (a .ckpt training checkpoint or a .safetensors weights file) for reading: "
                    "--weights writes one .safetensors file with the model config in its metadata; --onnx writes "
                    "an ONNX graph (dynamic batch) that 'sgtr read --runtime onnx' runs.")
    p.add_argument("model", type=Path, metavar="MODEL")
    p.add_argument("--weights", type=Path, metavar="OUT.safetensors", help="write a weights file")
    p.add_argument("--half", action="store_true", help="store the weights as float16 (half the size)")
    p.add_argument("--onnx", type=Path, metavar="OUT.onnx", help="write an ONNX graph")
    p.add_argument("--branches", action="store_true", help="ONNX: also output each branch's logits")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.weights is None and args.onnx is None:
        raise CommandError("nothing to write: give --weights OUT.safetensors and/or --onnx OUT.onnx")
    if args.weights is not None and args.weights.suffix != ".safetensors":
        raise CommandError(f"{args.weights}: a weights file must end in .safetensors")
    if args.onnx is not None and args.onnx.suffix != ".onnx":
        raise CommandError(f"{args.onnx}: an ONNX file must end in .onnx")

    from sgtr.inference.loading import load_model
    from sgtr.serialization import CheckpointError

    try:
        spec, model = load_model(args.model)
    except CheckpointError as exc:
        raise CommandError(str(exc)) from None
    written = []
    try:
        if args.weights is not None:
            from sgtr.inference.weights import write_weights

            written.append(write_weights(model, spec, args.weights, half=args.half))
        if args.onnx is not None:
            from sgtr.inference.onnx_export import export_onnx

            written.append(export_onnx(model, spec, args.onnx, branches=args.branches))
    except OSError as exc:
        raise CommandError(f"{exc.filename or args.model}: cannot write ({exc.strerror})") from None
    for path in written:
        print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB; model {spec.name} {spec.preset}, charset "
              f"{spec.charset.name}, input {spec.input_size[0]}x{spec.input_size[1]})")
    return 0
