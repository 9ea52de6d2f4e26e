"""``sgtr import ppocr``: write an sgtr weights file from the pretrained PP-OCRv6-small recognizer in the installed
rapidocr wheel (``sgtr.models.backbones.ppocr_import`` does the mapping)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sgtr.cli.errors import CommandError

HEIGHT, WIDTH = 48, 320  # the released network's input: 48 high, aspect kept, padded to at least 320


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "import", help="import pretrained weights from an installed package (ppocr: PP-OCRv6-small)",
        description="Import the PP-OCRv6-small text recognizer shipped in the rapidocr wheel (Apache-2.0, Baidu "
                    "PaddleOCR; its training data is not disclosed) as an ordinary sgtr weights file. Needs the "
                    "`pretrained` extra: pip install 'sgtr[pretrained]'.")
    p.add_argument("network", choices=["ppocr"], help="which pretrained network")
    p.add_argument("--charset", default="94", metavar="36|62|94|full|FILE",
                   help="keep the classifier rows of these symbols (default 94: case-sensitive with punctuation; "
                        "36 folds case, a letter's probability being its two cases' sum; full keeps the network's "
                        "whole character list; FILE has one symbol per line)")
    p.add_argument("--max-length", type=int, default=25, help="longest label the model is meant to read")
    p.add_argument("--width", type=int, default=WIDTH, help=f"padded input width (default {WIDTH})")
    p.add_argument("--resample", choices=("antialias", "linear"), default="antialias",
                   help="the resize filter the model reads with: antialias (sgtr's, the default) or linear "
                        "(OpenCV's plain bilinear, as PaddleOCR trained the network: reads exactly as RapidOCR)")
    p.add_argument("--onnx-file", type=Path, help="read this ONNX file instead of the one in the rapidocr package")
    p.add_argument("--out", type=Path, required=True, metavar="FILE.safetensors")
    p.add_argument("--half", action="store_true", help="store float16 tensors")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import unicodedata

    from sgtr.data.charset import Charset
    from sgtr.inference.spec import ModelSpec
    from sgtr.inference.weights import write_weights
    from sgtr.models.backbones.ppocr_import import PretrainedImportError, build_imported, read_released

    try:
        released = read_released(args.onnx_file)
        if args.charset == "full":
            symbols = tuple(dict.fromkeys(unicodedata.normalize("NFC", c) for c in released.characters))
            charset = Charset(symbols, max_length=args.max_length, name="full")
        else:
            charset = Charset.from_spec(args.charset, max_length=args.max_length)
        model, missing, options = build_imported(charset, released)
    except (PretrainedImportError, ValueError, OSError) as exc:
        raise CommandError(str(exc)) from None
    if missing:
        shown = "".join(missing[:40]) + (" …" if len(missing) > 40 else "")
        print(f"sgtr import: warning: the network has no row for {len(missing)} symbol(s) of the charset: {shown!r};"
              " they start untrained (never read until fine-tuned)", file=sys.stderr)
    spec = ModelSpec("ppocr", charset, (HEIGHT, args.width), "small", options, keep_ratio=True,
                     resample=args.resample)
    write_weights(model, spec, args.out, half=args.half, source=released.source)
    print(f"wrote {args.out}: PP-OCRv6-small, charset {charset.name} ({len(charset.symbols)} symbols), input "
          f"{HEIGHT}x{args.width} aspect kept, {args.resample} resize; from {released.source['file']} (rapidocr "
          f"{released.source['package_version']}, sha256 {released.sha256[:12]}…), Apache-2.0")
    return 0
