"""``sgtr export``: turn a training checkpoint (or a weights file) into a shippable weights file and/or an ONNX graph.

The formats live in ``sgtr.inference.weights``, ``sgtr.inference.onnx_export`` and (int8, with its calibration images)
``sgtr.inference.calibration``; this module checks the arguments and reports what it wrote, one line per file on
stdout.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sgtr.cli.errors import CommandError

CALIBRATION_LIMIT = 2048


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
    p.add_argument("--int8", action="store_true",
                   help="ONNX: quantise the convolutions to int8 (faster on CPUs; needs --calibration)")
    p.add_argument("--calibration", nargs="+", metavar="PATH",
                   help="--int8: word crops to measure activation ranges on (files, folders, globs, @list.txt; "
                        f"the first {CALIBRATION_LIMIT} are used)")
    p.add_argument("--blend", type=Path, metavar="START.safetensors",
                   help="average MODEL's weights with those it was fine-tuned from (WiSE-FT): "
                        "(1 - w) * START + w * MODEL, w = --blend-weight; what is written is the blend")
    p.add_argument("--blend-weight", type=float, default=0.5, metavar="W",
                   help="--blend: the fine-tuned model's share, in [0, 1] (default 0.5)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.weights is None and args.onnx is None:
        raise CommandError("nothing to write: give --weights OUT.safetensors and/or --onnx OUT.onnx")
    if args.weights is not None and args.weights.suffix != ".safetensors":
        raise CommandError(f"{args.weights}: a weights file must end in .safetensors")
    if args.onnx is not None and args.onnx.suffix != ".onnx":
        raise CommandError(f"{args.onnx}: an ONNX file must end in .onnx")
    if args.int8 and (args.onnx is None or not args.calibration):
        raise CommandError("--int8 quantises the ONNX graph: give --onnx OUT.onnx and --calibration with word crops "
                           "like the ones you will read")

    from sgtr.inference.loading import load_model
    from sgtr.serialization import CheckpointError

    try:
        spec, model = load_model(args.model)
    except CheckpointError as exc:
        raise CommandError(str(exc)) from None
    if args.blend is not None:
        model = _blended(model, args.blend, args.blend_weight)
    written = []
    try:
        if args.weights is not None:
            from sgtr.inference.weights import write_weights

            written.append(write_weights(model, spec, args.weights, half=args.half, source=_source(args.model)))
        if args.onnx is not None:
            from sgtr.inference.onnx_export import export_onnx

            if args.int8:
                written.append(_int8(model, spec, args))
            else:
                written.append(export_onnx(model, spec, args.onnx, branches=args.branches))
    except OSError as exc:
        raise CommandError(f"{exc.filename or args.model}: cannot write ({exc.strerror})") from None
    for path in written:
        print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB; model {spec.name} {spec.preset}, charset "
              f"{spec.charset.name}, input {spec.input_size[0]}x{spec.input_size[1]})")
    return 0


def _source(model_path: Path) -> dict | None:
    """Where a training run's imported starting weights came from (``trainer.init_from`` → its ``source``
    metadata), so a fine-tuned export keeps the provenance and licence of the weights it stands on."""
    if model_path.suffix != ".ckpt":
        return None
    from sgtr.inference.weights import read_source
    from sgtr.serialization import load_safe

    config = load_safe(model_path).get("sgtr", {}).get("config", {})
    start = (config.get("trainer") or {}).get("init_from")
    source = read_source(start) if start and str(start).endswith(".safetensors") and Path(start).is_file() else None
    return None if source is None else {**source, "fine_tuned_from": str(start)}


def _blended(model, start_path: Path, weight: float):
    """``model`` with its weights blended with ``start_path``'s (``sgtr.models.blending``)."""
    from sgtr.inference.weights import load_weights
    from sgtr.models.blending import blend_states
    from sgtr.serialization import CheckpointError

    try:
        _, start = load_weights(start_path)
        model.load_state_dict(blend_states(start.state_dict(), model.state_dict(), weight))
    except CheckpointError as exc:
        raise CommandError(str(exc)) from None
    except ValueError as exc:
        raise CommandError(f"--blend {start_path}: {exc}") from None
    return model


def _int8(model, spec, args: argparse.Namespace) -> Path:
    """The int8 graph calibrated on ``args.calibration``, written to ``--onnx``; skipped images named on stderr."""
    import sys

    from sgtr.inference.calibration import export_int8, gather_calibration

    calibration, skipped = gather_calibration(args.calibration, spec.input_size, CALIBRATION_LIMIT,
                                             spec.keep_ratio, spec.resample)
    for skip in skipped:
        print(f"calibration: skipped {skip}", file=sys.stderr)
    if calibration is None:
        raise CommandError(f"no readable calibration image in {' '.join(args.calibration)}")
    return export_int8(model, spec, args.onnx, calibration, branches=args.branches)
