"""``sgtr explain``: draw how a model read one image — input, segmentation, order maps, graph, branches — to a file.

The figure is made by ``sgtr.inference.explain``; this module loads the model and turns failures into one-line
``CommandError``s.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sgtr.cli.errors import CommandError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "explain", help="draw the maps and graph behind one reading to an image file",
        description="Read IMAGE and draw a figure of how: the input, the segmentation map, the order map of each "
                    "decoded step, the S-GTR graph and each branch's reading when the model has them.")
    p.add_argument("image", type=Path, metavar="IMAGE")
    p.add_argument("--out", type=Path, required=True, metavar="FILE.png", help="figure file (.png, .pdf, .svg)")
    p.add_argument("--model", type=Path, metavar="FILE",
                   help="a .ckpt or .safetensors model (default: the bundled model); ONNX files hold no maps")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    p.add_argument("--dpi", type=int, default=200)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sgtr.data.images import BadImage
    from sgtr.inference.explain import explain
    from sgtr.inference.predictor import Recognizer
    from sgtr.serialization import CheckpointError

    try:
        recognizer = Recognizer(args.model, runtime="torch", device=args.device)
        reading = explain(recognizer, args.image, args.out, dpi=args.dpi)
    except (CheckpointError, BadImage, ValueError) as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"{exc.filename or args.out}: cannot write ({exc.strerror})") from None
    print(f"{args.image}\t{reading.text}\t{reading.confidence:.4f}\twrote {args.out}")
    return 0
